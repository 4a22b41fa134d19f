import { orchestratedDynamodb } from './aws/clients/orchestrated-dynamodb.ts';
import { countBatchOnce } from './aws/fleet-run-counts.ts';
import { fleetRunOwner } from './domain/fleet-run.ts';
import { type BatchEnd, batchCounts, type CountedBatch } from './domain/fleet-run-counts.ts';
import { taskHandler } from './lambda/middleware.ts';
import { logger } from './lambda/powertools.ts';

/**
 * Adds a batch's devices, by outcome, to its run's counts once the batch has ended, whether its request ran, the
 * cancel stopped it first, or it failed: `GET /fleet-runs/{fleetRunId}` reads them while the run goes.
 */
export async function countFleetBatch(event: { batch: CountedBatch } & BatchEnd): Promise<void> {
  const { batch } = event;
  const counts = batchCounts(batch, event);
  const counted = await countBatchOnce(orchestratedDynamodb, fleetRunOwner(batch.fleetRunId, batch.requestDigest), batch.position, counts);
  if (!counted)
    logger.info('the batch was counted before: a retry counts nothing again', { fleetRunId: batch.fleetRunId, position: batch.position });
}

export const handler = taskHandler('count-batch', countFleetBatch);
