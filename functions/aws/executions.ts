import { setTimeout } from 'node:timers/promises';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type ExecutionStatus as ExecutionStatusFilter,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type * as z from 'zod/mini';
import { isTransientError, isUnnamedTransientFailure, messageFromCause } from '../domain/errors.ts';
import type { requestStatusSchema } from '../domain/request-status.ts';
import { unsettledDevicesOf } from '../domain/unsettled-devices.ts';
import { isRecord, parsedJson } from '../domain/validation.ts';
import { logger } from '../lambda/powertools.ts';
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
  return sameRequest(await describeExistingExecution(executionArnOf(stateMachineArn, name)), digest);
}

/** The execution of this name, when there is one. */
export async function findExecution(stateMachineArn: string, name: string): Promise<DescribeExecutionCommandOutput | undefined> {
  try {
    return await sfn.send(new DescribeExecutionCommand({ executionArn: executionArnOf(stateMachineArn, name) }));
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
}

/** Whether an existing execution was started for the request with this digest, or for another one under the same name. */
export function sameRequest(execution: DescribeExecutionCommandOutput, digest: string): StartOutcome {
  const executionArn = execution.executionArn as string;
  return digestOf(execution.input) === digest
    ? { kind: 'started', executionArn, startDate: execution.startDate }
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
      if (waitMs === undefined)
        throw new ExecutionNotYetVisibleError(`execution ${executionArn} exists but Step Functions does not show it yet`);
      await setTimeout(waitMs);
    }
  }
}

function digestOf(serializedInput: string | undefined): unknown {
  const input = parsedJson(serializedInput);
  return isRecord(input) ? input.requestDigest : undefined;
}

/** One page of a state machine's executions, newest first (as ListExecutions answers them). */
export interface ExecutionPage {
  executions: { name: string; executionArn: string; status: string; startDate: Date; stopDate?: Date }[];
  nextToken?: string;
}

export async function listExecutionsPage(
  stateMachineArn: string,
  page: { status?: string; limit: number; nextToken?: string },
): Promise<ExecutionPage> {
  const answer = await sfn.send(
    new ListExecutionsCommand({
      stateMachineArn,
      maxResults: page.limit,
      ...(page.status && { statusFilter: page.status as ExecutionStatusFilter }),
      ...(page.nextToken && { nextToken: page.nextToken }),
    }),
  );
  return {
    // ListExecutions always names each execution; the SDK types every output member as optional.
    executions: (answer.executions ?? []).map((execution) => ({
      name: execution.name as string,
      executionArn: execution.executionArn as string,
      status: execution.status as string,
      startDate: execution.startDate as Date,
      ...(execution.stopDate && { stopDate: execution.stopDate }),
    })),
    ...(answer.nextToken && { nextToken: answer.nextToken }),
  };
}

export type RequestStatusView = z.infer<typeof requestStatusSchema>;
type ExecutionStatus = RequestStatusView['executionStatus'];

/**
 * The execution's status and the request's outcome, side by side and named apart: an execution that ran to its
 * end SUCCEEDED even when its summary says every device FAILED. `deviceMap` is the Map state with one
 * iteration per device, whose finished iterations are the progress of a running request.
 */
export async function describeRequest(
  stateMachineArn: string,
  requestId: string,
  deviceMap: string,
): Promise<RequestStatusView | undefined> {
  const executionArn = executionArnOf(stateMachineArn, requestId);
  let execution: DescribeExecutionCommandOutput;
  try {
    execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
  // DescribeExecution always answers a status; the SDK types every output member as optional.
  const executionStatus = execution.status as ExecutionStatus;
  const summary = execution.output ? (JSON.parse(execution.output) as NonNullable<RequestStatusView['summary']>) : undefined;
  const progress = executionStatus === 'RUNNING' ? await progressOf(execution, deviceMap) : undefined;
  return {
    requestId,
    executionArn,
    executionStatus,
    outcome: summary?.status ?? (executionStatus === 'RUNNING' || executionStatus === 'PENDING_REDRIVE' ? 'IN_PROGRESS' : 'UNKNOWN'),
    ...(progress && { progress }),
    ...(execution.startDate && { startDate: execution.startDate.toISOString() }),
    ...(execution.stopDate && { stopDate: execution.stopDate.toISOString() }),
    ...(summary && { summary }),
    // The cause of a Lambda error is its JSON with the stack trace, paths and all: only its message is the client's.
    ...(execution.error && { error: { code: execution.error, message: messageFromCause(execution.cause) } }),
    ...withUnsettledDevices(execution),
  };
}

/**
 * Counts the device Map's finished iterations in the execution's history, a page of 1,000 events at a time
 * without their data: about 18 events a device, so a 200-device request takes up to 4 calls. GetExecutionHistory
 * has a small shared quota (a bucket of 250, 5 a second), so when it throttles or fails with a 5xx the status
 * goes without progress rather than failing; any other error (a role without states:GetExecutionHistory) shows.
 */
async function progressOf(execution: DescribeExecutionCommandOutput, deviceMap: string): Promise<RequestStatusView['progress']> {
  let finished = 0;
  try {
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn: execution.executionArn, maxResults: 1000, includeExecutionData: false, nextToken }),
      );
      // Stryker disable next-line ArrayDeclaration: equivalent: an element that is no event carries no finished iteration
      for (const event of page.events ?? []) {
        // Only the event of a finished iteration (succeeded, failed or aborted) carries one of these.
        const details =
          event.mapIterationSucceededEventDetails ?? event.mapIterationFailedEventDetails ?? event.mapIterationAbortedEventDetails;
        if (details?.name === deviceMap) finished += 1;
      }
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (error) {
    if (!isTransientError((error as Error).name) && !isUnnamedTransientFailure(error as Error)) throw error;
    logger.warn('could not read the execution history; answering the status without progress', { errorName: (error as Error).name });
    return undefined;
  }
  return { requested: requestedDevices(execution.input), finished };
}

function requestedDevices(serializedInput: string | undefined): number {
  const input = parsedJson(serializedInput);
  return isRecord(input) && Array.isArray(input.devices) ? input.devices.length : 0;
}

/** Only a SUCCEEDED execution has output (its summary), and one that succeeded has no unsettled devices. */
function withUnsettledDevices(execution: DescribeExecutionCommandOutput): Pick<RequestStatusView, 'unsettled'> {
  const unsettled = unsettledDevicesOf(execution.status ?? 'RUNNING', execution.input);
  return unsettled ? { unsettled } : {};
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
