import { taskHandler } from './commons/middleware.ts';
import { settleBatches } from './domain/client-device-batches.ts';
import type { ClientDeviceBatch, DeviceRecord, ProvisioningExecutionInput } from './domain/records.ts';

type SettleInput = Pick<ProvisioningExecutionInput, 'requestId' | 'pacing' | 'rollbackOnFailure'> & {
  devices: DeviceRecord[];
  associationBatches: ClientDeviceBatch[];
};

export interface SettledProvisioning {
  requestId: string;
  pacing: ProvisioningExecutionInput['pacing'];
  devices: DeviceRecord[];
  /** Devices registered by this execution whose association failed: they are rolled back next. */
  rollbacks: DeviceRecord[];
}

/**
 * Merges association outcomes into the device records and replaces the execution state with only
 * what the remaining states need, which keeps it far from the 256 KiB payload limit.
 */
export async function settleAssociations(input: SettleInput): Promise<SettledProvisioning> {
  const devices = settleBatches(input.devices, input.associationBatches, 'associate', 'PROVISIONED');
  const rollbacks = input.rollbackOnFailure
    ? devices.filter((device) => device.status === 'FAILED' && device.error?.step === 'associate')
    : [];
  return { requestId: input.requestId, pacing: input.pacing, devices, rollbacks };
}

export const handler = taskHandler('settle-associations', settleAssociations);
