import { randomUUID } from 'node:crypto';
import { listPages, type PageRequest, paginate } from '../../wire/pagination.ts';
import { describeViolations, requireValid, type StructureShape } from '../../wire/validation.ts';
import { StepFunctionsError } from './aws-json-protocol.ts';
import type { MapRunRecord } from './distributed-map/map-run.ts';
import type { Execution, RunnableStateMachine, StartRequest } from './execution.ts';
import type { ExecutionStatus, ExecutionStore, ExecutionView, MapRunEntry, StoredPage } from './execution-store.ts';
import * as shapes from './shapes.ts';

type Input = Record<string, unknown>;
export type Operation = (input: Input, region: string) => unknown;

const DEFAULT_PAGE_SIZE = 100;
/** Step Functions' name rule besides its length: no whitespace, brackets, wildcards, special or control characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what the rule refuses.
const INVALID_NAME_CHARACTERS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/u;

export interface StepFunctionsState {
  accountId: string;
  createdAt: number;
  machines: ReadonlyMap<string, RunnableStateMachine>;
  /**
   * Every execution and Map Run, running or closed, by ARN: a name is taken per account, region and state machine,
   * as on AWS, and stays reserved as long as the store keeps it (AWS keeps it 90 days).
   */
  store: ExecutionStore;
  /** The executions under way, by ARN, until they have settled: the interpreters behind them live here. */
  running: Map<string, Execution>;
  /** The Map Runs under way, by ARN, whose records change as they go; the store has them as they started. */
  runningMapRuns: Map<string, MapRunEntry>;
}

type ArnKind = 'stateMachine' | 'execution' | 'mapRun';

/**
 * StartExecution after its model's constraints: the state machine, the name, the input, and the idempotency of a
 * name reused with the same input while its execution runs. Distributed Map children and the startExecution
 * integration start theirs here too.
 */
export function startExecution(state: StepFunctionsState, request: StartRequest, region: string): Execution {
  const input = valid({ ...request }, shapes.startExecutionInput) as { stateMachineArn: string; name?: string; input?: string };
  const runnable = machineFromArn(state, input.stateMachineArn, region);
  const machineName = runnable.machine.name;
  const name = input.name === undefined ? randomUUID() : validName(input.name);
  const executionInput = validInput(input.input);
  const arn = `arn:aws:states:${region}:${state.accountId}:execution:${machineName}:${name}`;
  const running = state.running.get(arn);
  // Idempotent only while the first run is open and the input is the same (Standard workflows).
  if (running?.status === 'RUNNING' && sameJson(running.input, executionInput)) return running;
  if (running || state.store.execution(arn)) throw new StepFunctionsError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
  const started = {
    arn,
    name,
    stateMachineArn: machineArn(state, region, machineName),
    input: executionInput,
    mapRunArn: request.mapRunArn,
    startDate: Date.now(),
  };
  const execution = runnable.start(
    // A Map Run's children run under their parent's role.
    { ...started, roleArn: roleArn(state, runnable.machine.parentName ?? machineName) },
    state.store.insert(started),
  );
  state.running.set(arn, execution);
  void execution.completion.then(() => state.running.delete(arn));
  return execution;
}

function machineArn(state: StepFunctionsState, region: string, name: string): string {
  return `arn:aws:states:${region}:${state.accountId}:stateMachine:${name}`;
}

function roleArn(state: StepFunctionsState, name: string): string {
  return `arn:aws:iam::${state.accountId}:role/${name}-role`;
}

/** The resource an ARN names in this account and the caller's region; undefined for another account or region. */
function ownResource(state: StepFunctionsState, arn: string, kind: ArnKind, region: string): string[] | undefined {
  const parsed = parseArn(arn, kind);
  return parsed.account === state.accountId && parsed.region === region ? parsed.resource : undefined;
}

function machineFromArn(state: StepFunctionsState, arn: string, region: string): RunnableStateMachine {
  const [name] = ownResource(state, arn, 'stateMachine', region) ?? [];
  const machine = name === undefined ? undefined : state.machines.get(name);
  if (!machine) throw new StepFunctionsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
  return machine;
}

