import type { DeviceOutcome, DeviceRecord, RequestStatus, RequestSummary, RollbackReport, StepError } from './records.ts';

/**
 * Which step a device failed at, read from how far its record got: each task writes the record,
 * so a missing record means inspection failed, a record without a thing ARN means registration did.
 */
export function failedStep(device: DeviceRecord | undefined): StepError['step'] {
  if (!device) return 'inspect';
  if (!device.thingArn) return 'register';
  if (device.status !== 'REGISTERED') return 'attach';
  return 'associate';
}

const FINAL_STATUSES = new Set(['PROVISIONED', 'DEPROVISIONED', 'FAILED', 'NOT_STARTED']);

/**
 * One outcome per device: a record still in flight at the end (which the state machine should never
 * produce) is reported as failed rather than dropped, so nothing is ever lost silently.
 */
export function toOutcome(record: DeviceRecord): DeviceOutcome {
  const finished = FINAL_STATUSES.has(record.status);
  return {
    thingName: record.thingName,
    status: finished ? (record.status as DeviceOutcome['status']) : 'FAILED',
    coreDeviceThingName: record.coreDeviceThingName,
    ...(record.thingArn && { thingArn: record.thingArn }),
    ...(record.certificateArn && { certificateArn: record.certificateArn }),
    ...(record.error && { error: record.error }),
    ...(!finished &&
      !record.error && { error: { step: failedStep(record), code: 'IncompleteWorkflow', message: `ended in status ${record.status}` } }),
    ...(record.rollback && { rollback: record.rollback }),
  };
}

/** A device whose rollback undid something (deleted its thing or detached a principal): counts.rolledBack, and a fleet run's. */
export function isRolledBack(outcome: { rollback?: RollbackReport }): boolean {
  return outcome.rollback !== undefined && (outcome.rollback.thingDeleted || outcome.rollback.detachedPrincipals.length > 0);
}

/**
 * CANCELLED as soon as a cancel left one device not started, whatever became of the others: the request did not
 * do all it was asked, and its counts say how far it got. `notStarted` is counted only then, so that the counts of
 * a request no cancel reached read as they always have.
 */
export function summarize(requestId: string, devices: DeviceRecord[]): RequestSummary {
  const outcomes = devices.map(toOutcome);
  const failed = outcomes.filter((outcome) => outcome.status === 'FAILED').length;
  const notStarted = outcomes.filter((outcome) => outcome.status === 'NOT_STARTED').length;
  const succeeded = outcomes.length - failed - notStarted;
  const status: RequestStatus = notStarted > 0 ? 'CANCELLED' : failed === 0 ? 'SUCCEEDED' : succeeded === 0 ? 'FAILED' : 'PARTIAL';
  return {
    requestId,
    status,
    counts: {
      requested: outcomes.length,
      succeeded,
      failed,
      rolledBack: outcomes.filter(isRolledBack).length,
      ...(notStarted > 0 && { notStarted }),
    },
    devices: outcomes,
  };
}
