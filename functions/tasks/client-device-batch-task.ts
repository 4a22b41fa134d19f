import { orchestratedDynamodb } from '../aws/clients/orchestrated-dynamodb.ts';
import { isCancelled } from '../aws/device-leases.ts';
import {
  applyBatchResponse,
  CLIENT_DEVICE_REDRIVE,
  type ErrorEntry,
  failBatch,
  outcomesOnceFinished,
} from '../domain/client-device-batches.ts';
import { isLeftToStateMachineRetry } from '../domain/errors.ts';
import type { ClientDeviceBatch, Correlation, SettledBatch } from '../domain/records.ts';
import { taskHandler } from '../lambda/middleware.ts';

export interface ClientDeviceBatchInput {
  batch: ClientDeviceBatch;
  correlation: Correlation;
  /** The owner string of the request's leases, which names its cancel marker. */
  leaseOwner?: string;
  /** Only read the cancel marker, before the batch's first call: no device of the batch is sent. */
  checkCancellation?: boolean;
}

type SendBatch = (coreDeviceThingName: string, thingNames: string[]) => Promise<ErrorEntry[]>;

/**
 * One call of a Batch*ClientDevice… API for the batch's pending devices. Per-entry errors are folded into
 * the batch, and the state machine re-drives what is still pending after a Wait. A call-level error that
 * the state machine retries (throttling) propagates to its Retry; any other (an unknown core device) fails
 * the batch's devices here, with a bounded message: a Catch would keep the whole Lambda error, stack
 * trace included, and 200 of those would not fit the 256 KiB state.
 */
export function clientDeviceBatchTask(step: 'associate' | 'disassociate', send: SendBatch) {
  return taskHandler(
    step,
    async ({ batch, leaseOwner, checkCancellation }: ClientDeviceBatchInput): Promise<ClientDeviceBatch | SettledBatch> => {
      if (checkCancellation) {
        const cancelled = leaseOwner !== undefined && (await isCancelled(orchestratedDynamodb, leaseOwner));
        return cancelled ? { done: [], failed: [], notStarted: batch.pending } : batch;
      }
      let errorEntries: ErrorEntry[];
      try {
        errorEntries = await send(batch.coreDeviceThingName, batch.pending);
      } catch (error) {
        if (isLeftToStateMachineRetry(error as Error)) throw error;
        const { name, message } = error as Error;
        return outcomesOnceFinished(failBatch(batch, name, message));
      }
      return outcomesOnceFinished(applyBatchResponse(batch, errorEntries, CLIENT_DEVICE_REDRIVE, Math.random));
    },
  );
}
