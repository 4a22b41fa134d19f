import { setTimeout } from 'node:timers/promises';
import { DescribeExecutionCommand, type DescribeExecutionCommandOutput, ListExecutionsCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type * as z from 'zod/mini';
import type { requestStatusSchema } from '../domain/request-status.ts';
import { isTransientError, isUnnamedTransientFailure } from '../domain/errors.ts';
import { logger } from './powertools.ts';
import { sfn } from './clients/sfn.ts';

export type StartOutcome =
  | { kind: 'started'; executionArn: string; startDate: Date | undefined }
  | { kind: 'conflict'; executionArn: string };

function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/**
 * StartExecution said the execution exists, yet DescribeExecution (eventually consistent on AWS) does
 * not show it yet: the client should send the same request again shortly.
 */
export class ExecutionNotYetVisibleError extends Error {
  override name = 'ExecutionNotYetVisible';
}

/** Under a second in all: an API answer should not wait longer for the execution to show. */
const VISIBILITY_WAITS_MS = [100, 200, 400];

/**
 * The execution name is the request id, so Step Functions itself deduplicates. StartExecution returns
 * the running execution for the same name and input, and ExecutionAlreadyExists otherwise — also for a
 * finished execution of the same request (the same digest), which is therefore not a conflict.
 */
export async function startExecutionOnce(stateMachineArn: string, name: string, input: unknown, digest: string): Promise<StartOutcome> {
  const serializedInput = JSON.stringify(input);
  try {
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: serializedInput }));
    return { kind: 'started', executionArn: started.executionArn as string, startDate: started.startDate };
  } catch (error) {
    if ((error as Error).name !== 'ExecutionAlreadyExists') throw error;
  }
  const executionArn = executionArnOf(stateMachineArn, name);
  const existing = await describeExistingExecution(executionArn);
  return digestOf(existing.input) === digest
    ? { kind: 'started', executionArn, startDate: existing.startDate }
    : { kind: 'conflict', executionArn };
}

/** A concurrent duplicate request may have started the execution a moment ago: wait for it to show. */
async function describeExistingExecution(executionArn: string): Promise<DescribeExecutionCommandOutput> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await sfn.send(new DescribeExecutionCommand({ executionArn }));
    } catch (error) {
      if ((error as Error).name !== 'ExecutionDoesNotExist') throw error;
      const waitMs = VISIBILITY_WAITS_MS[attempt];
      if (waitMs === undefined) throw new ExecutionNotYetVisibleError(`execution ${executionArn} exists but Step Functions does not show it yet`);
      await setTimeout(waitMs);
    }
  }
}

function digestOf(serializedInput: string | undefined): unknown {
  try {
    return (JSON.parse(serializedInput ?? '{}') as { requestDigest?: unknown }).requestDigest;
  } catch {
    return undefined;
  }
}

export type RequestStatusView = z.infer<typeof requestStatusSchema>;

export async function describeRequest(stateMachineArn: string, requestId: string): Promise<RequestStatusView | undefined> {
  const executionArn = executionArnOf(stateMachineArn, requestId);
  try {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return {
      requestId,
      executionArn,
      // DescribeExecution always answers a status; the SDK types every output member as optional.
      status: execution.status as RequestStatusView['status'],
      ...(execution.startDate && { startDate: execution.startDate.toISOString() }),
      ...(execution.stopDate && { stopDate: execution.stopDate.toISOString() }),
      ...(execution.output && { summary: JSON.parse(execution.output) }),
      ...(execution.error && { error: { code: execution.error, message: execution.cause } }),
    };
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
}

/**
 * How many executions of the state machine are running (up to 100: past that the pacing is at its
 * floor anyway). Pacing is an optimisation, so if Step Functions is throttling or unavailable, the request
 * still starts; any other error (a role without states:ListExecutions) is a deployment's fault, and shows.
 */
export async function runningExecutions(stateMachineArn: string): Promise<number> {
  try {
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: 100 }));
    return page.executions?.length ?? 0;
  } catch (error) {
    if (!isTransientError((error as Error).name) && !isUnnamedTransientFailure(error as Error)) throw error;
    logger.warn('could not count running executions; pacing as if none were running', { errorName: (error as Error).name });
    return 0;
  }
}
