import { messageFromCause } from './errors.ts';
import type { DeviceRecord, DeviceSpec, DeviceTaskInput, StepError } from './records.ts';

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
  /** Principals this execution attached to a thing that already existed. */
  detachPrincipals: string[];
  /** A certificate that this execution's RegisterThing issued. */
  deleteCertificate?: string;
}

/**
 * Only what this execution created is undone. Without the record of what the thing looked like
 * before (inspection failed), nothing is touched: inspection runs before anything is created.
 */
export function planRollback(device: DeviceRecord): RollbackPlan {
  const prior = device.prior;
  if (!prior) return { deleteThing: false, detachPrincipals: [] };
  const certificate = device.certificateCreated ? device.certificateArn : undefined;
  if (!prior.thingExisted) {
    return { deleteThing: true, detachPrincipals: [], ...(certificate && { deleteCertificate: certificate }) };
  }
  // A certificate this execution issued cannot have been attached before; a device's own one may have.
  const attachedByUs = certificate ?? (prior.principalAttached ? undefined : device.principal);
  return { deleteThing: false, detachPrincipals: attachedByUs ? [attachedByUs] : [], ...(certificate && { deleteCertificate: certificate }) };
}
