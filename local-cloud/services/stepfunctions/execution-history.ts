import type { StateMachine } from 'aws-local-stepfunctions';
import { JSONPath } from 'jsonpath-plus';
import type { LambdaFunction } from '../../lambda/lambda-registry.ts';
import { isPlainObject } from '../../wire/validation.ts';
import { forEachState } from './asl-states.ts';
import type { LocalStateMachine, StartExecutionResource } from './state-machine-definitions.ts';

/** A history event in Step Functions' wire shape (`timestamp` in epoch seconds, payloads as JSON strings). */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: `${string}EventDetails`]: Record<string, unknown>;
}

export interface ExecutionOutcome {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';
  output?: string;
  error?: string;
  cause?: string;
}

/** One invocation of a Task's handler: the payload it was sent and, once it returned, its result. */
export interface TaskInvocation {
  input: unknown;
  result?: unknown;
  /** A Distributed Map's attempt: its Map Run and how many items it read. */
  mapRun?: { mapRunArn: string; length: number };
  /** A startExecution integration's StartExecution response, once the child has started. */
  submitted?: unknown;
}

/**
 * The invocations of one state's function in the order they were made. The interpreter calls a Task's
 * function in the same turn as it logs the state's entry or retry, so the n-th attempt the log shows of a
 * state is its n-th invocation.
 */
export type NextInvocation = (stateName: string) => TaskInvocation | undefined;

/** The interpreter's log entry type, which the package does not export by name. */
type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer Event> ? Event : never;

const ROOT_LANE = 'root';
const TIMEOUT_ERROR = 'States.Timeout';
const CLOSING_EVENTS = new Set<string>(['ExecutionSucceeded', 'ExecutionFailed', 'ExecutionAborted', 'ExecutionTimeout']);

/**
 * Turns the interpreter's event log into AWS execution history. The interpreter logs states, retries and catches;
 * the Lambda lifecycle of a Task is derived from them and from the invocations themselves: entering a Task (or
 * retrying it) schedules and starts its function with the payload it was sent, a failure of the Task state is the
 * function failing (or timing out on `States.Timeout`), and a Task exiting without having been caught is the
 * function succeeding with what it returned. A `startExecution` integration Task is written likewise with Task
 * events (TaskScheduled … TaskSucceeded/Failed), and a DISTRIBUTED Map, which the interpreter runs as a Task, with
 * its Map Run's events.
 */
export class ExecutionHistory {
  /** Where each event goes as it is made: the history is not kept here, so that it costs no memory once written. */
  private readonly append: (event: HistoryEvent) => void;
  private eventCount = 0;
  private readonly lambdaTasks: ReadonlyMap<string, LambdaFunction>;
  private readonly serviceTasks: ReadonlyMap<string, StartExecutionResource>;
  private readonly distributedMaps: ReadonlySet<string>;
  private readonly region: string;
  /** A Distributed Map whose failure was not yet retried or caught: if the execution fails, so did the state. */
  private failingDistributedMap: { lane: string; timestamp: number } | undefined;
  /** Distributed Maps (by lane and state) whose MapStateStarted has been written since they were entered. */
  private readonly startedDistributedMaps = new Set<string>();
  private readonly mapItems: ReadonlyMap<string, { inputPath?: string; itemsPath?: string }>;
  private readonly roleArn: string;
  private readonly nextInvocation: NextInvocation;
  /** The invocation each open Task attempt made, by lane and state. */
  private readonly attempts = new Map<string, TaskInvocation | undefined>();
  /** The last iteration event of each Map state, which its closing event follows. */
  private readonly lastIterationEvent = new Map<string, number>();
  private stateEntered = false;
  /** Iterations started and not yet closed, per Map state. */
  private readonly openIterations = new Map<string, number>();
  /**
   * Events held back while a Map has open iterations: the interpreter relays an iteration's events a little
   * late, so the Map's exit (and what follows it) can reach the log before its last iteration's closing event.
   */
  private deferred: EventLog[] | undefined;
  /** Last event id per concurrency lane (the root, or one Map iteration), so `previousEventId` follows causality. */
  private readonly laneTails = new Map<string, number>();
  /** States whose current failure was caught: their exit is not a success. */
  private readonly caughtStates = new Set<string>();
  private outcomeValue: ExecutionOutcome | undefined;
  private stopReason: { error?: string; cause?: string } = {};
  /** A terminal error (States.DataLimitExceeded), which States.ALL does not catch: the execution closes as FAILED with it. */
  private terminalFailure: { error: string; cause: string } | undefined;

