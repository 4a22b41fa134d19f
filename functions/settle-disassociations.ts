import { settleBatches } from './domain/client-device-batches.ts';
import type { DeprovisioningExecutionInput } from './domain/execution-input.ts';
import type { SettledBatch } from './domain/records.ts';
import { taskHandler } from './lambda/middleware.ts';

/**
 * A device whose disassociation failed keeps its thing and principals: deleting a thing that a core
 * device still lists would leave a dangling association.
 */
export async function settleDisassociations(
  input: Omit<DeprovisioningExecutionInput, 'batches'> & { batches: SettledBatch[] },
): Promise<Omit<DeprovisioningExecutionInput, 'batches'>> {
  return {
    requestId: input.requestId,
    options: input.options,
    devices: settleBatches(input.devices, input.batches, 'disassociate', 'PENDING'),
  };
}

export const handler = taskHandler('settle-disassociations', settleDisassociations);
