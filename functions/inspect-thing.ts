import { DescribeThingCommand } from '@aws-sdk/client-iot';
import { iot } from './aws/clients/iot.ts';
import { orchestratedDynamodb } from './aws/clients/orchestrated-dynamodb.ts';
import { isCancelled } from './aws/device-leases.ts';
import { listThingPrincipalTypes } from './aws/iot-operations.ts';
import { RequestCancelledError } from './domain/errors.ts';
import { type DeviceRecord, type DeviceTaskInput, type PriorState, recordOf, type ThingPrincipalType } from './domain/records.ts';
import { taskHandler } from './lambda/middleware.ts';

/**
 * Records what the thing looked like before this execution touched it, in the execution's own state,
 * so that a rollback (even after a crashed and retried RegisterThing) removes only what this
 * execution created, and so that AttachPrincipal retires the certificates that lost CSR registrations
 * issued to a thing this execution created. When neither can happen, no IoT call is made.
 *
 * First of all it reads the request's cancel marker (one DynamoDB GetItem): a device of a cancelled request
 * is left untouched and reported NOT_STARTED. Being the first step, it may read it again on a retry: until it
 * returns, nothing has been done to the device.
 */
export async function inspectThing(input: DeviceTaskInput): Promise<DeviceRecord> {
  if (input.leaseOwner !== undefined && (await isCancelled(orchestratedDynamodb, input.leaseOwner))) {
    throw new RequestCancelledError(`the request was cancelled before ${input.spec.thingName} started`);
  }
  const record = recordOf(input.spec, undefined);
  if (!input.rollbackOnFailure && !input.templateIssuesCertificate) return record;
  return { ...record, prior: await priorState(input.spec.thingName, input.spec.principal, input.thingPrincipalType) };
}

/**
 * Lists principals (a 10/s API) only for a thing that already exists and a principal the device brings. The
 * type of an attachment that existed is kept only when the request asks for the other one: AttachPrincipal
 * converts it, and a rollback must convert it back.
 */
async function priorState(thingName: string, principal: string | undefined, requested: ThingPrincipalType): Promise<PriorState> {
  try {
    await iot.send(new DescribeThingCommand({ thingName }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return { thingExisted: false, principalAttached: false };
    throw error;
  }
  const attached = principal === undefined ? undefined : (await listThingPrincipalTypes(thingName))?.get(principal);
  return {
    thingExisted: true,
    principalAttached: attached !== undefined,
    ...(attached && attached !== requested && { principalType: attached }),
  };
}

export const handler = taskHandler('inspect', inspectThing);
