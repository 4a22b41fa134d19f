import { detachAllPrincipals } from './commons/iot-operations.ts';
import { taskHandler } from './commons/middleware.ts';
import type { DeprovisioningExecutionInput } from './domain/execution-input.ts';
import type { Correlation, DeviceRecord } from './domain/records.ts';

export interface DeviceRemovalInput {
  device: DeviceRecord;
  options: DeprovisioningExecutionInput['options'];
  correlation: Correlation;
}

/** Detaches every principal of the thing; a thing that is already gone has none left. */
export async function detachPrincipals({ device, options }: DeviceRemovalInput): Promise<DeviceRecord> {
  if (!options.detachPrincipals) return device;
  await detachAllPrincipals(device.thingName);
  return device;
}

export const handler = taskHandler('detach', detachPrincipals);