/** The operations of the Step Functions API the project uses, in AWS's input/output shapes. */
export function stepFunctionsOperations(state: StepFunctionsState): Record<string, Operation> {
  const executionFromArn = (arn: string, region: string): ExecutionView => {
    const execution = ownResource(state, arn, 'execution', region) && (state.running.get(arn) ?? state.store.execution(arn));
    if (!execution) throw new StepFunctionsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  };
  const mapRunFromArn = (arn: string, region: string): MapRunEntry => {
    const mapRun = ownResource(state, arn, 'mapRun', region) && (state.runningMapRuns.get(arn) ?? state.store.mapRun(arn));
    if (!mapRun) throw new StepFunctionsError('ResourceNotFound', `Resource not found: '${arn}'`);
    return mapRun;
  };

  return {
    ListStateMachines(rawInput, region) {
      const input = valid(rawInput, shapes.listStateMachinesInput) as PageRequest;
      // A Distributed Map's child state machine is no state machine of the account's list.
      const names = [...state.machines.values()]
        .filter(({ machine }) => machine.parentName === undefined)
        .map(({ machine }) => machine.name)
        .sort();
      const { items, nextToken } = paginate(
        listPages(names, (name) => name),
        input,
        DEFAULT_PAGE_SIZE,
        invalidToken(input),
      );
      const stateMachines = items.map((name) => ({
        stateMachineArn: machineArn(state, region, name),
        name,
        type: 'STANDARD',
        creationDate: state.createdAt / 1000,
      }));
      return { stateMachines, ...(nextToken ? { nextToken } : {}) };
    },

    DescribeStateMachine(rawInput, region) {
      const input = valid(rawInput, shapes.stateMachineInput) as { stateMachineArn: string };
      const { machine } = machineFromArn(state, input.stateMachineArn, region);
      return {
        stateMachineArn: machineArn(state, region, machine.name),
        name: machine.name,
        status: 'ACTIVE',
        definition: JSON.stringify(machine.definition),
        roleArn: roleArn(state, machine.parentName ?? machine.name),
        type: 'STANDARD',
        creationDate: state.createdAt / 1000,
        loggingConfiguration: machine.loggingConfiguration,
        tracingConfiguration: machine.tracingConfiguration,
      };
    },

    StartExecution(rawInput, region) {
      const input = valid(rawInput, shapes.startExecutionInput) as { stateMachineArn: string; name?: string; input?: string };
      const execution = startExecution(state, { ...input, input: input.input ?? '{}' }, region);
      return { executionArn: execution.arn, startDate: execution.startDate / 1000 };
    },

    DescribeExecution(rawInput, region) {
      const input = valid(rawInput, shapes.executionInput) as { executionArn: string };
      const execution = executionFromArn(input.executionArn, region);
      const outcome = execution.outcome;
      return {
        ...executionSummary(execution),
        ...(execution.mapRunArn !== undefined && { mapRunArn: execution.mapRunArn }),
        input: execution.input,
        inputDetails: { included: true },
        ...(outcome?.output === undefined ? {} : { output: outcome.output, outputDetails: { included: true } }),
        ...(outcome?.error === undefined ? {} : { error: outcome.error }),
        ...(outcome?.cause === undefined ? {} : { cause: outcome.cause }),
        ...redriveDescription(execution.status),
      };
    },

    ListExecutions(rawInput, region) {
      const input = valid(rawInput, shapes.listExecutionsInput) as {
        stateMachineArn?: string;
        mapRunArn?: string;
        statusFilter?: string;
        maxResults?: number;
        nextToken?: string;
      };
      if ((input.stateMachineArn === undefined) === (input.mapRunArn === undefined)) {
        throw new StepFunctionsError('ValidationException', 'Exactly one of stateMachineArn and mapRunArn must be given');
      }
      const of =
        input.mapRunArn === undefined
          ? { stateMachineArn: machineArn(state, region, machineFromArn(state, input.stateMachineArn ?? '', region).machine.name) }
          : { mapRunArn: mapRunFromArn(input.mapRunArn, region).record.mapRunArn };
      // Newest first, as AWS lists them.
      const { items, nextToken } = paginate(
        stored((afterArn, limit) => state.store.executions(of, input.statusFilter, afterArn, limit)),
        input,
        DEFAULT_PAGE_SIZE,
        invalidToken(input),
      );
      // Redrive is not emulated: no execution has been redriven.
      return {
        executions: items.map((execution) => ({
          ...executionSummary(execution),
          ...(execution.mapRunArn !== undefined && { mapRunArn: execution.mapRunArn }),
          redriveCount: 0,
        })),
        ...(nextToken ? { nextToken } : {}),
      };
    },

    DescribeMapRun(rawInput, region) {
      const input = valid(rawInput, shapes.describeMapRunInput) as { mapRunArn: string };
      const { record } = mapRunFromArn(input.mapRunArn, region);
      const counts = (counted: MapRunRecord['itemCounts']) => ({ ...counted, failuresNotRedrivable: 0, pendingRedrive: 0 });
      return {
        mapRunArn: record.mapRunArn,
        executionArn: record.executionArn,
        status: record.status,
        startDate: record.startDate.getTime() / 1000,
        ...(record.stopDate === undefined ? {} : { stopDate: record.stopDate.getTime() / 1000 }),
        maxConcurrency: record.maxConcurrency,
        toleratedFailurePercentage: record.toleratedFailurePercentage,
        toleratedFailureCount: record.toleratedFailureCount,
        itemCounts: counts(record.itemCounts),
        executionCounts: counts(record.executionCounts),
        redriveCount: 0,
      };
    },

    ListMapRuns(rawInput, region) {
      const input = valid(rawInput, shapes.listMapRunsInput) as { executionArn: string; maxResults?: number; nextToken?: string };
      const execution = executionFromArn(input.executionArn, region);
      const { items, nextToken } = paginate(
        stored((afterArn, limit) => state.store.mapRuns(execution.arn, afterArn, limit)),
        input,
        DEFAULT_PAGE_SIZE,
        invalidToken(input),
      );
      return {
        // A run under way has moved on from what the store has of it.
        mapRuns: items
          .map((entry) => state.runningMapRuns.get(entry.record.mapRunArn) ?? entry)
          .map(({ record, stateMachineArn }) => ({
            executionArn: record.executionArn,
            mapRunArn: record.mapRunArn,
            stateMachineArn,
            startDate: record.startDate.getTime() / 1000,
            ...(record.stopDate === undefined ? {} : { stopDate: record.stopDate.getTime() / 1000 }),
          })),
        ...(nextToken ? { nextToken } : {}),
      };
    },

    GetExecutionHistory(rawInput, region) {
      const input = valid(rawInput, shapes.getExecutionHistoryInput) as {
        executionArn: string;
        reverseOrder?: boolean;
        maxResults?: number;
        nextToken?: string;
      };
      const execution = executionFromArn(input.executionArn, region);
      const { items, nextToken } = paginate(
        stored((afterId, limit) => state.store.history(execution.arn, input.reverseOrder === true, afterId, limit)),
        input,
        DEFAULT_PAGE_SIZE,
        invalidToken(input),
      );
      return { events: items, ...(nextToken ? { nextToken } : {}) };
    },

    StopExecution(rawInput, region) {
      const input = valid(rawInput, shapes.stopExecutionInput) as { executionArn: string; error?: string; cause?: string };
      const execution = executionFromArn(input.executionArn, region);
      const running = state.running.get(execution.arn);
      if (running?.status === 'RUNNING') running.stop(input.error, input.cause);
      // The interpreter closes the execution asynchronously; report the moment of the request if it has not yet.
      return { stopDate: (execution.stopDate ?? Date.now()) / 1000 };
    },
  };
}

