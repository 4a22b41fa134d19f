import { randomUUID } from 'node:crypto';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { LambdaRegistry } from '../../lambda/lambda-registry.ts';
import { forEachOwnState } from './asl-states.ts';
import { StepFunctionsError } from './aws-json-protocol.ts';
import type { ObjectStore } from './distributed-map/items.ts';
import { type ChildStatus, type MapRunRecord, runMapRun } from './distributed-map/map-run.ts';
import { StatesError } from './distributed-map/states-error.ts';
import { ExecutionHistory, type TaskInvocation } from './execution-history.ts';
import type { ExecutionJournal, ExecutionView } from './execution-store.ts';
import { lambdaTaskHandler, type TaskHandler } from './lambda-task.ts';
import { DATA_LIMIT_EXCEEDED, payloadOverQuota } from './payload-quota.ts';
import type { DistributedMap, LocalStateMachine, StartExecutionResource } from './state-machine-definitions.ts';
import { applyTimeScale } from './time-scale.ts';

/** One execution, running in the background of the local cloud's process; once closed, the store describes it. */
export interface Execution extends ExecutionView {
  /** Settles when the execution has closed, its history is complete and no function it invoked still runs; never rejects. */
  readonly completion: Promise<void>;
  stop(error: string | undefined, cause: string | undefined): void;
}

export interface StartRequest {
  stateMachineArn: string;
  name?: string;
  /** A JSON string. */
  input: string;
  mapRunArn?: string;
}

/** What an execution's Step Functions tasks ask of the service that runs them. */
export interface ExecutionRuntime {
  /** StartExecution's own path (model constraints, naming, idempotency), in the region of the execution that asks. */
  startExecution(request: StartRequest, region: string): Execution;
  /** Keeps a Map Run for DescribeMapRun and ListMapRuns; the record is updated in place while the run goes. */
  registerMapRun(record: MapRunRecord, stateMachineArn: string): void;
  /** The Map Run's record will not change any more. */
  mapRunClosed(record: MapRunRecord): void;
  /** The local cloud's S3, over HTTP. */
  objects: ObjectStore;
  /** An execution as the execution store keeps it. */
  closedExecution(arn: string): ExecutionView | undefined;
}

/** A state machine prepared once for every execution: validated, time-scaled, tasks bound to handlers. */
export interface RunnableStateMachine {
  readonly machine: LocalStateMachine;
  /** Runs an execution whose history and outcome go to `journal` as they happen. */
  start(
    options: { arn: string; name: string; stateMachineArn: string; roleArn: string; input: string; mapRunArn?: string; startDate: number },
    journal: ExecutionJournal,
  ): Execution;
}

/** A Task's handler as an execution runs it: with the record of its invocation, where integrations leave what the history shows. */
type LocalTaskHandler = (input: TaskInput, invocation: TaskInvocation) => Promise<TaskOutput> | TaskOutput;

/** What the handlers of one execution share. */
interface ExecutionScope {
  arn: string;
  region: string;
  accountId: string;
  runtime: ExecutionRuntime;
  /** Aborted when the execution is stopped or fails on the payload quota: its children are stopped with it. */
  signal: AbortSignal;
  /** Starts an execution this one waits for, and stops it if this one is stopped. */
  startChild(request: StartRequest): Execution;
}

/**
 * Node's timers take at most 2^31 - 1 ms; a longer one fires at once. AWS gives a Task without TimeoutSeconds
 * 99,999,999 s, far past a local run.
 */
const UNBOUNDED_TASK_SECONDS = 2_147_483;

/** The fields a Distributed Map keeps as the Task state the interpreter runs in its place. */
const FIELDS_KEPT_FROM_MAP = ['Comment', 'InputPath', 'ResultSelector', 'ResultPath', 'OutputPath', 'Retry', 'Catch', 'Next', 'End'];

