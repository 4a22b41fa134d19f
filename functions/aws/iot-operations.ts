import { setTimeout } from 'node:timers/promises';
import {
  AttachThingPrincipalCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DetachThingPrincipalCommand,
  paginateListThingPrincipals,
  paginateListThingPrincipalsV2,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { CertificateStillAttachedError, isLeftToStateMachineRetry, ThingStillHasPrincipalsError } from '../domain/errors.ts';
import type { ThingPrincipalType } from '../domain/records.ts';
import { isCertificateArn } from '../domain/rollback.ts';
import { iot } from './clients/iot.ts';

/** Compensation and removal must converge when repeated: a resource that is already gone is success. */
function isGone(error: unknown): boolean {
  return (error as Error).name === 'ResourceNotFoundException';
}

/** The thing's principals, or `undefined` when the thing does not exist. */
export async function listThingPrincipals(thingName: string): Promise<string[] | undefined> {
  const principals: string[] = [];
  try {
    for await (const page of paginateListThingPrincipals({ client: iot, pageSize: 250 }, { thingName })) {
      principals.push(...(page.principals ?? []));
    }
  } catch (error) {
    if (isGone(error)) return undefined;
    throw error;
  }
  return principals;
}

/** The thing's principals with the type of each attachment, or `undefined` when the thing does not exist. */
export async function listThingPrincipalTypes(thingName: string): Promise<Map<string, ThingPrincipalType> | undefined> {
  const principals = new Map<string, ThingPrincipalType>();
  try {
    for await (const page of paginateListThingPrincipalsV2({ client: iot, pageSize: 250 }, { thingName })) {
      // Stryker disable next-line ArrayDeclaration: equivalent: an element that is not an object has no principal, and is skipped below
      for (const { principal, thingPrincipalType } of page.thingPrincipalObjects ?? []) {
        // The attachment type defaults to NON_EXCLUSIVE_THING (the API's own default).
        if (principal) principals.set(principal, thingPrincipalType ?? 'NON_EXCLUSIVE_THING');
      }
    }
  } catch (error) {
    if (isGone(error)) return undefined;
    throw error;
  }
  return principals;
}

/**
 * Gives an attachment that existed before this execution its type back: attaching an attached pair with
 * another type converts it. Only while it is attached with the type this execution set: one someone detached
 * since, or converted back, is left as it is. A thing or certificate that is gone leaves nothing to convert.
 * A detachment still propagating shows as attached (IoT detaches asynchronously), and the attach would cancel
 * it: that race is not closed (docs/workflow.md, Known limitations).
 */
export async function restoreAttachmentType(thingName: string, principal: string, thingPrincipalType: ThingPrincipalType): Promise<void> {
  const current = (await listThingPrincipalTypes(thingName))?.get(principal);
  if (current === undefined || current === thingPrincipalType) return;
  try {
    await iot.send(new AttachThingPrincipalCommand({ thingName, principal, thingPrincipalType }));
  } catch (error) {
    if (!isGone(error)) throw error;
  }
}

/** Detaches the principal; false when it was not attached (or the thing is gone). */
export async function detachPrincipal(thingName: string, principal: string): Promise<boolean> {
  try {
    await iot.send(new DetachThingPrincipalCommand({ thingName, principal }));
    return true;
  } catch (error) {
    if (isGone(error)) return false;
    throw error;
  }
}

export async function detachAllPrincipals(thingName: string): Promise<void> {
  for (const principal of (await listThingPrincipals(thingName)) ?? []) await detachPrincipal(thingName, principal);
}

/**
 * DeleteThing refuses a thing that still has principals, and DetachThingPrincipal propagates
 * asynchronously: that refusal right after a detach is rethrown under a name the state machine
 * retries with backoff. Deleting a thing that does not exist succeeds (as IoT does).
 */
export async function deleteThingOnceDetached(thingName: string): Promise<void> {
  try {
    await iot.send(new DeleteThingCommand({ thingName }));
  } catch (error) {
    const { name, message } = error as Error;
    if (name === 'InvalidRequestException' && /still attached/i.test(message)) {
      throw new ThingStillHasPrincipalsError(`thing ${thingName} still has principals attached: ${message}`);
    }
    throw error;
  }
}

/**
 * A call on one certificate. One that is already gone counts as done; a refusal because a detachment is
 * still propagating is rethrown under a name the state machine retries.
 */
async function onCertificate(certificateArn: string, call: (certificateId: string) => Promise<unknown>): Promise<void> {
  const certificateId = certificateArn.slice(certificateArn.lastIndexOf('/') + 1);
  try {
    await call(certificateId);
  } catch (error) {
    if (isGone(error)) return;
    const { name, message } = error as Error;
    if (name === 'DeleteConflictException' || name === 'CertificateStateException') {
      throw new CertificateStillAttachedError(`certificate ${certificateId} cannot be removed yet: ${message}`);
    }
    throw error;
  }
}

/**
 * An INACTIVE certificate cannot be used to connect, attached or not. IoT refuses the change only for a
 * certificate that is REVOKED or being transferred, which cannot connect either: that counts as done.
 */
export function deactivateCertificate(certificateArn: string): Promise<void> {
  return onCertificate(certificateArn, async (certificateId) => {
    try {
      await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
    } catch (error) {
      if ((error as Error).name !== 'CertificateStateException') throw error;
    }
  });
}

/** IoT deletes only an inactive certificate that no thing holds; `forceDelete` lets it go with its policies still attached. */
export function deleteCertificate(certificateArn: string): Promise<void> {
  return onCertificate(certificateArn, (certificateId) => iot.send(new DeleteCertificateCommand({ certificateId, forceDelete: true })));
}

/** Waits between DeleteCertificate attempts, in milliseconds: about four seconds in all. */
const DETACHED_CERTIFICATE_DELETE_WAITS_MS = [250, 500, 1_000, 2_000];

/**
 * Deletes a certificate this invocation has just detached. DetachThingPrincipal propagates asynchronously,
 * so IoT may still refuse the delete for a few seconds; unlike every other wait, this one cannot be left
 * to the state machine's Retry: once detached, the certificate is no longer among the thing's principals,
 * and a retried invocation would not find it again. What still fails after the waits goes to the Retry.
 */
async function deleteDetachedCertificate(certificateArn: string): Promise<void> {
  for (const waitMs of [...DETACHED_CERTIFICATE_DELETE_WAITS_MS, undefined]) {
    try {
      return await deleteCertificate(certificateArn);
    } catch (error) {
      if (waitMs === undefined || !isLeftToStateMachineRetry(error as Error)) throw error;
      await setTimeout(waitMs);
    }
  }
}

/**
 * Removes a certificate this execution issued from the thing, and deletes it. It is made INACTIVE while
 * still attached, so that a retry after any failure, which finds the certificates by listing the thing's
 * principals, finds again every one that could still connect.
 */
async function retireIssuedCertificate(thingName: string, certificateArn: string): Promise<void> {
  await deactivateCertificate(certificateArn);
  await detachPrincipal(thingName, certificateArn);
  await deleteDetachedCertificate(certificateArn);
}

/**
 * Retires every certificate on the thing but `keep`. Only for a thing this execution created with a
 * template that issues a certificate per call: any other certificate on it was issued by an earlier
 * RegisterThing whose response was lost before the state machine retried it.
 */
export async function retireCertificatesOfLostAttempts(thingName: string, keep: string): Promise<string[]> {
  // Stryker disable next-line ArrayDeclaration: equivalent: a string that is not a certificate ARN is filtered out
  const strays = ((await listThingPrincipals(thingName)) ?? []).filter((principal) => principal !== keep && isCertificateArn(principal));
  for (const certificateArn of strays) await retireIssuedCertificate(thingName, certificateArn);
  return strays;
}
