import { planClientDeviceBatches } from './domain/client-device-batches.ts';
import type { AssociationState, ClientDeviceBatch } from './domain/records.ts';
import { taskHandler } from './lambda/middleware.ts';

/**
 * Batches the devices that are registered and hold their principal, and replaces the execution state with
 * what the association states need: the template and the devices' parameters are done with.
 */
export async function planAssociations(
  input: Omit<AssociationState<ClientDeviceBatch>, 'associationBatches'>,
): Promise<AssociationState<ClientDeviceBatch>> {
  const { requestId, pacing, rollbackOnFailure, devices } = input;
  return {
    requestId,
    pacing,
    rollbackOnFailure,
    devices,
    associationBatches: planClientDeviceBatches(devices.filter((device) => device.status === 'REGISTERED')),
  };
}

export const handler = taskHandler('plan-associations', planAssociations);
