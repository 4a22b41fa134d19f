import { randomUUID } from 'node:crypto';
import { listPages, paginate, type PageRequest } from '../../wire/pagination.ts';
import { describeViolations, requireValid, type StructureShape } from '../../wire/validation.ts';
import { StepFunctionsError } from './aws-json-protocol.ts';
import type { Execution, ExecutionStatus, RunnableStateMachine } from './execution.ts';
import * as shapes from './shapes.ts';

type Input = Record<string, unknown>;
export type Operation = (input: Input, region: string) => unknown;

const DEFAULT_PAGE_SIZE = 100;
/** Step Functions' name rule besides its length: no whitespace, brackets, wildcards, special or control characters. */
const INVALID_NAME_CHARACTERS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/u;

export interface StepFunctionsState {
  accountId: string;
  createdAt: number;
  machines: ReadonlyMap<string, RunnableStateMachine>;
  /**
   * Keyed by execution ARN, so a name is taken per account, region and state machine, as on AWS. Names stay
   * reserved (AWS keeps them 90 days; here for the process).
   */
  executions: Map<string, Execution>;
}

/** The operations of the Step Functions API the project uses, in AWS's input/output shapes. */
export function stepFunctionsOperations(state: StepFunctionsState): Record<string, Operation> {
  const machineArn = (region: string, name: string) => `arn:aws:states:${region}:${state.accountId}:stateMachine:${name}`;
  const roleArn = (name: string) => `arn:aws:iam::${state.accountId}:role/${name}-role`;

  /** The resource an ARN names in this account and the caller's region; undefined for another account or region. */
  const ownResource = (arn: string, kind: 'stateMachine' | 'execution', region: string): string[] | undefined => {
    const parsed = parseArn(arn, kind);
    return parsed.account === state.accountId && parsed.region === region ? parsed.resource : undefined;
  };
  const machineFromArn = (arn: string, region: string): RunnableStateMachine => {
    const [name] = ownResource(arn, 'stateMachine', region) ?? [];
    const machine = name === undefined ? undefined : state.machines.get(name);
    if (!machine) throw new StepFunctionsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  };
  const executionFromArn = (arn: string, region: string): Execution => {
    const execution = ownResource(arn, 'execution', region) && state.executions.get(arn);
    if (!execution) throw new StepFunctionsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  };

  return {
    ListStateMachines(rawInput, region) {
      const input = valid(rawInput, shapes.listStateMachinesInput) as PageRequest;
      const names = [...state.machines.keys()].sort();
      const { items, nextToken } = paginate(listPages(names, (name) => name), input, DEFAULT_PAGE_SIZE, invalidToken(input));
      const stateMachines = items.map((name) => ({
        stateMachineArn: machineArn(region, name),
        name,
        type: 'STANDARD',
        creationDate: state.createdAt / 1000,
      }));
      return { stateMachines, ...(nextToken ? { nextToken } : {}) };
    },

    DescribeStateMachine(rawInput, region) {
      const input = valid(rawInput, shapes.stateMachineInput) as { stateMachineArn: string };
      const { machine } = machineFromArn(input.stateMachineArn, region);
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

    StartExecution(rawInput, region) {
      const input = valid(rawInput, shapes.startExecutionInput) as { stateMachineArn: string; name?: string; input?: string };
      const runnable = machineFromArn(input.stateMachineArn, region);
      const machineName = runnable.machine.name;
      const name = input.name === undefined ? randomUUID() : validName(input.name);
      const executionInput = validInput(input.input);
      const arn = `arn:aws:states:${region}:${state.accountId}:execution:${machineName}:${name}`;
      const existing = state.executions.get(arn);
      if (existing) {
        // Idempotent only while the first run is open and the input is the same (Standard workflows).
        if (existing.status === 'RUNNING' && sameJson(existing.input, executionInput)) {
          return { executionArn: existing.arn, startDate: existing.startDate / 1000 };
        }
        throw new StepFunctionsError('ExecutionAlreadyExists', `Execution Already Exists: '${existing.arn}'`);
      }
      const execution = runnable.start({
        arn,
        name,
        stateMachineArn: machineArn(region, machineName),
        roleArn: roleArn(machineName),
        input: executionInput,
      });
      state.executions.set(arn, execution);
      return { executionArn: execution.arn, startDate: execution.startDate / 1000 };
    },

    DescribeExecution(rawInput, region) {
      const input = valid(rawInput, shapes.executionInput) as { executionArn: string };
      const execution = executionFromArn(input.executionArn, region);
      const outcome = execution.outcome;
      return {
        ...executionSummary(execution),
        input: execution.input,
        inputDetails: { included: true },
        ...(outcome?.output === undefined ? {} : { output: outcome.output, outputDetails: { included: true } }),
        ...(outcome?.error === undefined ? {} : { error: outcome.error }),
        ...(outcome?.cause === undefined ? {} : { cause: outcome.cause }),
        // Redrive is not emulated: no execution has been redriven, and those AWS could redrive say so.
        redriveCount: 0,
        redriveStatus: REDRIVABLE_STATUSES.includes(execution.status) ? 'REDRIVABLE' : 'NOT_REDRIVABLE',
      };
    },

    ListExecutions(rawInput, region) {
      const input = valid(rawInput, shapes.listExecutionsInput) as { stateMachineArn: string; statusFilter?: string; maxResults?: number; nextToken?: string };
      const { machine } = machineFromArn(input.stateMachineArn, region);
      const stateMachineArn = machineArn(region, machine.name);
      // Newest first, as AWS lists them; the map keeps start order.
      const executions = [...state.executions.values()].filter((execution) => execution.stateMachineArn === stateMachineArn).reverse();
      const { statusFilter } = input;
      const { items, nextToken } = paginate(
        listPages(executions, (execution) => execution.arn),
        input,
        DEFAULT_PAGE_SIZE,
        invalidToken(input),
        statusFilter === undefined ? undefined : (execution) => execution.status === statusFilter,
      );
      return { executions: items.map(executionSummary), ...(nextToken ? { nextToken } : {}) };
    },

    GetExecutionHistory(rawInput, region) {
      const input = valid(rawInput, shapes.getExecutionHistoryInput) as { executionArn: string; reverseOrder?: boolean; maxResults?: number; nextToken?: string };
      const execution = executionFromArn(input.executionArn, region);
      const events = input.reverseOrder === true ? [...execution.history.events].reverse() : execution.history.events;
      const { items, nextToken } = paginate(listPages(events, (event) => String(event.id)), input, DEFAULT_PAGE_SIZE, invalidToken(input));
      return { events: items, ...(nextToken ? { nextToken } : {}) };
    },

    StopExecution(rawInput, region) {
      const input = valid(rawInput, shapes.stopExecutionInput) as { executionArn: string; error?: string; cause?: string };
      const execution = executionFromArn(input.executionArn, region);
      if (execution.status === 'RUNNING') execution.stop(input.error, input.cause);
      // The interpreter closes the execution asynchronously; report the moment of the request if it has not yet.
      return { stopDate: (execution.stopDate ?? Date.now()) / 1000 };
    },
  };
}

const REDRIVABLE_STATUSES: readonly ExecutionStatus[] = ['FAILED', 'TIMED_OUT', 'ABORTED'];

/** Checks the model's constraints first, as AWS does: before any ARN is resolved. */
function valid(input: Input, shape: StructureShape): Input {
  return requireValid(input, shape, (violations) => new StepFunctionsError('ValidationException', describeViolations(violations)));
}

function invalidToken(input: PageRequest): () => StepFunctionsError {
  return () => new StepFunctionsError('InvalidToken', `Invalid Token: '${String(input.nextToken)}'`);
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

/** An ARN's account, region and the `:`-separated parts after `arn:<partition>:states:<region>:<account>:<kind>:`. */
function parseArn(arn: string, kind: 'stateMachine' | 'execution'): { region: string; account: string; resource: string[] } {
  const parts = arn.split(':');
  const expectedParts = kind === 'stateMachine' ? 7 : 8;
  if (parts.length !== expectedParts || parts[0] !== 'arn' || parts[2] !== 'states' || parts[5] !== kind || parts.slice(6).some((part) => part === '')) {
    throw new StepFunctionsError('InvalidArn', `Invalid Arn: '${arn}'`);
  }
  return { region: parts[3] ?? '', account: parts[4] ?? '', resource: parts.slice(6) };
}

/** The model bounds the length (a ValidationException); the characters are Step Functions' own rule. */
function validName(name: string): string {
  if (INVALID_NAME_CHARACTERS.test(name)) throw new StepFunctionsError('InvalidName', `Invalid Name: '${name}'`);
  return name;
}

/** The model bounds the size; that the input is JSON is Step Functions' own rule. */
function validInput(input: string | undefined): string {
  if (input === undefined) return '{}';
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
