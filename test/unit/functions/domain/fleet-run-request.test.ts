import { describe, expect, it } from 'vitest';
import { fleetRunIntent, validateFleetRunRequest } from '../../../../functions/domain/fleet-run-request.ts';

const BUCKET = 'fleet-bucket';
const validated = (body: unknown) => validateFleetRunRequest(body, BUCKET);
const reasons = (body: unknown) => {
  const result = validated(body);
  return result.ok ? [] : result.errors;
};

describe('a fleet run request (POST /fleet-runs)', () => {
  it("provisions by default, and keeps every other field as the run's request-level options", () => {
    expect(validated({ manifest: `s3://${BUCKET}/fleet.csv` })).toStrictEqual({
      ok: true,
      value: { manifest: `s3://${BUCKET}/fleet.csv`, action: 'provision', options: {} },
    });
    expect(
      validated({
        fleetRunId: 'run_7-b',
        manifest: `s3://${BUCKET}/dir/fleet.JSON`,
        action: 'deprovision',
        coreDeviceThingName: 'core-a',
        deleteThings: false,
      }),
    ).toEqual({
      ok: true,
      value: {
        fleetRunId: 'run_7-b',
        manifest: `s3://${BUCKET}/dir/fleet.JSON`,
        action: 'deprovision',
        options: { coreDeviceThingName: 'core-a', deleteThings: false },
      },
    });
  });

  it.each([[[]], [null], ['s3://fleet-bucket/fleet.csv']])('refuses a body that is no JSON object: %j', (body) => {
    expect(reasons(body)).toEqual([{ field: '(body)', reason: 'must be a JSON object' }]);
  });

  it.each([5, '', 'a'.repeat(73), 'run 7', 'run/7'])('refuses the fleetRunId %j', (fleetRunId) => {
    expect(reasons({ fleetRunId, manifest: `s3://${BUCKET}/fleet.csv` })).toEqual([
      { field: 'fleetRunId', reason: 'must be 1-72 characters of a-z, A-Z, 0-9, underscore or hyphen' },
    ]);
  });

  it('takes a fleetRunId of 72 characters', () => {
    expect(validated({ fleetRunId: 'a'.repeat(72), manifest: `s3://${BUCKET}/fleet.csv` }).ok).toBe(true);
  });

  it.each([
    undefined,
    5,
    [`s3://${BUCKET}/fleet.csv`],
    `see s3://${BUCKET}/fleet.csv`,
    `s3://${BUCKET}/fleet.csv\nx`,
    `https://${BUCKET}/fleet.csv`,
    `s3://${BUCKET}/fleet.txt`,
    `s3://${BUCKET}/`,
    `s3://${BUCKET}/fleet`,
  ])('refuses the manifest %j', (manifest) => {
    expect(reasons({ manifest })).toEqual([{ field: 'manifest', reason: 'must be s3://<bucket>/<key> of a .csv or .json manifest' }]);
  });

  it('refuses a manifest outside the fleet bucket, naming the bucket', () => {
    expect(reasons({ manifest: 's3://another-bucket/fleet.csv' })).toEqual([
      { field: 'manifest', reason: `must be in the fleet bucket ${BUCKET} (POST /fleet-uploads gives an upload URL there)` },
    ]);
  });

  // `in` would also find the names every object inherits.
  it.each(['remove', 5, ['provision'], 'toString', 'constructor'])('refuses the action %j', (action) => {
    expect(reasons({ manifest: `s3://${BUCKET}/fleet.csv`, action })).toEqual([
      { field: 'action', reason: 'must be provision or deprovision' },
    ]);
  });

  it('names every problem at once, the fields the run sets itself among them', () => {
    expect(reasons({ fleetRunId: '', manifest: 5, action: 'remove', requestId: 'r', devices: [] })).toEqual([
      { field: 'fleetRunId', reason: 'must be 1-72 characters of a-z, A-Z, 0-9, underscore or hyphen' },
      { field: 'manifest', reason: 'must be s3://<bucket>/<key> of a .csv or .json manifest' },
      { field: 'action', reason: 'must be provision or deprovision' },
      { field: 'requestId', reason: 'is set by the fleet run and must not be given' },
      { field: 'devices', reason: 'is set by the fleet run and must not be given' },
    ]);
  });

  it('is the same run for the same manifest, action and options, whatever its fleetRunId', () => {
    const request = { manifest: `s3://${BUCKET}/fleet.csv`, action: 'provision' as const, options: { coreDeviceThingName: 'core-a' } };
    expect(fleetRunIntent({ ...request, fleetRunId: 'run-1' })).toEqual(request);
    expect(fleetRunIntent({ ...request, fleetRunId: 'run-1' })).toEqual(fleetRunIntent({ ...request, fleetRunId: 'run-2' }));
  });
});
