import { deleteThingOnceDetached } from './commons/iot-operations.ts';
import { taskHandler } from './commons/middleware.ts';
import type { DeviceRemovalInput } from './detach-principals.ts';
import type { DeviceRecord } from './domain/records.ts';

export async function deleteThing({ device, options }: DeviceRemovalInput): Promise<DeviceRecord> {
  if (options.deleteThings) await deleteThingOnceDetached(device.thingName);
  return { ...device, status: 'DEPROVISIONED' };
}

export const handler = taskHandler('delete', deleteThing);
