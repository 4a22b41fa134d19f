import { StateMachine } from 'aws-local-stepfunctions';
import type { LambdaRegistry } from '../../lambda/lambda-registry.ts';
import { ExecutionHistory, type ExecutionOutcome } from './execution-history.ts';
import { lambdaTaskHandler, type TaskHandler } from './lambda-task.ts';
import type { LocalStateMachine } from './state-machine-definitions.ts';
import { applyTimeScale } from './time-scale.ts';

export type ExecutionStatus = 'RUNNING' | ExecutionOutcome['status'];

/** One execution, running in the background of the local cloud's process. */
export interface Execution {
  readonly arn: string;
  readonly name: string;
  readonly stateMachineName: string;
  readonly stateMachineArn: string;
  /** The input as the caller sent it (a JSON string). */
  readonly input: string;
  /** Epoch milliseconds. */
  readonly startDate: number;
  readonly history: ExecutionHistory;
  readonly status: ExecutionStatus;
  readonly stopDate: number | undefined;
  readonly outcome: ExecutionOutcome | undefined;
  /** Settles when the execution has closed and its history is complete; never rejects. */
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
  const taskResourceLocalHandlers: Record<string, TaskHandler> = {};
  for (const [stateName, fn] of machine.lambdaTasks) taskResourceLocalHandlers[stateName] = lambdaTaskHandler(fn, lambdas);
  const overrides = { taskResourceLocalHandlers, waitTimeOverrides: timed.waitTimeOverrides, retryIntervalOverrides: timed.retryIntervalOverrides };

  return {
    machine,
    start({ arn, name, stateMachineArn, roleArn, input }) {
      const startDate = Date.now();
      const history = new ExecutionHistory(machine.lambdaTasks, roleArn);
      const run = interpreter.run(JSON.parse(input), {
        overrides,
        context: {
          Execution: { Id: arn, Name: name, RoleArn: roleArn, StartTime: new Date(startDate).toISOString() },
          StateMachine: { Id: stateMachineArn, Name: machine.name },
        },
      });
      let stopDate: number | undefined;
      const completion = (async () => {
        // The result is read from the log's closing event; its rejection (failure, abort) is expected.
        run.result.catch(() => undefined);
        for await (const event of run.eventLogs) history.record(event);
        stopDate = Date.now();
      })();
      return {
        arn,
        name,
        stateMachineName: machine.name,
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
          history.setStopReason(error, cause);
          run.abort();
        },
      };
    },
  };
}
