import { describe, expect, it } from 'vitest';
import { fleetRunProgress } from '../../../../functions/domain/fleet-run-status.ts';

const input = JSON.stringify({ action: 'provision', manifest: 's3://b/m.csv' });
const counts = { succeeded: 40, failed: 10, rolledBack: 2, notStarted: 0 };

describe('a fleet run status (GET /fleet-runs/{fleetRunId})', () => {
  it('of a run that was cancelled and has ended: its stop date, the cancel, its batches by status and its rate until it stopped', () => {
    const execution = {
      name: 'run',
      executionArn: 'arn:run',
      status: 'ABORTED',
      startDate: new Date(1_000_000),
      stopDate: new Date(1_010_000),
      input,
    };
    const mapRun = {
      itemCounts: { total: 100 },
      executionCounts: { total: 7, succeeded: 1, failed: 2, timedOut: 3, aborted: 1, running: 0, pending: 0 },
    };

    expect(fleetRunProgress({ execution, mapRun, counts, cancelled: true }, new Date(2_000_000), '')).toEqual({
      fleetRunId: 'run',
      executionArn: 'arn:run',
      executionStatus: 'ABORTED',
      action: 'provision',
      manifest: 's3://b/m.csv',
      startDate: new Date(1_000_000).toISOString(),
      stopDate: new Date(1_010_000).toISOString(),
      cancelled: true,
      devices: { total: 100, done: 50, succeeded: 40, failed: 10, rolledBack: 2, notStarted: 0, pending: 50 },
      batches: { total: 7, done: 7, failed: 2 },
      devicesPerSecond: 5,
    });
  });

  it('of a run whose Map Run has no counts yet: nothing done, no batches, no rate', () => {
    const execution = { name: 'run', executionArn: 'arn:run', status: 'RUNNING', startDate: new Date(0), input };

    const view = fleetRunProgress({ execution, mapRun: {} }, new Date(5_000), '');

    expect(view.devices).toEqual({ total: 0, done: 0, succeeded: 0, failed: 0, rolledBack: 0, notStarted: 0, pending: 0 });
    expect(view.batches).toEqual({ total: 0, done: 0, failed: 0 });
    expect(view).not.toHaveProperty('devicesPerSecond');
    expect(view).not.toHaveProperty('stopDate');
    expect(view).not.toHaveProperty('cancelled');
  });

  it('gives no rate nor ETA at the instant the run started, devices counted or not', () => {
    const execution = { name: 'run', executionArn: 'arn:run', status: 'RUNNING', startDate: new Date(5_000), input };
    const mapRun = { itemCounts: { total: 100 }, executionCounts: { total: 1, succeeded: 1 } };

    const view = fleetRunProgress({ execution, mapRun, counts }, new Date(5_000), '');

    expect(view.devices).toMatchObject({ done: 50 });
    expect(view).not.toHaveProperty('devicesPerSecond');
    expect(view).not.toHaveProperty('etaSeconds');
  });
});
