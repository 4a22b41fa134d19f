import { beforeEach, describe, expect, it, vi } from 'vitest';

// The schema is built afresh for each test: Stryker credits a module's top-level code to the tests that load it,
// so that `npm run mutation` runs a mutant of the query's rules against these tests.
let listQuerySchema: typeof import('../../../../functions/domain/request-listing.ts').listQuerySchema;
let validate: typeof import('../../../../functions/domain/validation.ts').validate;
beforeEach(async () => {
  vi.resetModules();
  ({ listQuerySchema } = await import('../../../../functions/domain/request-listing.ts'));
  ({ validate } = await import('../../../../functions/domain/validation.ts'));
});

const LIMIT_REASON = 'must be a whole number from 1 to 1000';

describe('the query of a request listing', () => {
  it('takes a limit from 1 to 1000 written as a whole number', () => {
    for (const limit of ['1', '50', '1000', '0007']) expect(validate(listQuerySchema, { limit })).toEqual({ ok: true, value: { limit } });
  });

  it.each(['0', '1001', '9999', '12345', '', 'ten', '-1', '1.5', ' 5', '5 '])('refuses the limit %j, naming the range', (limit) => {
    const result = validate(listQuerySchema, { limit });
    expect(result.ok).toBe(false);
    // Text that is no number fails both the pattern and the range, with the same reason.
    expect(new Set(result.ok ? [] : result.errors.map(({ field, reason }) => `${field}: ${reason}`))).toEqual(
      new Set([`limit: ${LIMIT_REASON}`]),
    );
  });

  it('takes an execution status and a page token of 1 to 3096 characters', () => {
    expect(validate(listQuerySchema, { status: 'RUNNING', nextToken: 't'.repeat(3_096) }).ok).toBe(true);
    expect(validate(listQuerySchema, { nextToken: '' }).ok).toBe(false);
    expect(validate(listQuerySchema, { nextToken: 't'.repeat(3_097) }).ok).toBe(false);
    expect(validate(listQuerySchema, { status: 'DONE' })).toMatchObject({ ok: false, errors: [{ field: 'status' }] });
  });

  it('refuses a parameter it does not know', () => {
    expect(validate(listQuerySchema, { page: '2' })).toEqual({ ok: false, errors: [{ field: 'page', reason: 'is not a known field' }] });
  });
});
