import { boundedMessage, messageFromCause } from './errors.ts';
import type { DeviceRecord, DeviceSpec, DeviceTaskInput, RollbackReport, StepError } from './records.ts';

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

export function recordOf(spec: DeviceSpec, device: DeviceRecord | undefined): DeviceRecord {
  return device ?? { thingName: spec.thingName, coreDeviceThingName: spec.coreDeviceThingName, status: 'PENDING', ...(spec.principal && { principal: spec.principal }) };
}

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
    return { deleteThing: true, detachPrincipals: [], knownAttached, ...issued, ...(templateIssuesCertificate && { retireEveryCertificate: true }) };
  }
  // A certificate this execution issued cannot have been attached before; a device's own one may have.
  const attachedByUs = certificate ?? (prior.principalAttached ? undefined : device.principal);
  const detachPrincipals = attachedByUs ? [attachedByUs] : [];
  const knownAttached = detachPrincipals.filter((principal) => principal === device.certificateArn);
  return { deleteThing: false, detachPrincipals, knownAttached, ...issued };
}

/**
 * The report of a rollback the state machine gave up on once its retries were spent: what it undid is
 * unknown, so it claims nothing; the outcome's thingArn and certificateArn say what may remain.
 */
export function abandonedRollback(failure: NonNullable<DeviceTaskInput['failure']>): RollbackReport {
  const cause = messageFromCause(failure.Cause);
  return {
    detachedPrincipals: [],
    thingDeleted: false,
    certificateDeleted: false,
    incomplete: {
      step: 'rollback',
      code: failure.Error,
      message: boundedMessage(`the rollback gave up after its retries${cause ? `: ${cause}` : ''}`),
    },
  };
}
