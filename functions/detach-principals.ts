import { detachAllPrincipals } from './aws/iot-operations.ts';
import type { DeviceRecord } from './domain/records.ts';
import { taskHandler } from './lambda/middleware.ts';
import { type DeviceRemovalInput, removalStep } from './tasks/removal-step.ts';

/** Detaches every principal of the thing; a thing that is already gone has none left. */
export function detachPrincipals({ device, options }: DeviceRemovalInput): Promise<DeviceRecord> {
  return removalStep('detach', device, async () => {
    if (options.detachPrincipals) await detachAllPrincipals(device.thingName);
    return device;
  });
}

export const handler = taskHandler('detach', detachPrincipals);
