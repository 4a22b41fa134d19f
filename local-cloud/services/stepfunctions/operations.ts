import { randomUUID } from 'node:crypto';
import { decodePageToken, encodePageToken } from '../../wire/pagination.ts';
import { StepFunctionsError } from './aws-json-protocol.ts';
import type { Execution, ExecutionStatus, RunnableStateMachine } from './execution.ts';
import { MAX_PAYLOAD_BYTES, payloadBytes } from './payload-quota.ts';

type Input = Record<string, unknown>;
export type Operation = (input: Input, region: string) => unknown;

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
const EXECUTION_STATUSES: readonly ExecutionStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];
/** Step Functions' name rule: 1–80 characters, no whitespace, brackets, wildcards, special or control characters. */
const INVALID_NAME_CHARACTERS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/u;

export interface StepFunctionsState {
  accountId: string;
  createdAt: number;
  machines: ReadonlyMap<string, RunnableStateMachine>;
  /** Keyed by `<stateMachineName>:<executionName>`: names stay reserved (AWS keeps them 90 days; here for the process). */
  executions: Map<string, Execution>;
}

/** The operations of the Step Functions API the project uses, in AWS's input/output shapes. */
export function stepFunctionsOperations(state: StepFunctionsState): Record<string, Operation> {
  const machineArn = (region: string, name: string) => `arn:aws:states:${region}:${state.accountId}:stateMachine:${name}`;
  const roleArn = (name: string) => `arn:aws:iam::${state.accountId}:role/${name}-role`;

  const machineFromArn = (arn: unknown): RunnableStateMachine => {
    const name = arnResource(arn, 'stateMachine')[0]!;
    const machine = state.machines.get(name);
    if (!machine) throw new StepFunctionsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(arn)}'`);
    return machine;
  };
  const executionFromArn = (arn: unknown): Execution => {
    const [machineName, executionName] = arnResource(arn, 'execution');
    const execution = state.executions.get(`${machineName}:${executionName}`);
    if (!execution) throw new StepFunctionsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(arn)}'`);
    return execution;
  };

  return {
    ListStateMachines(input, region) {
      const machines = [...state.machines.keys()].sort().map((name) => ({
        stateMachineArn: machineArn(region, name),
        name,
        type: 'STANDARD',
        creationDate: state.createdAt / 1000,
      }));
      const { page, nextToken } = paginate(machines, input, (machine) => machine.name);
      return { stateMachines: page, ...(nextToken ? { nextToken } : {}) };
    },

    DescribeStateMachine(input, region) {
      const { machine } = machineFromArn(input.stateMachineArn);
      return {
        stateMachineArn: machineArn(region, machine.name),
        name: machine.name,
        status: 'ACTIVE',
        definition: JSON.stringify(machine.definition),
        roleArn: roleArn(machine.name),
        type: 'STANDARD',
        creationDate: state.createdAt / 1000,
        loggingConfiguration: { level: 'OFF', includeExecutionData: false },
        tracingConfiguration: { enabled: false },
      };
    },

    StartExecution(input, region) {
      const runnable = machineFromArn(input.stateMachineArn);
      const machineName = runnable.machine.name;
      const name = input.name === undefined ? randomUUID() : validName(input.name);
      const executionInput = validInput(input.input);
      const existing = state.executions.get(`${machineName}:${name}`);
      if (existing) {
        // Idempotent only while the first run is open and the input is the same (Standard workflows).
        if (existing.status === 'RUNNING' && sameJson(existing.input, executionInput)) {
          return { executionArn: existing.arn, startDate: existing.startDate / 1000 };
        }
        throw new StepFunctionsError('ExecutionAlreadyExists', `Execution Already Exists: '${existing.arn}'`);
      }
      const stateMachineArn = machineArn(region, machineName);
      const execution = runnable.start({
        arn: `arn:aws:states:${region}:${state.accountId}:execution:${machineName}:${name}`,
        name,
        stateMachineArn,
        roleArn: roleArn(machineName),
        input: executionInput,
      });
      state.executions.set(`${machineName}:${name}`, execution);
      return { executionArn: execution.arn, startDate: execution.startDate / 1000 };
    },

    DescribeExecution(input) {
      const execution = executionFromArn(input.executionArn);
      const outcome = execution.outcome;
      return {
        ...executionSummary(execution),
        input: execution.input,
        inputDetails: { included: true },
        ...(outcome?.output === undefined ? {} : { output: outcome.output, outputDetails: { included: true } }),
        ...(outcome?.error === undefined ? {} : { error: outcome.error }),
        ...(outcome?.cause === undefined ? {} : { cause: outcome.cause }),
      };
    },

    ListExecutions(input) {
      const { machine } = machineFromArn(input.stateMachineArn);
      const statusFilter = input.statusFilter;
      if (statusFilter !== undefined && !EXECUTION_STATUSES.includes(statusFilter as ExecutionStatus)) {
        throw new StepFunctionsError('ValidationException', `Value '${String(statusFilter)}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${EXECUTION_STATUSES.join(', ')}]`);
      }
      // Newest first, as AWS lists them; the map keeps start order.
      const executions = [...state.executions.values()]
        .filter((execution) => execution.stateMachineName === machine.name)
        .filter((execution) => statusFilter === undefined || execution.status === statusFilter)
        .reverse();
      const { page, nextToken } = paginate(executions, input, (execution) => execution.arn);
      return { executions: page.map(executionSummary), ...(nextToken ? { nextToken } : {}) };
    },

    GetExecutionHistory(input) {
      const execution = executionFromArn(input.executionArn);
      const events = input.reverseOrder === true ? [...execution.history.events].reverse() : execution.history.events;
      const { page, nextToken } = paginate(events, input, (event) => String(event.id));
      return { events: page, ...(nextToken ? { nextToken } : {}) };
    },

    StopExecution(input) {
      const execution = executionFromArn(input.executionArn);
      if (execution.status === 'RUNNING') {
        execution.stop(optionalString(input.error, 'error', 256), optionalString(input.cause, 'cause', 32_768));
      }
      // The interpreter closes the execution asynchronously; report the moment of the request if it has not yet.
      return { stopDate: (execution.stopDate ?? Date.now()) / 1000 };
    },
  };
}

