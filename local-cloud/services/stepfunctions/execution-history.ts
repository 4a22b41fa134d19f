import type { StateMachine } from 'aws-local-stepfunctions';
import type { LambdaFunction } from '../../lambda/lambda-registry.ts';

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

/** The interpreter's log entry type, which the package does not export by name. */
type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer Event> ? Event : never;

const ROOT_LANE = 'root';
const TIMEOUT_ERROR = 'States.Timeout';
const CLOSING_EVENTS = new Set<string>(['ExecutionSucceeded', 'ExecutionFailed', 'ExecutionAborted', 'ExecutionTimeout']);

/**
 * Turns the interpreter's event log into AWS execution history. The interpreter logs states, retries and catches;
 * the Lambda lifecycle of a Task is derived from them: entering a Task (or retrying it) schedules and starts its
 * function, a failure of the Task state is the function failing (or timing out on `States.Timeout`), and a Task
 * exiting without having been caught is the function succeeding. Known divergences: `LambdaFunctionScheduled.input`
 * is the state input before `Parameters`, and `LambdaFunctionSucceeded.output` the state output after
 * `ResultSelector`/`ResultPath`/`OutputPath`.
 */
export class ExecutionHistory {
  readonly events: HistoryEvent[] = [];
  private readonly lambdaTasks: ReadonlyMap<string, LambdaFunction>;
  private readonly roleArn: string;
  /** Last event id per concurrency lane (the root, or one Map iteration), so `previousEventId` follows causality. */
  private readonly laneTails = new Map<string, number>();
  /** States whose current failure was caught: their exit is not a success. */
  private readonly caughtStates = new Set<string>();
  private outcomeValue: ExecutionOutcome | undefined;
  private stopReason: { error?: string; cause?: string } = {};
  /** A terminal error (States.DataLimitExceeded), which States.ALL does not catch: the execution closes as FAILED with it. */
  private terminalFailure: { error: string; cause: string } | undefined;

  constructor(lambdaTasks: ReadonlyMap<string, LambdaFunction>, roleArn: string) {
    this.lambdaTasks = lambdaTasks;
    this.roleArn = roleArn;
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
        this.outcomeValue = { status: 'FAILED', error: event.Error, cause: causeText(event.Cause) };
        this.add(ROOT_LANE, timestamp, 'ExecutionFailed', { executionFailedEventDetails: errorDetails(this.outcomeValue) });
        return;
      case 'ExecutionAborted':
        this.outcomeValue = { status: 'ABORTED', ...this.stopReason };
        this.add(ROOT_LANE, timestamp, 'ExecutionAborted', { executionAbortedEventDetails: errorDetails(this.stopReason) });
        return;
      case 'ExecutionTimeout':
        this.outcomeValue = { status: 'TIMED_OUT', error: TIMEOUT_ERROR, cause: 'The execution timed out (TimeoutSeconds of the state machine).' };
        this.add(ROOT_LANE, timestamp, 'ExecutionTimedOut', { executionTimedOutEventDetails: errorDetails(this.outcomeValue) });
        return;
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const lane = laneOf(event.index);
        // A new iteration starts from its Map state, not from whatever an earlier Map left in the same lane.
        if (event.type === 'MapIterationStarted') this.laneTails.delete(lane);
        const detailsKey = `mapIteration${event.type.slice('MapIteration'.length)}EventDetails`;
        this.add(lane, timestamp, event.type, { [detailsKey]: { name: event.parentState.name, index: event.index } });
        return;
      }
      case 'StateEntered':
      case 'StateExited':
      case 'StateFailed':
      case 'StateRetried':
      case 'StateCaught':
        this.recordStateEvent(event, laneOf(event.index), timestamp);
        return;
      default:
        // Parallel branch events have no AWS history counterpart.
        return;
    }
  }

  private recordStateEvent(event: Extract<EventLog, { state: unknown }>, lane: string, timestamp: number): void {
    const { name, type } = event.state;
    const lambda = type === 'Task' ? this.lambdaTasks.get(name) : undefined;
    const stateKey = `${lane}/${name}`;
    switch (event.type) {
      case 'StateEntered':
        this.add(lane, timestamp, `${type}StateEntered`, {
          stateEnteredEventDetails: { name, input: json(event.state.input), inputDetails: { truncated: false } },
        });
        if (type === 'Map' || type === 'Parallel') this.add(lane, timestamp, `${type}StateStarted`, {});
        if (lambda) this.scheduleLambda(lane, timestamp, lambda, event.state.input);
        return;
      case 'StateRetried':
        if (lambda) this.scheduleLambda(lane, timestamp, lambda, event.state.input);
        return;
      case 'StateFailed': {
        const details = errorDetails({ error: event.Error, cause: causeText(event.Cause) });
        if (lambda && event.Error === TIMEOUT_ERROR) this.add(lane, timestamp, 'LambdaFunctionTimedOut', { lambdaFunctionTimedOutEventDetails: details });
        else if (lambda) this.add(lane, timestamp, 'LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: details });
        else if (type === 'Map' || type === 'Parallel') this.add(lane, timestamp, `${type}StateFailed`, {});
        return;
      }
      case 'StateCaught':
        this.caughtStates.add(stateKey);
        return;
      case 'StateExited': {
        const output = json(event.state.output);
        const succeeded = !this.caughtStates.delete(stateKey);
        if (lambda && succeeded) {
          this.add(lane, timestamp, 'LambdaFunctionSucceeded', { lambdaFunctionSucceededEventDetails: { output, outputDetails: { truncated: false } } });
        }
        if ((type === 'Map' || type === 'Parallel') && succeeded) this.add(lane, timestamp, `${type}StateSucceeded`, {});
        this.add(lane, timestamp, `${type}StateExited`, { stateExitedEventDetails: { name, output, outputDetails: { truncated: false } } });
        return;
      }
    }
  }

  private scheduleLambda(lane: string, timestamp: number, lambda: LambdaFunction, input: unknown): void {
    this.add(lane, timestamp, 'LambdaFunctionScheduled', {
      lambdaFunctionScheduledEventDetails: { resource: lambda.arn, input: json(input), inputDetails: { truncated: false } },
    });
    this.add(lane, timestamp, 'LambdaFunctionStarted', {});
  }

  private add(lane: string, timestamp: number, type: string, details: Record<string, Record<string, unknown>>): void {
    const id = this.events.length + 1;
    const previousEventId = this.laneTails.get(lane) ?? this.laneTails.get(ROOT_LANE) ?? 0;
    this.events.push({ id, previousEventId, timestamp, type, ...details });
    this.laneTails.set(lane, id);
  }
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

function errorDetails({ error, cause }: { error?: string | undefined; cause?: string | undefined }): Record<string, unknown> {
  return { ...(error === undefined ? {} : { error }), ...(cause === undefined ? {} : { cause }) };
}