export function prepareStateMachine(
  machine: LocalStateMachine,
  lambdas: LambdaRegistry,
  timeScale: number,
  runtime: ExecutionRuntime,
): RunnableStateMachine {
  // Validate what AWS would validate, then run the time-scaled copy (scaled intervals may be fractional, which
  // the validator rejects although the interpreter handles them).
  new StateMachine(machine.definition);
  const timed = applyTimeScale(interpreterDefinition(machine), timeScale);
  const interpreter = new StateMachine(timed.definition, { validationOptions: { noValidate: true } });
  const handlerFactories: (readonly [stateName: string, (scope: ExecutionScope) => LocalTaskHandler])[] = [
    ...[...machine.lambdaTasks].map(([stateName, fn]) => [stateName, () => lambdaTaskHandler(fn, lambdas)] as const),
    ...[...machine.serviceTasks].map(
      ([stateName, resource]) => [stateName, (scope: ExecutionScope) => startExecutionHandler(resource, scope)] as const,
    ),
    ...[...machine.distributedMaps].map(
      ([stateName, map]) => [stateName, (scope: ExecutionScope) => distributedMapHandler(map, scope)] as const,
    ),
  ];

  return {
    machine,
    start({ arn, name, stateMachineArn, roleArn, input, mapRunArn, startDate }, journal) {
      const [, , , region = '', accountId = ''] = arn.split(':');
      const abort = new AbortController();
      const children = new Set<Execution>();
      abort.signal.addEventListener('abort', () => {
        for (const child of children) if (child.status === 'RUNNING') child.stop(undefined, undefined);
      });
      // A closed child is the store's to describe: holding it here would keep every child of a Map Run in memory.
      const watch = (child: Execution) => {
        children.add(child);
        void child.completion.then(() => children.delete(child));
      };
      const scope: ExecutionScope = {
        arn,
        region,
        accountId,
        runtime,
        signal: abort.signal,
        startChild(request) {
          if (abort.signal.aborted) throw new Error(`The execution ${arn} has been stopped; no child is started`);
          const child = runtime.startExecution(request, region);
          watch(child);
          return child;
        },
      };
      // Set before the interpreter exists: a task can break the quota as soon as the run starts.
      let failOnDataLimit = (_cause: string) => {};
      const tasks = new TaskInvocations(
        handlerFactories.map(([stateName, factory]) => [stateName, factory(scope)] as const),
        new Set(machine.distributedMaps.keys()),
        arn,
        (cause) => failOnDataLimit(cause),
      );
      const history = new ExecutionHistory(machine, { roleArn, region }, (stateName) => tasks.next(stateName), journal.append);
      const run = interpreter.run(JSON.parse(input), {
        overrides: {
          taskResourceLocalHandlers: tasks.handlers,
          waitTimeOverrides: timed.waitTimeOverrides,
          retryIntervalOverrides: timed.retryIntervalOverrides,
        },
        context: {
          Execution: { Id: arn, Input: JSON.parse(input), Name: name, RoleArn: roleArn, StartTime: new Date(startDate).toISOString() },
          StateMachine: { Id: stateMachineArn, Name: machine.name },
        },
      });
      const close = () => {
        tasks.close();
        abort.abort();
      };
      failOnDataLimit = (cause) => {
        close();
        history.setTerminalFailure(DATA_LIMIT_EXCEEDED, cause);
        run.abort();
      };
      let stopDate: number | undefined;
      const completion = (async () => {
        // The result is read from the log's closing event; its rejection (failure, abort) is expected.
        run.result.catch(() => undefined);
        for await (const event of run.eventLogs) {
          const cause =
            event.type === 'StateExited' ? payloadOverQuota(event.state.output, `The output of state ${event.state.name}`) : undefined;
          if (cause) failOnDataLimit(cause);
          history.record(event);
        }
        tasks.close();
        stopDate = Date.now();
        journal.close(history.outcome ?? { status: 'FAILED' }, stopDate);
        // An abort closes the history at once; a function already invoked still runs to its end.
        await tasks.settled();
      })();
      return {
        arn,
        name,
        stateMachineArn,
        input,
        mapRunArn,
        startDate,
        completion,
        get status() {
          return stopDate === undefined ? 'RUNNING' : (history.outcome?.status ?? 'FAILED');
        },
        get stopDate() {
          return stopDate;
        },
        get outcome() {
          return stopDate === undefined ? undefined : history.outcome;
        },
        stop(error, cause) {
          close();
          history.setStopReason(error, cause);
          run.abort();
        },
      };
    },
  };
}

/**
 * The definition the interpreter runs, which cannot run a DISTRIBUTED Map: each becomes a Task state whose local
 * handler runs the Map Run, sent the state's effective input and the context object. The integrations' Tasks
 * wait for their child as long as AWS would.
 */