  constructor(
    machine: Pick<LocalStateMachine, 'definition' | 'lambdaTasks' | 'serviceTasks' | 'distributedMaps'>,
    execution: { roleArn: string; region: string },
    nextInvocation: NextInvocation,
    append: (event: HistoryEvent) => void,
  ) {
    this.append = append;
    this.lambdaTasks = machine.lambdaTasks;
    this.serviceTasks = machine.serviceTasks;
    this.distributedMaps = new Set(machine.distributedMaps.keys());
    this.roleArn = execution.roleArn;
    this.region = execution.region;
    this.nextInvocation = nextInvocation;
    const mapItems = new Map<string, { inputPath?: string; itemsPath?: string }>();
    forEachState(machine.definition, (name, state) => {
      if (state.Type !== 'Map') return;
      mapItems.set(name, {
        ...(typeof state.InputPath === 'string' && { inputPath: state.InputPath }),
        ...(typeof state.ItemsPath === 'string' && { itemsPath: state.ItemsPath }),
      });
    });
    this.mapItems = mapItems;
  }

  /** The terminal outcome, once the execution-level closing event has been recorded. */
  get outcome(): ExecutionOutcome | undefined {
    return this.outcomeValue;
  }

  setTerminalFailure(error: string, cause: string): void {
    this.terminalFailure ??= { error, cause };
  }

  /** StopExecution's `error` and `cause`, reported on the ExecutionAborted event. */
  setStopReason(error: string | undefined, cause: string | undefined): void {
    this.stopReason = { error, cause };
  }

  record(event: EventLog): void {
    const closing = CLOSING_EVENTS.has(event.type);
    const ofIteration = event.type.startsWith('MapIteration') || ('index' in event && event.index !== undefined);
    if (this.deferred && !ofIteration && !closing) {
      this.deferred.push(event);
      return;
    }
    const mapExit = (event.type === 'StateExited' || event.type === 'StateFailed') && event.state.type === 'Map' && !ofIteration;
    if (mapExit && (this.openIterations.get(event.state.name) ?? 0) > 0) {
      this.deferred = [event];
      return;
    }
    // Nothing follows the execution's closing event: whatever was held back goes before it.
    if (closing) this.replayDeferred(true);
    this.recordInOrder(event);
    if (this.deferred && [...this.openIterations.values()].every((open) => open === 0)) this.replayDeferred(false);
  }

  private replayDeferred(all: boolean): void {
    const deferred = this.deferred ?? [];
    this.deferred = undefined;
    for (const event of deferred) {
      if (all) this.recordInOrder(event);
      else this.record(event);
    }
  }

