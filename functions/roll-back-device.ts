import { disassociateFromCore } from './aws/greengrass-operations.ts';
import {
  deactivateCertificate,
  deleteCertificate,
  deleteThingOnceDetached,
  detachPrincipal,
  listThingPrincipals,
  restoreAttachmentType,
} from './aws/iot-operations.ts';
import type { ErrorEntry } from './domain/client-device-batches.ts';
import { boundedMessage, isLeftToStateMachineRetry } from './domain/errors.ts';
import { type DeviceRecord, type DeviceTaskInput, type RollbackReport, recordOf } from './domain/records.ts';
import {
  abandonedRollback,
  callsAfterListing,
  detachesPending,
  failureOf,
  firstRollbackCalls,
  planRollback,
  type RollbackCall,
  type RollbackPlan,
  type RollbackProgress,
} from './domain/rollback.ts';
import { toOutcome } from './domain/summary.ts';
import { taskHandler } from './lambda/middleware.ts';

type RollbackInput = Omit<DeviceTaskInput, 'templateBody' | 'templateParameters' | 'thingPrincipalType' | 'templateIssuesCertificate'> & {
  /**
   * Absent for a device rolled back after a failed association: its AttachPrincipal already retired the
   * certificates of lost CSR registrations, so only the one it recorded is left to retire.
   */
  templateIssuesCertificate?: boolean;
  /** What the previous invocation of this rollback left (ResultPath `$.rollback`); absent on the first. */
  rollback?: RollbackProgress;
  /** Set by the state machine once the retries of a call are spent: record the outcome, try nothing more. */
  rollbackFailure?: DeviceTaskInput['failure'];
};

/**
 * Records the device as failed and, under rollbackOnFailure, undoes what this execution created for it,
 * one removal call after another. The calls still to make stay in the execution's state, and the state
 * machine invokes this task again while any remain: a transient failure of one call is retried (by the
 * task's Retry) from that call on, never from the start. Only the first call of an invocation throws a
 * transient error; a later one ends the invocation with the progress made, and the next invocation makes
 * that call first. Any other error ends the rollback with what it did so far and what stopped it,
 * recorded in the outcome rather than thrown, so that one device's rollback never aborts the run.
 */
export async function rollBackDevice(input: RollbackInput): Promise<RollbackProgress> {
  const record = recordOf(input.spec, input.device);
  const failed: DeviceRecord = { ...record, status: 'FAILED', error: failureOf(input) };
  const finished = (rollback?: RollbackReport): RollbackProgress => ({
    outcome: toOutcome({ ...failed, ...(rollback && { rollback }) }),
    pending: [],
  });
  if (!input.rollbackOnFailure) return finished();
  if (input.rollbackFailure) return finished(abandonedRollback(input.rollbackFailure, input.rollback?.outcome.rollback));

  const plan = planRollback(record, input.templateIssuesCertificate === true);
  const report: RollbackReport = input.rollback?.outcome.rollback ?? {
    detachedPrincipals: [],
    thingDeleted: false,
    certificateDeleted: false,
  };
  let pending = input.rollback?.pending ?? firstRollbackCalls(record, plan);
  let stopped = false;
  for (let made = 0; pending.length > 0 && !stopped; made++) {
    const [next, ...rest] = pending as [RollbackCall, ...RollbackCall[]];
    try {
      pending = [...(await make(next, record, plan, report)), ...rest];
      // The calls a listing adds are saved in the state before any of them is made: a Lambda retry of an
      // invocation that did run replays its input, and a replayed listing would no longer show a certificate
      // the invocation had detached, so its delete would be lost.
      if (next.call === 'listPrincipals') stopped = true;
    } catch (error) {
      if (isLeftToStateMachineRetry(error as Error) && made === 0) throw error;
      if (!isLeftToStateMachineRetry(error as Error)) {
        const { name, message } = error as Error;
        report.incomplete = { step: 'rollback', code: name, message: boundedMessage(message) };
      }
      stopped = true;
    }
  }
  // A principal this execution is known to have attached has been detached once no call that detaches is left,
  // even when the detach that did it lost its answer (and a retried one then found it detached).
  if (!detachesPending(pending)) report.detachedPrincipals = [...new Set([...report.detachedPrincipals, ...plan.knownAttached])];
  return { outcome: toOutcome({ ...failed, rollback: report }), pending: report.incomplete ? [] : pending };
}

/** Makes one removal call, records what it undid in the report, and answers the calls it adds. */
async function make(next: RollbackCall, record: DeviceRecord, plan: RollbackPlan, report: RollbackReport): Promise<RollbackCall[]> {
  const { thingName } = record;
  switch (next.call) {
    case 'disassociate': {
      // A refusal stops the rollback before the delete, under the entry's code: retried if transient, else
      // reported. An association that is not there is already undone.
      const entries = await disassociateFromCore(record.coreDeviceThingName, [thingName]);
      const refused = entries.find((entry) => entry.code !== 'ResourceNotFoundException');
      if (refused) throw new DisassociationRefused(refused);
      return [];
    }
    case 'listPrincipals': {
      // No thing left: RegisterThing created none, or something else deleted it (a delete of this rollback's own is
      // its deleteThing call, retried until answered), so the rollback claims no delete.
      return callsAfterListing(plan, await listThingPrincipals(thingName));
    }
    case 'deactivateCertificate':
      await deactivateCertificate(next.principal);
      return [];
    case 'detach':
      if (await detachPrincipal(thingName, next.principal))
        report.detachedPrincipals = [...new Set([...report.detachedPrincipals, next.principal])];
      return [];
    case 'deleteCertificate':
      // Refused while the detachment propagates: CertificateStillAttached, retried by the state machine, which
      // keeps this call in the state (once detached, the certificate is no longer among the thing's principals).
      await deleteCertificate(next.principal);
      report.certificateDeleted = true;
      return [];
    case 'deleteThing':
      await deleteThingOnceDetached(thingName);
      report.thingDeleted = true;
      return [];
    case 'restoreAttachment':
      await restoreAttachmentType(thingName, next.principal, next.thingPrincipalType);
      return [];
  }
}

class DisassociationRefused extends Error {
  constructor({ code, message }: ErrorEntry) {
    super(message ?? 'BatchDisassociateClientDeviceFromCoreDevice refused the device');
    this.name = code ?? 'UnknownError';
  }
}

export const handler = taskHandler('rollback', rollBackDevice);
