import { deleteThingOnceDetached } from './aws/iot-operations.ts';
import type { DeviceRecord } from './domain/records.ts';
import { taskHandler } from './lambda/middleware.ts';
import { type DeviceRemovalInput, removalStep } from './tasks/removal-step.ts';

export function deleteThing({ device, options }: DeviceRemovalInput): Promise<DeviceRecord> {
  return removalStep('delete', device, async () => {
    if (options.deleteThings) await deleteThingOnceDetached(device.thingName);
    return { ...device, status: 'DEPROVISIONED' };
  });
}

export const handler = taskHandler('delete', deleteThing);
