import { DONE_STATUS_BY_ACTION } from './fleet-action.ts';
import type { BatchResult, FleetAction } from './fleet-run.ts';
import type { FleetTotals } from './fleet-run-schemas.ts';
import { isRolledBack } from './summary.ts';

/**
 * A fleet run's device counts so far, named as the report's totals name them: each batch adds its own once its
 * request has ended (count-fleet-batch.ts), so `GET /fleet-runs/{fleetRunId}` answers counts that move per batch.
 */
export type FleetDeviceCounts = Pick<FleetTotals, 'succeeded' | 'failed' | 'rolledBack' | 'notStarted'>;

/**
 * A batch as CountFleetBatch is handed it: the run's identity, and the batch's position (its first item's, which
 * names its request) and size, from the iteration's input (provision-fleet.asl.yaml).
 */
export interface CountedBatch {
  fleetRunId: string;
  action: FleetAction;
  requestDigest: string;
  position: number;
  devices: number;
}

/** How the batch ended: its result (as the Map records it), or the error its iteration fails with. */
export type BatchEnd = { result: BatchResult } | { failure: { Error: string; Cause?: string } };

/**
 * The batch's devices by outcome, as buildFleetReport reads the same end (fleet-run.ts): a failed iteration fails
 * every device, a batch the cancel stopped before its request leaves every device not started, and a request's
 * summary gives each device's outcome; a device it does not report (or a request that ended without a summary)
 * counts as failed, so the four counts always add up to the batch's size.
 */
export function batchCounts(batch: Pick<CountedBatch, 'action' | 'devices'>, end: BatchEnd): FleetDeviceCounts {
  const none = { succeeded: 0, failed: 0, rolledBack: 0, notStarted: 0 };
  if ('failure' in end) return { ...none, failed: batch.devices };
  if ('cancelled' in end.result) return { ...none, notStarted: batch.devices };
  // Stryker disable next-line ArrayDeclaration: equivalent: an outcome with no status is neither done, not started nor rolled back
  const outcomes = end.result.summary?.devices ?? [];
  const doneStatus = DONE_STATUS_BY_ACTION[batch.action];
  const succeeded = outcomes.filter((outcome) => outcome.status === doneStatus).length;
  const notStarted = outcomes.filter((outcome) => outcome.status === 'NOT_STARTED').length;
  return { succeeded, failed: batch.devices - succeeded - notStarted, rolledBack: outcomes.filter(isRolledBack).length, notStarted };
}

/** The counter's key in the leases table, beside the run's cancel marker (device-leases.ts cancelMarkerKey): `#` is in no thing name. */
export function fleetRunCountsKey(owner: string): string {
  return `counts#${owner}`;
}

/** What `GET /fleet-runs/{fleetRunId}` answers of the counts: a device not yet in them is pending. */
export function devicesSoFar(total: number, { succeeded, failed, rolledBack, notStarted }: FleetDeviceCounts) {
  const done = succeeded + failed + notStarted;
  return { total, done, succeeded, failed, rolledBack, notStarted, pending: Math.max(0, total - done) };
}
