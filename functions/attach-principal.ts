import { AttachThingPrincipalCommand } from '@aws-sdk/client-iot';
import { iot } from './commons/clients/iot.ts';
import { taskHandler } from './commons/middleware.ts';
import type { DeviceRecord, DeviceTaskInput } from './domain/records.ts';

export class NoPrincipalError extends Error {
  override name = 'NoPrincipal';
}

/**
 * Attaches the device's own certificate, else the one its template created. Attaching a pair that is
 * already attached succeeds, so a retry converges.
 */
export async function attachPrincipal(input: DeviceTaskInput & { device: DeviceRecord }): Promise<DeviceRecord> {
  const { device } = input;
  const principal = input.spec.principal ?? device.certificateArn;
  if (!principal) throw new NoPrincipalError(`no principal for ${device.thingName}: give one or use a template that creates a certificate`);
  await iot.send(
    new AttachThingPrincipalCommand({ thingName: device.thingName, principal, thingPrincipalType: input.thingPrincipalType }),
  );
  return { ...device, principal, status: 'REGISTERED' };
}

export const handler = taskHandler('attach', attachPrincipal);
