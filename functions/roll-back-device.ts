import { disassociateFromCore } from './commons/greengrass-operations.ts';
import { deleteThingOnceDetached, detachPrincipal, isCertificateArn, listThingPrincipals, retireIssuedCertificate } from './commons/iot-operations.ts';
import { taskHandler } from './commons/middleware.ts';
import type { ErrorEntry } from './domain/client-device-batches.ts';
import { boundedMessage, isLeftToStateMachineRetry } from './domain/errors.ts';
import type { DeviceOutcome, DeviceRecord, DeviceTaskInput, RollbackReport } from './domain/records.ts';
import { abandonedRollback, failureOf, planRollback, type RollbackPlan, recordOf } from './domain/rollback.ts';
import { toOutcome } from './domain/summary.ts';

type RollbackInput = Omit<DeviceTaskInput, 'templateBody' | 'templateParameters' | 'thingPrincipalType' | 'templateIssuesCertificate'> & {
  /**
   * Absent for a device rolled back after a failed association: its AttachPrincipal already retired the
   * certificates of lost CSR registrations, so only the one it recorded is left to retire.
   */
  templateIssuesCertificate?: boolean;
  /** Set by the state machine once this rollback's retries are spent: record the outcome, try nothing more. */
  rollbackFailure?: DeviceTaskInput['failure'];
};

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
  if (input.rollbackFailure) return toOutcome({ ...failed, rollback: abandonedRollback(input.rollbackFailure) });

  const report: RollbackReport = { detachedPrincipals: [], thingDeleted: false, certificateDeleted: false };
  try {
    await undo(record, planRollback(record, input.templateIssuesCertificate === true), report);
  } catch (error) {
    if (isLeftToStateMachineRetry(error as Error)) throw error;
    const { name, message } = error as Error;
    report.incomplete = { step: 'rollback', code: name, message: boundedMessage(message) };
  }
  return toOutcome({ ...failed, rollback: report });
}

async function undo(record: DeviceRecord, plan: RollbackPlan, report: RollbackReport): Promise<void> {
  if (plan.deleteThing && record.error?.step === 'associate') {
    // A failed association call may still have taken effect: leave no association to a deleted thing. A
    // refusal stops the rollback before the delete, under the entry's code: retried if transient, else
    // reported. An association that is not there is already undone.
    const entries = await disassociateFromCore(record.coreDeviceThingName, [record.thingName]);
    const refused = entries.find((entry) => entry.code !== 'ResourceNotFoundException');
    if (refused) throw new DisassociationRefused(refused);
  }
  const listed = plan.deleteThing ? await listThingPrincipals(record.thingName) : [];
  // No thing: a RegisterThing that failed created none, or the thing this execution registered was deleted since
  // (by an earlier attempt of this rollback whose report was lost, or by another request), which may have left
  // the certificate this execution issued.
  const thingGone = listed === undefined;
  const principals = listed ?? [];
  const issued = plan.retireEveryCertificate ? principals.filter(isCertificateArn) : [];
  const retired = new Set([...(plan.deleteCertificate ? [plan.deleteCertificate] : []), ...issued]);
  const detached: string[] = [];
  // The certificate this execution issued is retired even when an earlier attempt of this rollback already detached it.
  for (const principal of new Set([...principals, ...plan.detachPrincipals, ...retired])) {
    const detachedNow = retired.has(principal) ? await retireIssuedCertificate(record.thingName, principal) : await detachPrincipal(record.thingName, principal);
    if (detachedNow) detached.push(principal);
  }
  report.certificateDeleted = retired.size > 0;
  // The state machine retries this task while a detachment propagates: the attempt that then succeeds
  // finds the principals already detached, by an earlier attempt whose report was lost with its error.
  report.detachedPrincipals = [...new Set([...detached, ...plan.knownAttached])];
  if (plan.deleteThing) {
    if (!thingGone) await deleteThingOnceDetached(record.thingName);
    report.thingDeleted = !thingGone || record.thingArn !== undefined;
  }
}

class DisassociationRefused extends Error {
  constructor({ code, message }: ErrorEntry) {
    super(message ?? 'BatchDisassociateClientDeviceFromCoreDevice refused the device');
    this.name = code ?? 'UnknownError';
  }
}

export const handler = taskHandler('rollback', rollBackDevice);
