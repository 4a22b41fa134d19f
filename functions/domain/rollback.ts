import { boundedMessage, messageFromCause } from './errors.ts';
import type { DeviceOutcome, DeviceRecord, DeviceTaskInput, RollbackReport, StepError, ThingPrincipalType } from './records.ts';
import { failedStep } from './summary.ts';

/** The error a failed device reports: the Catch's, or the one an earlier step already recorded. */
export function failureOf(input: Pick<DeviceTaskInput, 'device' | 'failure'>): StepError {
  if (input.failure) {
    return { step: failedStep(input.device), code: input.failure.Error, message: messageFromCause(input.failure.Cause) };
  }
  return input.device?.error ?? { step: 'associate', code: 'Unknown', message: 'failed without an error' };
}

export interface RollbackPlan {
  /** Detach every principal of the thing and delete it: this execution created the thing. */
  deleteThing: boolean;
  /** Principals this execution attached (or may have) to a thing that already existed. */
  detachPrincipals: string[];
  /**
   * Principals this execution is known to have attached: once they are detached the report names
   * them, even when an earlier attempt of the rollback detached them and a retried error lost its report.
   */
  knownAttached: string[];
  /** A certificate that this execution's RegisterThing issued. */
  deleteCertificate?: string;
  /**
   * The thing is this execution's and its template issues a certificate per RegisterThing call: every
   * certificate on it was issued by one of this execution's attempts, including any whose answer was lost.
   */
  retireEveryCertificate?: true;
  /** The device's principal was attached before with another type, which AttachPrincipal converted: convert it back. */
  restoreAttachment?: { principal: string; thingPrincipalType: ThingPrincipalType };
}

/**
 * Only what this execution created is undone. Without the record of what the thing looked like
 * before (inspection failed), nothing is touched: inspection runs before anything is created.
 * `certificateArn` is recorded only once a certificate is attached (by the template, or by
 * AttachPrincipal), so it is the one principal known to be attached.
 */
export function planRollback(device: DeviceRecord, templateIssuesCertificate: boolean): RollbackPlan {
  const prior = device.prior;
  if (!prior) return { deleteThing: false, detachPrincipals: [], knownAttached: [] };
  const certificate = device.certificateCreated ? device.certificateArn : undefined;
  const issued = certificate ? { deleteCertificate: certificate } : {};
  if (!prior.thingExisted) {
    const knownAttached = device.certificateArn ? [device.certificateArn] : [];
    return {
      deleteThing: true,
      detachPrincipals: [],
      knownAttached,
      ...issued,
      ...(templateIssuesCertificate && { retireEveryCertificate: true }),
    };
  }
  // A certificate this execution issued cannot have been attached before; a device's own one may have.
  const attachedByUs = certificate ?? (prior.principalAttached ? undefined : device.principal);
  const detachPrincipals = attachedByUs ? [attachedByUs] : [];
  const knownAttached = detachPrincipals.filter((principal) => principal === device.certificateArn);
  const { principal } = device;
  const restoreAttachment =
    prior.principalAttached && prior.principalType && principal ? { principal, thingPrincipalType: prior.principalType } : undefined;
  return { deleteThing: false, detachPrincipals, knownAttached, ...issued, ...(restoreAttachment && { restoreAttachment }) };
}

/**
 * One removal call of a rollback. The state machine keeps the calls still to make in the execution's state,
 * so that a call that fails is retried on its own: the calls before it are not made again.
 */
export type RollbackCall =
  | { call: 'disassociate' }
  | { call: 'listPrincipals' }
  | { call: 'deactivateCertificate'; principal: string }
  | { call: 'detach'; principal: string }
  | { call: 'deleteCertificate'; principal: string }
  | { call: 'deleteThing' }
  | { call: 'restoreAttachment'; principal: string; thingPrincipalType: ThingPrincipalType };

/** A rollback between two invocations: the outcome so far, and the calls still to make (none once it is over). */
export interface RollbackProgress {
  outcome: DeviceOutcome;
  pending: RollbackCall[];
}

export function isCertificateArn(principal: string): boolean {
  return principal.includes(':cert/');
}

/**
 * A certificate this execution issued is made INACTIVE while still attached (so that it cannot connect, whatever
 * happens next), then detached, then deleted; any other principal is only detached.
 */
function removalCalls(principals: string[], retired: ReadonlySet<string>): RollbackCall[] {
  return [...new Set([...principals, ...retired])].flatMap((principal): RollbackCall[] =>
    retired.has(principal)
      ? [
          { call: 'deactivateCertificate', principal },
          { call: 'detach', principal },
          { call: 'deleteCertificate', principal },
        ]
      : [{ call: 'detach', principal }],
  );
}

const issuedCertificate = (plan: RollbackPlan): Set<string> => new Set(plan.deleteCertificate ? [plan.deleteCertificate] : []);

/**
 * The calls a rollback starts with. A thing this execution created has its principals listed first: the
 * listing adds the calls that remove them (`callsAfterListing`).
 */
export function firstRollbackCalls(device: DeviceRecord, plan: RollbackPlan): RollbackCall[] {
  if (!plan.deleteThing) {
    const restore: RollbackCall[] = plan.restoreAttachment ? [{ call: 'restoreAttachment', ...plan.restoreAttachment }] : [];
    return [...removalCalls(plan.detachPrincipals, issuedCertificate(plan)), ...restore];
  }
  // A failed association call may still have taken effect: leave no association to a deleted thing.
  const disassociate: RollbackCall[] = device.error?.step === 'associate' ? [{ call: 'disassociate' }] : [];
  return [...disassociate, { call: 'listPrincipals' }];
}

/**
 * What follows the listing of a thing this execution created: every principal on it is removed, then the thing
 * deleted. `undefined` (no thing) needs no delete: RegisterThing created none, or the thing was deleted since,
 * which may have left the certificate this execution issued; that one is retired in any case.
 */
export function callsAfterListing(plan: RollbackPlan, listed: string[] | undefined): RollbackCall[] {
  const principals = listed ?? [];
  const issuedByLostAttempts = plan.retireEveryCertificate ? principals.filter(isCertificateArn) : [];
  const retired = new Set([...issuedCertificate(plan), ...issuedByLostAttempts]);
  return [...removalCalls([...principals, ...plan.detachPrincipals], retired), ...(listed ? [{ call: 'deleteThing' } as const] : [])];
}

/** Calls that can still detach a principal: until none is left, the report cannot yet name the principals known attached. */
export function detachesPending(pending: readonly RollbackCall[]): boolean {
  return pending.some(({ call }) => call === 'disassociate' || call === 'listPrincipals' || call === 'detach');
}

/**
 * The report of a rollback the state machine gave up on once the retries of one of its calls were spent: it
 * claims only what the calls before that one undid (`undone`, kept in the execution's state); the outcome's
 * thingArn and certificateArn say what may remain.
 */
export function abandonedRollback(failure: NonNullable<DeviceTaskInput['failure']>, undone?: RollbackReport): RollbackReport {
  const cause = messageFromCause(failure.Cause);
  return {
    detachedPrincipals: undone?.detachedPrincipals ?? [],
    thingDeleted: undone?.thingDeleted ?? false,
    certificateDeleted: undone?.certificateDeleted ?? false,
    incomplete: {
      step: 'rollback',
      code: failure.Error,
      message: boundedMessage(`the rollback gave up after its retries${cause ? `: ${cause}` : ''}`),
    },
  };
}
