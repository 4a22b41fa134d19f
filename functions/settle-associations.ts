import { settleBatches } from './domain/client-device-batches.ts';
import type { AssociationState, DeviceOutcome, DeviceRecord, ProvisioningExecutionInput, SettledBatch } from './domain/records.ts';
import { toOutcome } from './domain/summary.ts';
import { taskHandler } from './lambda/middleware.ts';

export interface SettledProvisioning {
  requestId: string;
  pacing: ProvisioningExecutionInput['pacing'];
  /** Devices whose outcome is final. */
  devices: DeviceOutcome[];
  /** Devices registered by this execution whose association failed: they are rolled back next. */
  rollbacks: DeviceRecord[];
}

/**
 * Merges association outcomes into the device records and replaces the execution state with only
 * what the remaining states need. Each device appears once, in `devices` or in `rollbacks`, and
 * final outcomes lose their working fields: with 200 devices the state stays under 256 KiB.
 */
export async function settleAssociations(input: AssociationState<SettledBatch>): Promise<SettledProvisioning> {
  const settled = settleBatches(input.devices, input.associationBatches, 'associate', 'PROVISIONED');
  const rollsBack = (device: DeviceRecord) => input.rollbackOnFailure && device.status === 'FAILED' && device.error?.step === 'associate';
  return {
    requestId: input.requestId,
    pacing: input.pacing,
    devices: settled.filter((device) => !rollsBack(device)).map(toOutcome),
    rollbacks: settled.filter(rollsBack),
  };
}

export const handler = taskHandler('settle-associations', settleAssociations);