function interpreterDefinition(machine: LocalStateMachine): StateMachineDefinition {
  const definition = structuredClone(machine.definition);
  forEachOwnState(definition, (stateName, state) => {
    if (machine.serviceTasks.has(stateName)) state.TimeoutSeconds ??= UNBOUNDED_TASK_SECONDS;
    if (!machine.distributedMaps.has(stateName)) return;
    const kept = Object.fromEntries(FIELDS_KEPT_FROM_MAP.filter((field) => field in state).map((field) => [field, state[field]]));
    for (const field of Object.keys(state)) delete state[field];
    Object.assign(state, {
      Type: 'Task',
      Resource: 'arn:aws:states:::local:distributedMap',
      Parameters: { 'input.$': '$', 'context.$': '$$' },
      TimeoutSeconds: UNBOUNDED_TASK_SECONDS,
      ...kept,
    });
  });
  return definition;
}

/**
 * A Distributed Map: one Map Run, whose children are executions of the child state machine started through
 * StartExecution's own path, so they are listed, described and stopped as any execution.
 */
function distributedMapHandler(map: DistributedMap, scope: ExecutionScope): LocalTaskHandler {
  const childMachineArn = `arn:aws:states:${scope.region}:${scope.accountId}:stateMachine:${map.child.name}`;
  return async (taskInput, invocation) => {
    const { input, context } = taskInput as { input: unknown; context: unknown };
    const mapRunArn = `arn:aws:states:${scope.region}:${scope.accountId}:mapRun:${map.child.name}:${randomUUID()}`;
    const mapRun = { mapRunArn, length: 0 };
    invocation.mapRun = mapRun;
    let record: MapRunRecord | undefined;
    try {
      return (await runMapRun(
        map.state,
        { input, context, mapRunArn, executionArn: scope.arn },
        {
          objects: scope.runtime.objects,
          started(started) {
            record = started;
            mapRun.length = started.itemCounts.total;
            scope.runtime.registerMapRun(started, childMachineArn);
          },
          async runChild(name, childInput) {
            const child = scope.startChild({ stateMachineArn: childMachineArn, name, input: childInput, mapRunArn });
            await child.completion;
            return { executionArn: child.arn, status: child.status as ChildStatus };
          },
          childOutcome(executionArn) {
            const child = scope.runtime.closedExecution(executionArn);
            if (!child?.outcome) throw new Error(`The Map Run's child ${executionArn} is not a closed execution`);
            return {
              executionArn,
              name: child.name,
              stateMachineArn: child.stateMachineArn,
              input: child.input,
              ...child.outcome,
              status: child.outcome.status as ChildStatus,
              startDate: new Date(child.startDate),
              stopDate: new Date(child.stopDate ?? child.startDate),
            };
          },
        },
      )) as TaskOutput;
    } catch (error) {
      // The run failed before it knew its items (ItemReaderFailed): it is still a Map Run, as the history says.
      if (!record) {
        record = failedBeforeStart(mapRunArn, scope.arn);
        scope.runtime.registerMapRun(record, childMachineArn);
      }
      throw error;
    } finally {
      if (record && scope.signal.aborted) {
        record.status = 'ABORTED';
        record.stopDate ??= new Date();
      }
      if (record) scope.runtime.mapRunClosed(record);
    }
  };
}

function failedBeforeStart(mapRunArn: string, executionArn: string): MapRunRecord {
  const counts = () => ({ pending: 0, running: 0, succeeded: 0, failed: 0, timedOut: 0, aborted: 0, total: 0, resultsWritten: 0 });
  const now = new Date();
  return {
    mapRunArn,
    executionArn,
    status: 'FAILED',
    startDate: now,
    stopDate: now,
    maxConcurrency: 0,
    toleratedFailurePercentage: 0,
    toleratedFailureCount: 0,
    itemCounts: counts(),
    executionCounts: counts(),
  };
}

/**
 * Step Functions' `states:startExecution` integration: the request (`StateMachineArn`, `Input`, `Name`) goes
 * through StartExecution's own path; `.sync` and `.sync:2` wait for the execution and return its description
 * (`.sync:2` with `Output` parsed), and a child that does not succeed fails the Task with States.TaskFailed and
 * that description as its Cause. The service's own errors keep their names, prefixed `StepFunctions.`.
 */
