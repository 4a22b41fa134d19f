import { orchestratedDynamodb } from './aws/clients/orchestrated-dynamodb.ts';
import { releaseLeases } from './aws/device-leases.ts';
import { taskHandler } from './lambda/middleware.ts';

export interface ReleaseDevicesInput {
  /** The owner string the start function leased the devices under (the execution input's `leaseOwner`). */
  leaseOwner: string;
  thingNames: string[];
}

/** The last step of both state machines: the request's devices are free for the next request. */
export async function releaseDevices(input: ReleaseDevicesInput): Promise<{ released: number }> {
  await releaseLeases(orchestratedDynamodb, input.leaseOwner, input.thingNames);
  return { released: input.thingNames.length };
}

export const handler = taskHandler('release', releaseDevices);
