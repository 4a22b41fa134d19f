import { taskHandler } from './commons/middleware.ts';
import { planClientDeviceBatches } from './domain/client-device-batches.ts';
import type { ClientDeviceBatch, DeviceRecord } from './domain/records.ts';

/** Only devices that are registered and hold their principal are associated. */
export async function planAssociations({ devices }: { devices: DeviceRecord[] }): Promise<ClientDeviceBatch[]> {
  return planClientDeviceBatches(devices.filter((device) => device.status === 'REGISTERED'));
}

export const handler = taskHandler('plan-associations', planAssociations);
