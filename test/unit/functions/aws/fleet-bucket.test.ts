import { afterEach, describe, expect, it } from 'vitest';
import { fleetBucket } from '../../../../functions/aws/fleet-bucket.ts';

describe('the fleet bucket', () => {
  const configured = process.env.FLEET_BUCKET;
  afterEach(() => {
    if (configured === undefined) delete process.env.FLEET_BUCKET;
    else process.env.FLEET_BUCKET = configured;
  });

  it('is the one FLEET_BUCKET names', () => {
    process.env.FLEET_BUCKET = 'fleet-bucket-123';
    expect(fleetBucket()).toBe('fleet-bucket-123');
  });

  it('names the missing setting when FLEET_BUCKET is unset or empty', () => {
    for (const value of [undefined, '']) {
      if (value === undefined) delete process.env.FLEET_BUCKET;
      else process.env.FLEET_BUCKET = value;
      expect(() => fleetBucket()).toThrow('FLEET_BUCKET is not set: the function is misconfigured');
    }
  });
});
