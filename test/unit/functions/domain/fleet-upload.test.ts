import { beforeEach, describe, expect, it, vi } from 'vitest';

// Loaded afresh for each test: Stryker credits a module's top-level code (the schema, its reasons, the defaults)
// to the tests that load it, so that `npm run mutation` runs a mutant of them against these tests.
let fleetUpload: typeof import('../../../../functions/domain/fleet-upload.ts');
let validate: typeof import('../../../../functions/domain/validation.ts').validate;
beforeEach(async () => {
  vi.resetModules();
  fleetUpload = await import('../../../../functions/domain/fleet-upload.ts');
  ({ validate } = await import('../../../../functions/domain/validation.ts'));
});

const FILE_NAME_REASON = 'must be 1-100 characters of a-z, A-Z, 0-9, dot, underscore or hyphen, ending in .csv or .json';

describe('a manifest upload (POST /fleet-uploads)', () => {
  it('goes under uploads/<its id>/, as manifest.csv and text/csv unless told otherwise', () => {
    const { plannedUpload } = fleetUpload;
    expect(plannedUpload({}, 'u1')).toEqual({ key: 'uploads/u1/manifest.csv', contentType: 'text/csv' });
    expect(plannedUpload({ fileName: 'fleet.JSON' }, 'u1')).toEqual({ key: 'uploads/u1/fleet.JSON', contentType: 'application/json' });
    expect(plannedUpload({ fileName: 'fleet.csv', contentType: 'text/plain' }, 'u1')).toEqual({
      key: 'uploads/u1/fleet.csv',
      contentType: 'text/plain',
    });
  });

  it('takes only a file name with a manifest format', () => {
    const { fleetUploadRequestSchema } = fleetUpload;
    expect(validate(fleetUploadRequestSchema, { fileName: 'fleet.json' }).ok).toBe(true);
    expect(validate(fleetUploadRequestSchema, { fileName: 'fleet.txt' })).toEqual({
      ok: false,
      errors: [{ field: 'fileName', reason: FILE_NAME_REASON }],
    });
  });

  it('takes a media type of at most 200 characters as the Content-Type, and no other field', () => {
    const { fleetUploadRequestSchema } = fleetUpload;
    expect(validate(fleetUploadRequestSchema, { contentType: 'text/csv; charset=utf-8' }).ok).toBe(true);
    expect(validate(fleetUploadRequestSchema, { contentType: 'csv' })).toEqual({
      ok: false,
      errors: [{ field: 'contentType', reason: 'must be a media type such as text/csv or application/json' }],
    });
    expect(validate(fleetUploadRequestSchema, { contentType: `text/${'x'.repeat(196)}` })).toEqual({
      ok: false,
      errors: [{ field: 'contentType', reason: 'must be at most 200 characters' }],
    });
    expect(validate(fleetUploadRequestSchema, { colour: 'red' })).toEqual({
      ok: false,
      errors: [{ field: 'colour', reason: 'is not a known field' }],
    });
  });
});
