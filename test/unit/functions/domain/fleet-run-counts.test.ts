import { describe, expect, it } from 'vitest';
import { batchCounts, devicesSoFar, fleetRunCountsKey } from '../../../../functions/domain/fleet-run-counts.ts';
import type { RequestSummary } from '../../../../functions/domain/records.ts';

const rolledBack = { detachedPrincipals: ['arn:cert/c'], thingDeleted: true, certificateDeleted: false };
const summary = (devices: RequestSummary['devices']): RequestSummary => ({
  requestId: 'run-0',
  status: 'PARTIAL',
  counts: { requested: devices.length, succeeded: 0, failed: 0, rolledBack: 0 },
  devices,
});
const device = (
  thingName: string,
  status: RequestSummary['devices'][number]['status'],
  extra: Partial<RequestSummary['devices'][number]> = {},
) => ({ thingName, status, coreDeviceThingName: 'core', ...extra });

describe("a fleet batch's counts", () => {
  it('counts each device of a request by its outcome, rolled back among the failed, and a device the summary leaves out as failed', () => {
    const result = {
      executionArn: 'arn:run-0',
      status: 'SUCCEEDED' as const,
      summary: summary([
        device('d0', 'PROVISIONED'),
        device('d1', 'FAILED', {
          error: { step: 'associate', code: 'ResourceNotFoundException', message: 'no core' },
          rollback: rolledBack,
        }),
        device('d2', 'FAILED', {
          error: { step: 'register', code: 'InvalidRequestException', message: 'bad' },
          rollback: { detachedPrincipals: [], thingDeleted: false, certificateDeleted: false },
        }),
        device('d3', 'NOT_STARTED'),
      ]),
    };
    expect(batchCounts({ action: 'provision', devices: 5 }, { result })).toEqual({ succeeded: 1, failed: 3, rolledBack: 1, notStarted: 1 });
  });

  it('counts DEPROVISIONED as succeeded for a deprovisioning run, and PROVISIONED there as failed', () => {
    const result = {
      executionArn: 'arn:run-0',
      status: 'SUCCEEDED' as const,
      summary: summary([device('d0', 'DEPROVISIONED'), device('d1', 'PROVISIONED')]),
    };
    expect(batchCounts({ action: 'deprovision', devices: 2 }, { result })).toEqual({
      succeeded: 1,
      failed: 1,
      rolledBack: 0,
      notStarted: 0,
    });
  });

  it('fails every device of a failed batch or of a request that ended without a summary, and leaves a batch the cancel stopped not started', () => {
    expect(batchCounts({ action: 'provision', devices: 200 }, { failure: { Error: 'DevicesHeld', Cause: 'held' } })).toEqual({
      succeeded: 0,
      failed: 200,
      rolledBack: 0,
      notStarted: 0,
    });
    expect(batchCounts({ action: 'provision', devices: 7 }, { result: { executionArn: 'arn:run-0', status: 'TIMED_OUT' } })).toEqual({
      succeeded: 0,
      failed: 7,
      rolledBack: 0,
      notStarted: 0,
    });
    expect(batchCounts({ action: 'provision', devices: 50 }, { result: { cancelled: true } })).toEqual({
      succeeded: 0,
      failed: 0,
      rolledBack: 0,
      notStarted: 50,
    });
  });

  it('answers the devices not yet counted as pending', () => {
    expect(devicesSoFar(1_000, { succeeded: 150, failed: 40, rolledBack: 5, notStarted: 10 })).toEqual({
      total: 1_000,
      done: 200,
      succeeded: 150,
      failed: 40,
      rolledBack: 5,
      notStarted: 10,
      pending: 800,
    });
  });
});

describe("a fleet run's counter", () => {
  it('is keyed as counts#<owner>', () => {
    expect(fleetRunCountsKey('fleet/run-1/abababababababab')).toBe('counts#fleet/run-1/abababababababab');
  });
});