const REDRIVABLE_STATUSES: readonly ExecutionStatus[] = ['FAILED', 'TIMED_OUT', 'ABORTED'];

/**
 * Redrive is not emulated: no execution has been redriven, and those AWS could redrive say so. AWS gives the
 * reason of a NOT_REDRIVABLE status in these words (the model's documentation of `redriveStatusReason`).
 */
function redriveDescription(status: ExecutionStatus) {
  if (REDRIVABLE_STATUSES.includes(status)) return { redriveCount: 0, redriveStatus: 'REDRIVABLE' };
  return { redriveCount: 0, redriveStatus: 'NOT_REDRIVABLE', redriveStatusReason: `Execution is ${status} and cannot be redriven` };
}

/** Checks the model's constraints first, as AWS does: before any ARN is resolved. */
function valid(input: Input, shape: StructureShape): Input {
  return requireValid(input, shape, (violations) => new StepFunctionsError('ValidationException', describeViolations(violations)));
}

function invalidToken(input: PageRequest): () => StepFunctionsError {
  return () => new StepFunctionsError('InvalidToken', `Invalid Token: '${String(input.nextToken)}'`);
}

/** A page source over the store, which pages by key itself. */
function stored<V>(page: (afterKey: string | undefined, limit: number) => StoredPage<V>) {
  return { page };
}

function executionSummary(execution: ExecutionView) {
  return {
    executionArn: execution.arn,
    stateMachineArn: execution.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: execution.startDate / 1000,
    ...(execution.stopDate === undefined ? {} : { stopDate: execution.stopDate / 1000 }),
  };
}

/**
 * An ARN's account, region and the `:`-separated parts after `arn:<partition>:states:<region>:<account>:<kind>:`.
 * The messages are AWS's: `Invalid ARN prefix: <arn>` for what is no Step Functions ARN, `Resource type not valid
 * in this context: <type>` for one of another kind (an execution's where a state machine's is expected).
 */
function parseArn(arn: string, kind: ArnKind): { region: string; account: string; resource: string[] } {
  const parts = arn.split(':');
  if (parts.length < 7 || parts[0] !== 'arn' || parts[2] !== 'states') throw invalidArn(`Invalid ARN prefix: ${arn}`);
  if (parts[5] !== kind) throw invalidArn(`Resource type not valid in this context: ${parts[5]}`);
  if (parts.length !== (kind === 'stateMachine' ? 7 : 8) || parts.slice(6).some((part) => part === '')) {
    throw invalidArn(`Invalid Arn: ${arn}`);
  }
  return { region: parts[3] ?? '', account: parts[4] ?? '', resource: parts.slice(6) };
}

function invalidArn(reason: string): StepFunctionsError {
  return new StepFunctionsError('InvalidArn', `Invalid Arn: '${reason}'`);
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
