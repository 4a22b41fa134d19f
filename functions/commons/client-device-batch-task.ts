import { applyBatchResponse, CLIENT_DEVICE_REDRIVE, type ErrorEntry } from '../domain/client-device-batches.ts';
import type { ClientDeviceBatch, Correlation } from '../domain/records.ts';
import { taskHandler } from './middleware.ts';

export interface ClientDeviceBatchInput {
  batch: ClientDeviceBatch;
  correlation: Correlation;
}

type SendBatch = (coreDeviceThingName: string, thingNames: string[]) => Promise<ErrorEntry[] | undefined>;

/**
 * One call of a Batch*ClientDevice… API for the batch's pending devices. Call-level errors (throttling,
 * an unknown core device to associate with) propagate to the state machine's Retry and Catch;
 * per-entry errors are folded into the batch, and the state machine re-drives what is still pending
 * after a Wait.
 */
export function clientDeviceBatchTask(step: 'associate' | 'disassociate', send: SendBatch) {
  return taskHandler(step, async ({ batch }: ClientDeviceBatchInput): Promise<ClientDeviceBatch> => {
    const errorEntries = await send(batch.coreDeviceThingName, batch.pending);
    return applyBatchResponse(batch, errorEntries ?? [], CLIENT_DEVICE_REDRIVE, Math.random);
  });
}