function executionSummary(execution: Execution) {
  return {
    executionArn: execution.arn,
    stateMachineArn: execution.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: execution.startDate / 1000,
    ...(execution.stopDate === undefined ? {} : { stopDate: execution.stopDate / 1000 }),
  };
}

/** The `:`-separated parts after `arn:aws:states:<region>:<account>:<kind>:`. */
function arnResource(arn: unknown, kind: 'stateMachine' | 'execution'): string[] {
  const parts = typeof arn === 'string' ? arn.split(':') : [];
  const expectedParts = kind === 'stateMachine' ? 7 : 8;
  if (parts.length !== expectedParts || parts[0] !== 'arn' || parts[2] !== 'states' || parts[5] !== kind || parts.slice(6).some((part) => part === '')) {
    throw new StepFunctionsError('InvalidArn', `Invalid Arn: '${String(arn)}'`);
  }
  return parts.slice(6);
}

function validName(name: unknown): string {
  if (typeof name !== 'string' || name.length < 1 || name.length > 80 || INVALID_NAME_CHARACTERS.test(name)) {
    throw new StepFunctionsError('InvalidName', `Invalid Name: '${String(name)}'`);
  }
  return name;
}

function validInput(input: unknown): string {
  if (input === undefined) return '{}';
  if (typeof input !== 'string') throw new StepFunctionsError('InvalidExecutionInput', 'Invalid execution input: input must be a JSON string');
  if (payloadBytes(input) > MAX_PAYLOAD_BYTES) {
    throw new StepFunctionsError('InvalidExecutionInput', `Invalid execution input: the input exceeds ${MAX_PAYLOAD_BYTES} bytes`);
  }
  try {
    JSON.parse(input);
  } catch (error) {
    throw new StepFunctionsError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${(error as Error).message}'`);
  }
  return input;
}

function sameJson(left: string, right: string): boolean {
  return JSON.stringify(JSON.parse(left)) === JSON.stringify(JSON.parse(right));
}

function optionalString(value: unknown, field: string, maxLength: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > maxLength) {
    throw new StepFunctionsError('ValidationException', `'${field}' must be a string of at most ${maxLength} characters`);
  }
  return value;
}

/** `maxResults` (0 or absent = default) and opaque `nextToken` naming the last key of the previous page. */
function paginate<T>(items: readonly T[], input: Input, keyOf: (item: T) => string): { page: T[]; nextToken?: string } {
  const maxResults = input.maxResults ?? 0;
  if (typeof maxResults !== 'number' || !Number.isInteger(maxResults) || maxResults < 0 || maxResults > MAX_PAGE_SIZE) {
    throw new StepFunctionsError('ValidationException', `Value '${String(maxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value between 0 and ${MAX_PAGE_SIZE}`);
  }
  let start = 0;
  if (input.nextToken !== undefined) {
    const lastKey = typeof input.nextToken === 'string' ? decodePageToken(input.nextToken) : undefined;
    const lastIndex = lastKey === undefined ? -1 : items.findIndex((item) => keyOf(item) === lastKey);
    if (lastIndex < 0) throw new StepFunctionsError('InvalidToken', `Invalid Token: '${String(input.nextToken)}'`);
    start = lastIndex + 1;
  }
  const size = maxResults === 0 ? DEFAULT_PAGE_SIZE : maxResults;
  const page = items.slice(start, start + size);
  const more = start + size < items.length;
  return more ? { page, nextToken: encodePageToken(keyOf(page.at(-1)!)) } : { page };
}
