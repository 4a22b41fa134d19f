import { DescribeThingCommand } from '@aws-sdk/client-iot';
import { iot } from './commons/clients/iot.ts';
import { listThingPrincipals } from './commons/iot-operations.ts';
import { taskHandler } from './commons/middleware.ts';
import type { DeviceRecord, DeviceTaskInput, PriorState } from './domain/records.ts';
import { recordOf } from './domain/rollback.ts';

/**
 * Records what the thing looked like before this execution touched it, in the execution's own state,
 * so that a rollback (even after a crashed and retried RegisterThing) removes only what this
 * execution created, and so that AttachPrincipal retires the certificates that lost CSR registrations
 * issued to a thing this execution created. When neither can happen, no call is made.
 */
export async function inspectThing(input: DeviceTaskInput): Promise<DeviceRecord> {
  const record = recordOf(input.spec, undefined);
  if (!input.rollbackOnFailure && !input.templateIssuesCertificate) return record;
  return { ...record, prior: await priorState(input.spec.thingName, input.spec.principal) };
}

/** Lists principals (a 10/s API) only for a thing that already exists and a principal the device brings. */
async function priorState(thingName: string, principal: string | undefined): Promise<PriorState> {
  try {
    await iot.send(new DescribeThingCommand({ thingName }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return { thingExisted: false, principalAttached: false };
    throw error;
  }
  const principals = principal ? ((await listThingPrincipals(thingName)) ?? []) : [];
  return { thingExisted: true, principalAttached: principal !== undefined && principals.includes(principal) };
}

export const handler = taskHandler('inspect', inspectThing);
