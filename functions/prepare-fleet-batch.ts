import type { DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { prepareRequest, requestKinds } from './api/requests.ts';
import { orchestratedDynamodb } from './aws/clients/orchestrated-dynamodb.ts';
import { isCancelled, releaseLeases } from './aws/device-leases.ts';
import { heldDevicesMessage } from './domain/device-leases.ts';
import { requestBody } from './domain/fleet-manifest.ts';
import type { FinalExecutionStatus } from './domain/fleet-outcomes.ts';
import { type BatchResult, batchRequestId, type FleetBatch, fleetRunOwner } from './domain/fleet-run.ts';
import type { RequestSummary } from './domain/records.ts';
import { taskHandler } from './lambda/middleware.ts';

/** Either what the batch's `startExecution.sync:2` starts, or the batch's request that has already ended. */
export type PreparedBatch = { start: { StateMachineArn: string; Name: string; Input: unknown } } | { finished: BatchResult };

/** The batch's request cannot run: the batch fails with this name, and the report fails its devices at `submit` with it. */
class BatchRefusedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * Turns a batch of the fleet's Map into one request, through the same path as `POST /provisioning-requests`
 * (requests.ts prepareRequest): validated, its devices leased to it, its input paced by the executions running.
 * The request id is the run's and the batch's first item, so a retried batch finds its request again: still
 * running, it is started again with the input it was started with (StartExecution then answers that execution);
 * ended, its result is answered without starting anything. Once the run is cancelled (its marker), a batch whose
 * request has not started leases nothing and starts nothing: its devices are reported NOT_STARTED.
 */
export async function prepareFleetBatch(batch: FleetBatch): Promise<PreparedBatch> {
  const { fleetRunId, action, options, requestDigest } = batch.BatchInput;
  const runCancelled = () => isCancelled(orchestratedDynamodb, fleetRunOwner(fleetRunId, requestDigest));
  const notStarted: PreparedBatch = { finished: { cancelled: true } };
  if (await runCancelled()) return notStarted;
  const requestId = batchRequestId(fleetRunId, batch.Items[0]?.position ?? 0);
  const prepared = await prepareRequest(
    requestKinds[action],
    requestBody(
      requestId,
      options,
      batch.Items.map(({ planned }) => planned.device),
    ),
  );
  // Read again once the devices are leased: a cancel finds only requests already started to cancel, so this leaves it
  // missing a batch only between this read and the start, not for the whole of the preparation.
  if (prepared.kind === 'ready' && (await runCancelled())) {
    await releaseLeases(orchestratedDynamodb, prepared.input.leaseOwner, prepared.thingNames);
    return notStarted;
  }
  switch (prepared.kind) {
    case 'invalid':
      throw new BatchRefusedError('InvalidRequest', prepared.errors.map(({ field, reason }) => `${field} ${reason}`).join('; '));
    case 'held':
      throw new BatchRefusedError('DevicesHeld', heldDevicesMessage(prepared.heldDevices));
    case 'existing':
      return existingBatch(prepared.execution, prepared.digest);
    case 'ready':
      return { start: { StateMachineArn: prepared.stateMachineArn, Name: prepared.requestId, Input: prepared.input } };
  }
}

function existingBatch(execution: DescribeExecutionCommandOutput, digest: string): PreparedBatch {
  const input = JSON.parse(execution.input ?? '{}') as { requestDigest?: string };
  if (input.requestDigest !== digest) {
    throw new BatchRefusedError(
      'Conflict',
      `execution ${execution.name} exists for other devices or options; start the fleet under a new fleetRunId`,
    );
  }
  if (execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE') {
    return { start: { StateMachineArn: execution.stateMachineArn as string, Name: execution.name as string, Input: input } };
  }
  return {
    finished: {
      executionArn: execution.executionArn as string,
      status: execution.status as FinalExecutionStatus,
      ...(execution.output && { summary: JSON.parse(execution.output) as RequestSummary }),
    },
  };
}

export const handler = taskHandler('prepare-batch', prepareFleetBatch);
