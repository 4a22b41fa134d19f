import { randomUUID } from 'node:crypto';
import { DescribeMapRunCommand, type DescribeMapRunCommandOutput, ListMapRunsCommand } from '@aws-sdk/client-sfn';
import { fleetRunKeys } from '../domain/fleet-run.ts';
import { fleetRunIntent, validateFleetRunRequest } from '../domain/fleet-run-request.ts';
import { type FleetRunProgress, fleetRunProgress } from '../domain/fleet-run-status.ts';
import { requestDigest } from '../domain/request-digest.ts';
import { resolveRequestId } from '../domain/request-id.ts';
import type { FieldError } from '../domain/validation.ts';
import { sfn } from './clients/sfn.ts';
import { findExecution, type StartOutcome, startExecutionOnce } from './executions.ts';
import { fleetBucket } from './fleet-bucket.ts';
import { logger } from './powertools.ts';

function fleetStateMachineArn(): string {
  const arn = process.env.PROVISION_FLEET_STATE_MACHINE_ARN;
  if (!arn) throw new Error('PROVISION_FLEET_STATE_MACHINE_ARN is not set: the function is misconfigured');
  return arn;
}

export type FleetSubmitOutcome = { kind: 'invalid'; errors: FieldError[] } | (StartOutcome & { fleetRunId: string });

/**
 * Starts a fleet run, once per fleetRunId (the execution's name), as submitRequest starts a request: the same id with
 * the same manifest, action and options reaches the same run, with anything else it is a conflict. The run itself
 * validates the manifest before it touches any device.
 */
export async function submitFleetRun(body: unknown, idempotencyKey?: string): Promise<FleetSubmitOutcome> {
  const request = validateFleetRunRequest(body, fleetBucket());
  const fleetRunId = resolveRequestId(request.ok ? request.value.fleetRunId : undefined, idempotencyKey, randomUUID);
  if (!request.ok || !fleetRunId.ok) return { kind: 'invalid', errors: [...(request.ok ? [] : request.errors), ...(fleetRunId.ok ? [] : fleetRunId.errors)] };
  logger.appendKeys({ fleetRunId: fleetRunId.value });
  const digest = requestDigest(fleetRunIntent(request.value));
  const { manifest, action, options } = request.value;
  const input = { fleetRunId: fleetRunId.value, action, manifest, options, requestDigest: digest };
  return { ...(await startExecutionOnce(fleetStateMachineArn(), fleetRunId.value, input, digest)), fleetRunId: fleetRunId.value };
}

/** `GET /fleet-runs/{fleetRunId}`: the run's execution, its Map Run's counts so far and, once it has ended, its report. */
export async function fleetRunStatus(fleetRunId: string): Promise<FleetRunProgress | undefined> {
  const execution = await findExecution(fleetStateMachineArn(), fleetRunId);
  if (!execution) return undefined;
  const { mapRuns } = await sfn.send(new ListMapRunsCommand({ executionArn: execution.executionArn }));
  // Newest first: a retried Map (its reader or writer failed) starts a new Map Run.
  const mapRunArn = mapRuns?.[0]?.mapRunArn;
  const mapRun: DescribeMapRunCommandOutput | undefined = mapRunArn ? await sfn.send(new DescribeMapRunCommand({ mapRunArn })) : undefined;
  return fleetRunProgress(execution, mapRun, new Date(), `s3://${fleetBucket()}/${fleetRunKeys(fleetRunId).problems}`);
}
