import { deleteThingOnceDetached, detachAllPrincipals, detachPrincipal, retireCertificate } from './commons/iot-operations.ts';
import { taskHandler } from './commons/middleware.ts';
import { metrics } from './commons/powertools.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DeviceRecord, DeviceTaskInput, RollbackReport } from './domain/records.ts';
import { failureOf, planRollback, recordOf } from './domain/rollback.ts';

/**
 * Records the device as failed and, under rollbackOnFailure, undoes what this execution created for
 * it. Every action converges when repeated, so the state machine may retry this task freely; only
 * transient errors escape (to be retried), and its Catch keeps a failed rollback from aborting the run.
 */
export async function rollBackDevice(input: Omit<DeviceTaskInput, 'templateBody' | 'templateParameters' | 'thingPrincipalType'>): Promise<DeviceRecord> {
  const record = recordOf(input.spec, input.device);
  const failed: DeviceRecord = { ...record, status: 'FAILED', error: failureOf(input) };
  if (!input.rollbackOnFailure) return failed;

  const plan = planRollback(record);
  const report: RollbackReport = { detachedPrincipals: [], thingDeleted: false, certificateDeleted: false };
  if (plan.deleteThing) {
    report.detachedPrincipals = await detachAllPrincipals(record.thingName);
    await deleteThingOnceDetached(record.thingName);
    report.thingDeleted = true;
  }
  for (const principal of plan.detachPrincipals) {
    if (await detachPrincipal(record.thingName, principal)) report.detachedPrincipals.push(principal);
  }
  if (plan.deleteCertificate) {
    await retireCertificate(plan.deleteCertificate);
    report.certificateDeleted = true;
  }
  if (report.thingDeleted || report.detachedPrincipals.length > 0) metrics.addMetric('DevicesRolledBack', MetricUnit.Count, 1);
  return { ...failed, rollback: report };
}

export const handler = taskHandler('rollback', rollBackDevice);