  private recordInOrder(event: EventLog): void {
    const timestamp = event.timestamp / 1000;
    if (this.terminalFailure) {
      // Nothing ran after the failure on AWS; whatever closes the interpreter's run closes the execution as failed.
      if (!CLOSING_EVENTS.has(event.type) || this.outcomeValue) return;
      this.outcomeValue = { status: 'FAILED', ...this.terminalFailure };
      this.add(ROOT_LANE, timestamp, 'ExecutionFailed', { executionFailedEventDetails: errorDetails(this.outcomeValue) });
      return;
    }
    switch (event.type) {
      case 'ExecutionStarted':
        this.add(ROOT_LANE, timestamp, 'ExecutionStarted', {
          executionStartedEventDetails: { input: json(event.input), inputDetails: { truncated: false }, roleArn: this.roleArn },
        });
        return;
      case 'ExecutionSucceeded':
        this.outcomeValue = { status: 'SUCCEEDED', output: json(event.output) };
        this.add(ROOT_LANE, timestamp, 'ExecutionSucceeded', {
          executionSucceededEventDetails: { output: this.outcomeValue.output, outputDetails: { truncated: false } },
        });
        return;
      case 'ExecutionFailed':
        if (this.failingDistributedMap)
          this.add(this.failingDistributedMap.lane, this.failingDistributedMap.timestamp, 'MapStateFailed', {});
        this.outcomeValue = { status: 'FAILED', error: event.Error, cause: causeText(event.Cause) };
        this.add(ROOT_LANE, timestamp, 'ExecutionFailed', { executionFailedEventDetails: errorDetails(this.outcomeValue) });
        return;
      case 'ExecutionAborted':
        this.outcomeValue = { status: 'ABORTED', ...this.stopReason };
        // A stop comes from outside the execution: AWS links the event to no earlier one.
        this.add(ROOT_LANE, timestamp, 'ExecutionAborted', { executionAbortedEventDetails: errorDetails(this.stopReason) }, 0);
        return;
      case 'ExecutionTimeout':
        this.outcomeValue = {
          status: 'TIMED_OUT',
          error: TIMEOUT_ERROR,
          cause: 'The execution timed out (TimeoutSeconds of the state machine).',
        };
        this.add(ROOT_LANE, timestamp, 'ExecutionTimedOut', { executionTimedOutEventDetails: errorDetails(this.outcomeValue) });
        return;
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const lane = laneOf(event.index);
        // A new iteration starts from its Map state, not from whatever an earlier Map left in the same lane.
        if (event.type === 'MapIterationStarted') this.laneTails.delete(lane);
        const detailsKey = `mapIteration${event.type.slice('MapIteration'.length)}EventDetails`;
        const id = this.add(lane, timestamp, event.type, { [detailsKey]: { name: event.parentState.name, index: event.index } });
        const mapName = event.parentState.name;
        const open = this.openIterations.get(mapName) ?? 0;
        this.openIterations.set(mapName, event.type === 'MapIterationStarted' ? open + 1 : open - 1);
        if (event.type !== 'MapIterationStarted') this.lastIterationEvent.set(mapName, id);
        return;
      }
      case 'StateEntered':
      case 'StateExited':
      case 'StateFailed':
      case 'StateRetried':
      case 'StateCaught':
        if (this.distributedMaps.has(event.state.name)) this.recordDistributedMapEvent(event, laneOf(event.index), timestamp);
        else this.recordStateEvent(event, laneOf(event.index), timestamp);
        return;
      default:
        // Parallel branch events have no AWS history counterpart.
        return;
    }
  }

  private recordStateEvent(event: Extract<EventLog, { state: unknown }>, lane: string, timestamp: number): void {
    const { name, type } = event.state;
    const lambda = type === 'Task' ? this.lambdaTasks.get(name) : undefined;
    const integration = type === 'Task' ? this.serviceTasks.get(name) : undefined;
    const stateKey = `${lane}/${name}`;
    const isMap = type === 'Map' || type === 'Parallel';
    switch (event.type) {
      case 'StateEntered': {
        this.add(
          lane,
          timestamp,
          `${type}StateEntered`,
          {
            stateEnteredEventDetails: { name, input: json(event.state.input), inputDetails: { truncated: false } },
          },
          this.firstStateLink(),
        );
        if (type === 'Map')
          this.add(lane, timestamp, 'MapStateStarted', {
            mapStateStartedEventDetails: { length: this.mapLength(name, event.state.input) },
          });
        if (type === 'Parallel') this.add(lane, timestamp, 'ParallelStateStarted', {});
        if (lambda) this.scheduleLambda(lane, name, timestamp, lambda);
        if (integration) this.scheduleIntegration(lane, name, timestamp, integration);
        return;
      }
      case 'StateRetried':
        if (lambda) this.scheduleLambda(lane, name, timestamp, lambda);
        if (integration) this.scheduleIntegration(lane, name, timestamp, integration);
        return;
      case 'StateFailed': {
        const details = errorDetails({ error: event.Error, cause: causeText(event.Cause) });
        if (integration) {
          this.submitIntegration(lane, stateKey, timestamp, integration);
          const outcome = event.Error === TIMEOUT_ERROR ? 'TaskTimedOut' : 'TaskFailed';
          const detailsKey = event.Error === TIMEOUT_ERROR ? 'taskTimedOutEventDetails' : 'taskFailedEventDetails';
          this.add(lane, timestamp, outcome, { [detailsKey]: { ...integrationResource(integration), ...details } });
        } else if (lambda && event.Error === TIMEOUT_ERROR)
          this.add(lane, timestamp, 'LambdaFunctionTimedOut', { lambdaFunctionTimedOutEventDetails: details });
        else if (lambda) this.add(lane, timestamp, 'LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: details });
        else if (isMap) this.add(lane, timestamp, `${type}StateFailed`, {}, this.lastIterationEvent.get(name));
        return;
      }
      case 'StateCaught':
        this.caughtStates.add(stateKey);
        return;
      case 'StateExited': {
        const output = json(event.state.output);
        const succeeded = !this.caughtStates.delete(stateKey);
        const invocation = this.attempts.get(stateKey);
        this.attempts.delete(stateKey);
        if (lambda && succeeded) {
          this.add(lane, timestamp, 'LambdaFunctionSucceeded', {
            lambdaFunctionSucceededEventDetails: { output: json(invocation?.result), outputDetails: { truncated: false } },
          });
        }
        if (integration && succeeded) {
          this.submitIntegration(lane, stateKey, timestamp, integration, invocation);
          this.add(lane, timestamp, 'TaskSucceeded', {
            taskSucceededEventDetails: {
              ...integrationResource(integration),
              output: json(invocation?.result),
              outputDetails: { truncated: false },
            },
          });
        }
        if (isMap && succeeded) this.add(lane, timestamp, `${type}StateSucceeded`, {}, this.lastIterationEvent.get(name));
        this.lastIterationEvent.delete(name);
        this.add(lane, timestamp, `${type}StateExited`, { stateExitedEventDetails: { name, output, outputDetails: { truncated: false } } });
        return;
      }
    }
  }

  /**
   * A Distributed Map, which the interpreter runs as a Task: its Map Run's events instead of a Task's. The run's
   * progress is known once the attempt has ended, so MapStateStarted and MapRunStarted are written then, in order.
   */
  private recordDistributedMapEvent(event: Extract<EventLog, { state: unknown }>, lane: string, timestamp: number): void {
    const { name } = event.state;
    const stateKey = `${lane}/${name}`;
    switch (event.type) {
      case 'StateEntered': {
        this.startedDistributedMaps.delete(stateKey);
        this.add(
          lane,
          timestamp,
          'MapStateEntered',
          {
            stateEnteredEventDetails: { name, input: json(event.state.input), inputDetails: { truncated: false } },
          },
          this.firstStateLink(),
        );
        this.attempts.set(stateKey, this.nextInvocation(name));
        return;
      }
      case 'StateRetried':
        this.failingDistributedMap = undefined;
        this.attempts.set(stateKey, this.nextInvocation(name));
        return;
      case 'StateFailed':
        this.closeMapRun(lane, stateKey, timestamp, { error: event.Error, cause: causeText(event.Cause) });
        this.failingDistributedMap = { lane, timestamp };
        return;
      case 'StateCaught':
        this.failingDistributedMap = undefined;
        this.caughtStates.add(stateKey);
        this.add(lane, timestamp, 'MapStateFailed', {});
        return;
      case 'StateExited': {
        if (!this.caughtStates.delete(stateKey)) {
          this.closeMapRun(lane, stateKey, timestamp);
          this.add(lane, timestamp, 'MapStateSucceeded', {});
        }
        this.add(lane, timestamp, 'MapStateExited', {
          stateExitedEventDetails: { name, output: json(event.state.output), outputDetails: { truncated: false } },
        });
        return;
      }
    }
  }

  /** MapStateStarted (once per entry), then the attempt's MapRunStarted and how its run ended. */
  private closeMapRun(lane: string, stateKey: string, timestamp: number, failure?: { error?: string; cause?: string }): void {
    const mapRun = this.attempts.get(stateKey)?.mapRun;
    this.attempts.delete(stateKey);
    if (!this.startedDistributedMaps.has(stateKey)) {
      this.startedDistributedMaps.add(stateKey);
      this.add(lane, timestamp, 'MapStateStarted', { mapStateStartedEventDetails: { length: mapRun?.length ?? 0 } });
    }
    if (!mapRun) return;
    this.add(lane, timestamp, 'MapRunStarted', { mapRunStartedEventDetails: { mapRunArn: mapRun.mapRunArn } });
    if (failure) this.add(lane, timestamp, 'MapRunFailed', { mapRunFailedEventDetails: errorDetails(failure) });
    else this.add(lane, timestamp, 'MapRunSucceeded', {});
  }

  private scheduleIntegration(lane: string, stateName: string, timestamp: number, integration: StartExecutionResource): void {
    const invocation = this.nextInvocation(stateName);
    this.attempts.set(`${lane}/${stateName}`, invocation);
    this.add(lane, timestamp, 'TaskScheduled', {
      taskScheduledEventDetails: { ...integrationResource(integration), region: this.region, parameters: json(invocation?.input) },
    });
    this.add(lane, timestamp, 'TaskStarted', { taskStartedEventDetails: integrationResource(integration) });
  }

  /** TaskSubmitted, once the attempt's child execution had started (a failure to start it has none). */
  private submitIntegration(
    lane: string,
    stateKey: string,
    timestamp: number,
    integration: StartExecutionResource,
    invocation = this.attempts.get(stateKey),
  ): void {
    if (invocation?.submitted === undefined) return;
    this.add(lane, timestamp, 'TaskSubmitted', {
      taskSubmittedEventDetails: {
        ...integrationResource(integration),
        output: json(invocation.submitted),
        outputDetails: { truncated: false },
      },
    });
  }

  /** AWS links the execution's first state to no earlier event (0); later ones follow their lane. */
  private firstStateLink(): 0 | undefined {
    const first = !this.stateEntered;
    this.stateEntered = true;
    return first ? 0 : undefined;
  }

  /** The payload the function was sent, after InputPath and Parameters: what AWS records as scheduled. */
  private scheduleLambda(lane: string, stateName: string, timestamp: number, lambda: LambdaFunction): void {
    const invocation = this.nextInvocation(stateName);
    this.attempts.set(`${lane}/${stateName}`, invocation);
    this.add(lane, timestamp, 'LambdaFunctionScheduled', {
      lambdaFunctionScheduledEventDetails: { resource: lambda.arn, input: json(invocation?.input), inputDetails: { truncated: false } },
    });
    this.add(lane, timestamp, 'LambdaFunctionStarted', {});
  }

  /** How many items the Map iterates over: its `ItemsPath` (default `$`) of its input after `InputPath`. */
  private mapLength(name: string, input: unknown): number {
    const { inputPath = '$', itemsPath = '$' } = this.mapItems.get(name) ?? {};
    const [effectiveInput] = select(inputPath, input);
    const [items] = select(itemsPath, effectiveInput);
    return Array.isArray(items) ? items.length : 0;
  }

  /** Appends an event after the last one of its lane, or after `previous` where AWS links it elsewhere. */
  private add(lane: string, timestamp: number, type: string, details: Record<string, Record<string, unknown>>, previous?: number): number {
    const id = ++this.eventCount;
    const previousEventId = previous ?? this.laneTails.get(lane) ?? this.laneTails.get(ROOT_LANE) ?? 0;
    this.append({ id, previousEventId, timestamp, type, ...details });
    this.laneTails.set(lane, id);
    return id;
  }
}

/** The values a reference path selects; `$` is the whole value. */
function select(path: string, value: unknown): unknown[] {
  if (path === '$') return [value];
  if (!isPlainObject(value) && !Array.isArray(value)) return [];
  return JSONPath({ path, json: value, wrap: true }) as unknown[];
}

function laneOf(mapIndex: number | undefined): string {
  return mapIndex === undefined ? ROOT_LANE : `iteration-${mapIndex}`;
}

function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** The interpreter passes through whatever `cause` an error carried; AWS always has a string. */
function causeText(cause: unknown): string | undefined {
  if (cause === undefined || typeof cause === 'string') return cause;
  return cause instanceof Error ? cause.message : JSON.stringify(cause);
}

function integrationResource(integration: StartExecutionResource): { resourceType: string; resource: string } {
  return { resourceType: 'states', resource: integration };
}

function errorDetails({ error, cause }: { error?: string | undefined; cause?: string | undefined }): Record<string, unknown> {
  return { ...(error === undefined ? {} : { error }), ...(cause === undefined ? {} : { cause }) };
}
