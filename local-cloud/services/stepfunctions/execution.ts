import { StateMachine } from 'aws-local-stepfunctions';
import type { LambdaRegistry } from '../../lambda/lambda-registry.ts';
import { ExecutionHistory, type ExecutionOutcome } from './execution-history.ts';
import { lambdaTaskHandler, type TaskHandler } from './lambda-task.ts';
import { DATA_LIMIT_EXCEEDED, payloadOverQuota } from './payload-quota.ts';
import type { LocalStateMachine } from './state-machine-definitions.ts';
import { applyTimeScale } from './time-scale.ts';

export type ExecutionStatus = 'RUNNING' | ExecutionOutcome['status'];

/** One execution, running in the background of the local cloud's process. */
export interface Execution {
  readonly arn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  /** The input as the caller sent it (a JSON string). */
  readonly input: string;
  /** Epoch milliseconds. */
  readonly startDate: number;
  readonly history: ExecutionHistory;
  readonly status: ExecutionStatus;
  readonly stopDate: number | undefined;
  readonly outcome: ExecutionOutcome | undefined;
  /** Settles when the execution has closed, its history is complete and no function it invoked still runs; never rejects. */
  readonly completion: Promise<void>;
  stop(error: string | undefined, cause: string | undefined): void;
}

/** A state machine prepared once for every execution: validated, time-scaled, tasks bound to handlers. */
export interface RunnableStateMachine {
  readonly machine: LocalStateMachine;
  start(options: { arn: string; name: string; stateMachineArn: string; roleArn: string; input: string }): Execution;
}

export function prepareStateMachine(machine: LocalStateMachine, lambdas: LambdaRegistry, timeScale: number): RunnableStateMachine {
  // Validate what AWS would validate, then run the time-scaled copy (scaled intervals may be fractional, which
  // the validator rejects although the interpreter handles them).
  new StateMachine(machine.definition);
  const timed = applyTimeScale(machine.definition, timeScale);
  const interpreter = new StateMachine(timed.definition, { validationOptions: { noValidate: true } });
  const taskHandlers = [...machine.lambdaTasks].map(([stateName, fn]) => [stateName, lambdaTaskHandler(fn, lambdas)] as const);

  return {
    machine,
    start({ arn, name, stateMachineArn, roleArn, input }) {
      const startDate = Date.now();
      const history = new ExecutionHistory(machine.lambdaTasks, roleArn);
      // Set before the interpreter exists: a task can break the quota as soon as the run starts.
      let failOnDataLimit = (_cause: string) => {};
      const tasks = new TaskInvocations(taskHandlers, arn, (cause) => failOnDataLimit(cause));
      const run = interpreter.run(JSON.parse(input), {
        overrides: { taskResourceLocalHandlers: tasks.handlers, waitTimeOverrides: timed.waitTimeOverrides, retryIntervalOverrides: timed.retryIntervalOverrides },
        context: {
          Execution: { Id: arn, Name: name, RoleArn: roleArn, StartTime: new Date(startDate).toISOString() },
          StateMachine: { Id: stateMachineArn, Name: machine.name },
        },
      });
      failOnDataLimit = (cause) => {
        tasks.close();
        history.setTerminalFailure(DATA_LIMIT_EXCEEDED, cause);
        run.abort();
      };
      let stopDate: number | undefined;
      const completion = (async () => {
        // The result is read from the log's closing event; its rejection (failure, abort) is expected.
        run.result.catch(() => undefined);
        for await (const event of run.eventLogs) {
          const cause = event.type === 'StateExited' ? payloadOverQuota(event.state.output, `The output of state ${event.state.name}`) : undefined;
          if (cause) failOnDataLimit(cause);
          history.record(event);
        }
        tasks.close();
        stopDate = Date.now();
        // An abort closes the history at once; a function already invoked still runs to its end.
        await tasks.settled();
      })();
      return {
        arn,
        name,
        stateMachineArn,
        input,
        startDate,
        history,
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
          tasks.close();
          history.setStopReason(error, cause);
          run.abort();
        },
      };
    },
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

  readonly #onDataLimitExceeded: (cause: string) => void;

  constructor(
    taskHandlers: ReadonlyArray<readonly [stateName: string, handler: TaskHandler]>,
    executionArn: string,
    onDataLimitExceeded: (cause: string) => void,
  ) {
    this.#onDataLimitExceeded = onDataLimitExceeded;
    this.handlers = Object.fromEntries(
      taskHandlers.map(([stateName, handler]) => [stateName, (input: TaskInput) => this.#invoke(handler, input, stateName, `${executionArn} ${stateName}`)]),
    );
  }

  close(): void {
    this.#open = false;
  }

  async settled(): Promise<void> {
    await Promise.allSettled(this.#running);
  }

  async #invoke(handler: TaskHandler, input: TaskInput, stateName: string, task: string): Promise<TaskOutput> {
    this.#checkPayload(input, `The input of state ${stateName} (after Parameters)`);
    if (!this.#open) throw new Error(`The execution has closed; Task ${task} is not run`);
    const invocation = Promise.resolve(handler(input));
    this.#running.add(invocation);
    try {
      const result = await invocation;
      this.#checkPayload(result, `The result of state ${stateName}`);
      return result;
    } finally {
      this.#running.delete(invocation);
    }
  }

  #checkPayload(payload: unknown, what: string): void {
    const cause = payloadOverQuota(payload, what);
    if (cause) this.#onDataLimitExceeded(cause);
  }
}