function startExecutionHandler(resource: StartExecutionResource, scope: ExecutionScope): LocalTaskHandler {
  return async (parameters, invocation) => {
    const { StateMachineArn, Input, Name } = (parameters ?? {}) as { StateMachineArn?: unknown; Input?: unknown; Name?: unknown };
    const request: StartRequest = {
      stateMachineArn: String(StateMachineArn),
      input: typeof Input === 'string' ? Input : JSON.stringify(Input ?? {}),
      ...(typeof Name === 'string' && { name: Name }),
    };
    let execution: Execution;
    try {
      // Only an execution the Task waits for is stopped with its parent; a started one is on its own.
      execution = resource === 'startExecution' ? scope.runtime.startExecution(request, scope.region) : scope.startChild(request);
    } catch (error) {
      throw error instanceof StepFunctionsError ? new StatesError(`StepFunctions.${error.name}`, error.message) : error;
    }
    const submitted = { ExecutionArn: execution.arn, StartDate: execution.startDate };
    invocation.submitted = submitted;
    if (resource === 'startExecution') return submitted as TaskOutput;
    await execution.completion;
    const description = integrationDescription(execution, resource === 'startExecution.sync:2');
    if (execution.status !== 'SUCCEEDED') throw new StatesError('States.TaskFailed', JSON.stringify(description));
    return description as TaskOutput;
  };
}

/** DescribeExecution's answer as the integration returns it: PascalCase keys, dates in epoch milliseconds. */
function integrationDescription(execution: Execution, parseOutput: boolean): Record<string, unknown> {
  const outcome = execution.outcome;
  const output = outcome?.output;
  return {
    ExecutionArn: execution.arn,
    Input: execution.input,
    InputDetails: { Included: true },
    Name: execution.name,
    ...(output !== undefined && { Output: parseOutput ? (JSON.parse(output) as unknown) : output, OutputDetails: { Included: true } }),
    ...(outcome?.error !== undefined && { Error: outcome.error }),
    ...(outcome?.cause !== undefined && { Cause: outcome.cause }),
    RedriveCount: 0,
    StartDate: execution.startDate,
    StateMachineArn: execution.stateMachineArn,
    Status: execution.status,
    StopDate: execution.stopDate,
  };
}

type TaskInput = Parameters<TaskHandler>[0];
type TaskOutput = Awaited<ReturnType<TaskHandler>>;

/**
 * The functions one execution invokes. The interpreter retries a failed Task even after an abort (the backoff
 * just ends early), so functions are invoked only while the execution is open; the invocations under way are
 * kept so that the execution's completion can wait for them.
 */
class TaskInvocations {
  readonly handlers: Record<string, TaskHandler>;
  #open = true;
  readonly #running = new Set<Promise<unknown>>();
  /** Per state, the invocations the history has not yet taken, oldest first. */
  readonly #unread = new Map<string, TaskInvocation[]>();

  readonly #onDataLimitExceeded: (cause: string) => void;
  /** States sent `{input, context}`, whose payload is the `input` alone. */
  readonly #withContext: ReadonlySet<string>;

  constructor(
    taskHandlers: ReadonlyArray<readonly [stateName: string, handler: LocalTaskHandler]>,
    withContext: ReadonlySet<string>,
    executionArn: string,
    onDataLimitExceeded: (cause: string) => void,
  ) {
    this.#onDataLimitExceeded = onDataLimitExceeded;
    this.#withContext = withContext;
    this.handlers = Object.fromEntries(
      taskHandlers.map(([stateName, handler]) => [
        stateName,
        (input: TaskInput) => this.#invoke(handler, input, stateName, `${executionArn} ${stateName}`),
      ]),
    );
  }

  close(): void {
    this.#open = false;
  }

  /** The oldest invocation of the state's function that the history has not yet taken. */
  next(stateName: string): TaskInvocation | undefined {
    return this.#unread.get(stateName)?.shift();
  }

  async settled(): Promise<void> {
    await Promise.allSettled(this.#running);
  }

  async #invoke(handler: LocalTaskHandler, input: TaskInput, stateName: string, task: string): Promise<TaskOutput> {
    const invocation: TaskInvocation = { input };
    const unread = this.#unread.get(stateName) ?? [];
    unread.push(invocation);
    this.#unread.set(stateName, unread);
    const payload = this.#withContext.has(stateName) ? (input as { input?: unknown }).input : input;
    this.#checkPayload(payload, `The input of state ${stateName} (after Parameters)`);
    if (!this.#open) throw new Error(`The execution has closed; Task ${task} is not run`);
    const running = Promise.resolve(handler(input, invocation));
    this.#running.add(running);
    try {
      const result = await running;
      invocation.result = result;
      this.#checkPayload(result, `The result of state ${stateName}`);
      return result;
    } finally {
      this.#running.delete(running);
    }
  }

  #checkPayload(payload: unknown, what: string): void {
    const cause = payloadOverQuota(payload, what);
    if (cause) this.#onDataLimitExceeded(cause);
  }
}
