import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod/mini';

// Loaded afresh for each test: Stryker credits the module's top-level code (the names of JSON types) to the tests
// that load it, so that `npm run mutation` runs a mutant of it here.
let validate: typeof import('../../../../functions/domain/validation.ts').validate;
let parsedJson: typeof import('../../../../functions/domain/validation.ts').parsedJson;
let MAX_NESTING_DEPTH: number;
beforeEach(async () => {
  vi.resetModules();
  ({ validate, parsedJson, MAX_NESTING_DEPTH } = await import('../../../../functions/domain/validation.ts'));
});

const reasons = (schema: z.ZodMiniType, input: unknown) => {
  const result = validate(schema, input);
  return result.ok ? [] : result.errors;
};

describe('validation reasons', () => {
  it('name the JSON type a field must have', () => {
    const schema = z.strictObject({
      flag: z.boolean(),
      object: z.strictObject({}),
      record: z.record(z.string(), z.string()),
      list: z.array(z.string()),
      text: z.string(),
    });
    expect(reasons(schema, { flag: 1, object: 1, record: 1, list: 1, text: 1 })).toEqual([
      { field: 'flag', reason: 'must be true or false' },
      { field: 'object', reason: 'must be an object' },
      { field: 'record', reason: 'must be an object' },
      { field: 'list', reason: 'must be an array' },
      { field: 'text', reason: 'must be a string' },
    ]);
    expect(reasons(schema, {})[0]).toEqual({ field: 'flag', reason: 'is required' });
  });

  it('list the values a field may take', () => {
    expect(reasons(z.strictObject({ mode: z.enum(['a', 'b', 'c']) }), { mode: 'd' })).toEqual([
      { field: 'mode', reason: 'must be a, b or c' },
    ]);
    expect(reasons(z.strictObject({ mode: z.enum(['a', 'b']) }), { mode: 'd' })).toEqual([{ field: 'mode', reason: 'must be a or b' }]);
    expect(reasons(z.strictObject({ mode: z.literal('a') }), { mode: 'd' })).toEqual([{ field: 'mode', reason: 'must be a' }]);
  });

  it('say what is wrong with a key name', () => {
    const schema = z.record(z.string().check(z.maxLength(3, 'must be at most 3 characters')), z.string());
    expect(reasons(schema, { long: 'x' })).toEqual([{ field: 'long', reason: 'its name must be at most 3 characters' }]);
  });

  it('take a body nested to the limit, and refuse one nested deeper', () => {
    const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : [nested(depth - 1)]);
    expect(validate(z.unknown(), nested(MAX_NESTING_DEPTH)).ok).toBe(true);
    expect(reasons(z.unknown(), nested(MAX_NESTING_DEPTH + 1))).toEqual([
      { field: '(body)', reason: `nests objects and arrays more than ${MAX_NESTING_DEPTH} levels deep, which no request does` },
    ]);
  });
});

describe('parsedJson', () => {
  it("answers a JSON text's value, null for no text, and undefined for a text that is not JSON", () => {
    expect(parsedJson('{"leaseOwner":"provision/r-1/abc"}')).toEqual({ leaseOwner: 'provision/r-1/abc' });
    expect(parsedJson('null')).toBeNull();
    expect(parsedJson(undefined)).toBeNull();
    expect(parsedJson('{not json')).toBeUndefined();
  });
});
