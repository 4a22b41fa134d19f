import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { BatchDisassociateClientDeviceFromCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import { greengrass } from './commons/clients/greengrass.ts';
import { deleteThingOnceDetached, detachAllPrincipals, detachPrincipal, retireCertificate } from './commons/iot-operations.ts';
import { taskHandler } from './commons/middleware.ts';
import { metrics } from './commons/powertools.ts';
import { boundedMessage, isRetriedByStateMachine } from './domain/errors.ts';
import type { DeviceOutcome, DeviceRecord, DeviceTaskInput, RollbackReport } from './domain/records.ts';
import { failureOf, planRollback, type RollbackPlan, recordOf } from './domain/rollback.ts';
import { toOutcome } from './domain/summary.ts';

type RollbackInput = Omit<DeviceTaskInput, 'templateBody' | 'templateParameters' | 'thingPrincipalType'>;

/**
 * Records the device as failed and, under rollbackOnFailure, undoes what this execution created for
 * it. Every action converges when repeated, so the state machine retries this task on transient
 * errors; any other error ends the rollback with what it did so far and what stopped it, recorded in
 * the outcome rather than thrown, so that one device's rollback never aborts the run.
 */
export async function rollBackDevice(input: RollbackInput): Promise<DeviceOutcome> {
  const record = recordOf(input.spec, input.device);
  const failed: DeviceRecord = { ...record, status: 'FAILED', error: failureOf(input) };
  if (!input.rollbackOnFailure) return toOutcome(failed);

  const report: RollbackReport = { detachedPrincipals: [], thingDeleted: false, certificateDeleted: false };
  try {
    await undo(record, planRollback(record), report);
  } catch (error) {
    const { name, message } = error as Error;
    if (isRetriedByStateMachine(name)) throw error;
    report.incomplete = { step: 'rollback', code: name, message: boundedMessage(message) };
  }
  if (report.thingDeleted || report.detachedPrincipals.length > 0) metrics.addMetric('DevicesRolledBack', MetricUnit.Count, 1);
  return toOutcome({ ...failed, rollback: report });
}

async function undo(record: DeviceRecord, plan: RollbackPlan, report: RollbackReport): Promise<void> {
  if (plan.deleteThing && record.error?.step === 'associate') {
    // A failed association call may still have taken effect: leave no association to a deleted thing.
    await greengrass.send(
      new BatchDisassociateClientDeviceFromCoreDeviceCommand({ coreDeviceThingName: record.coreDeviceThingName, entries: [{ thingName: record.thingName }] }),
    ).catch((error: Error) => {
      if (error.name !== 'ResourceNotFoundException') throw error;
    });
  }
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
}

export const handler = taskHandler('rollback', rollBackDevice);
