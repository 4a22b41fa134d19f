import { describe, expect, it } from 'vitest';
import { fleetUploadRequestSchema, plannedUpload } from '../../../../functions/domain/fleet-upload.ts';
import { validate } from '../../../../functions/domain/validation.ts';

const FILE_NAME_REASON = 'must be 1-100 characters of a-z, A-Z, 0-9, dot, underscore or hyphen, ending in .csv or .json';

describe('a manifest upload (POST /fleet-uploads)', () => {
  it('goes under uploads/<its id>/, as manifest.csv and text/csv unless told otherwise', () => {
    expect(plannedUpload({}, 'u1')).toEqual({ key: 'uploads/u1/manifest.csv', contentType: 'text/csv' });
    expect(plannedUpload({ fileName: 'fleet.JSON' }, 'u1')).toEqual({ key: 'uploads/u1/fleet.JSON', contentType: 'application/json' });
    expect(plannedUpload({ fileName: 'fleet.csv', contentType: 'text/plain' }, 'u1')).toEqual({
      key: 'uploads/u1/fleet.csv',
      contentType: 'text/plain',
    });
  });

  it('takes only a file name with a manifest format', () => {
    expect(validate(fleetUploadRequestSchema, { fileName: 'fleet.json' }).ok).toBe(true);
    expect(validate(fleetUploadRequestSchema, { fileName: 'fleet.txt' })).toEqual({
      ok: false,
      errors: [{ field: 'fileName', reason: FILE_NAME_REASON }],
    });
  });
});
