import type * as z from 'zod/mini';
import type { unsettledDevicesSchema } from './request-status.ts';
import { isRecord, parsedJson } from './validation.ts';

export type UnsettledDevices = z.infer<typeof unsettledDevicesSchema>;

/** Each device's name, core device and principal, as execution-input.ts put them into either workflow's input. */
function devicesOf(input: Record<string, unknown>): UnsettledDevices['devices'] {
  // Stryker disable next-line ArrayDeclaration: equivalent: anything but a record with a thingName is left out below
  const devices = Array.isArray(input.devices) ? input.devices.filter(isRecord) : [];
  return devices
    .filter((device) => typeof device.thingName === 'string')
    .map((device) => ({
      thingName: device.thingName as string,
      coreDeviceThingName: typeof device.coreDeviceThingName === 'string' ? device.coreDeviceThingName : '',
      ...(typeof device.principal === 'string' && { principal: device.principal }),
      status: 'UNKNOWN' as const,
    }));
}

/**
 * An execution that ended without output was ended by something no Catch handles (States.DataLimitExceeded, a
 * timeout, StopExecution): no rollback ran and no summary says what became of each device. Its input still
 * names them, so the status can tell the client which devices to look after and how: a new execution of the
 * same request converges (each step is idempotent), whereas the same requestId would only find this one again.
 */
export function unsettledDevicesOf(status: string, serializedInput: string | undefined): UnsettledDevices | undefined {
  if (status === 'RUNNING' || status === 'SUCCEEDED') return undefined;
  const input = parsedJson(serializedInput);
  if (!isRecord(input)) return undefined;
  const provisioning = typeof input.templateBody === 'string';
  const undone = provisioning
    ? 'its thing may have been registered, its certificate attached or its association made, wholly or in part, and the failure itself rolled nothing back'
    : 'it may have been disassociated, its principals detached or its thing deleted, wholly or in part';
  const remedy = provisioning
    ? 'send the same request again under a new requestId, which converges on each device provisioned or reports why not, or remove the devices with a deprovisioning request'
    : 'send the same request again under a new requestId: removing what is already gone succeeds, so it converges';
  return {
    message: `The execution ended ${status} before it could report its devices, so what became of each is unknown: ${undone}. To settle them, ${remedy}.`,
    devices: devicesOf(input),
  };
}
