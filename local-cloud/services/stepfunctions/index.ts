import { LOCAL_ACCOUNT_ID } from '../../config.ts';
import type { LambdaRegistry } from '../../lambda/lambda-registry.ts';
import type { ServerlessProject } from '../../lambda/serverless-project.ts';
import type { EmulatedService } from '../../wire/service.ts';
import { encodeError, jsonResponse, operationName, parseBody, StepFunctionsError } from './aws-json-protocol.ts';
import { s3ObjectStore } from './distributed-map/s3-object-store.ts';
import { type ExecutionRuntime, prepareStateMachine, type RunnableStateMachine } from './execution.ts';
import { CLOSED_CAUSE, CLOSED_ERROR, ExecutionStore } from './execution-store.ts';
import { type StepFunctionsState, startExecution, stepFunctionsOperations } from './operations.ts';
import { bindStateMachine, type LocalStateMachine, stateMachinesOf } from './state-machine-definitions.ts';

export { stateMachineArnResolver } from './state-machine-definitions.ts';
export { timeScaleFromEnv } from './time-scale.ts';

export interface StepFunctionsServiceOptions {
  /** The project whose `stepFunctions.stateMachines` are served. */
  project: ServerlessProject;
  /** Runs the Lambda tasks; built from the same project. */
  lambdas: LambdaRegistry;
  /** 1 = AWS-faithful waits and retry backoff, 0 = no waiting; see `time-scale.ts`. */
  timeScale: number;
  /** The local cloud's URL, whose S3 a Distributed Map reads its items from and writes its results to. */
  cloudUrl: () => string;
  accountId?: string;
  /**
   * The SQLite file that keeps executions, their histories and Map Runs across restarts; a temporary database
   * when absent. Executions a previous process left running are closed FAILED (`LocalCloud.Restarted`) at start.
   */
  databasePath?: string;
}

export interface StepFunctionsService extends EmulatedService {
  /** Resolves when the execution has closed (for tests and tools in the same process; clients poll DescribeExecution). */
  waitForExecution(executionArn: string): Promise<void>;
}

export function createStepFunctionsService(options: StepFunctionsServiceOptions): StepFunctionsService {
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const machines = new Map<string, RunnableStateMachine>();
  const store = new ExecutionStore(options.databasePath);
  store.failInterrupted(Date.now());
  const state: StepFunctionsState = {
    accountId,
    createdAt: Date.now(),
    machines,
    store,
    running: new Map(),
    runningMapRuns: new Map(),
  };
  const objects = s3ObjectStore({ endpoint: options.cloudUrl, region: options.project.region });
  const runtime: ExecutionRuntime = {
    startExecution: (request, region) => startExecution(state, request, region),
    registerMapRun(record, stateMachineArn) {
      const entry = { record, stateMachineArn };
      state.runningMapRuns.set(record.mapRunArn, entry);
      store.putMapRun(entry);
    },
    mapRunClosed(record) {
      const entry = state.runningMapRuns.get(record.mapRunArn);
      state.runningMapRuns.delete(record.mapRunArn);
      if (entry) store.putMapRun(entry);
    },
    objects,
    closedExecution: (arn) => store.execution(arn),
  };
  const prepare = (machine: LocalStateMachine) => {
    machines.set(machine.name, prepareStateMachine(machine, options.lambdas, options.timeScale, runtime));
    for (const { child } of machine.distributedMaps.values()) prepare(child);
  };
  for (const machine of stateMachinesOf(options.project)) prepare(bindStateMachine(machine, options.lambdas, options.project, accountId));
  const operations = stepFunctionsOperations(state);
  /** Running executions close ABORTED, as StopExecution closes them with `reason`. */
  const stopRunning = async (reason?: { error: string; cause: string }) => {
    const executions = [...state.running.values()];
    for (const execution of executions) if (execution.status === 'RUNNING') execution.stop(reason?.error, reason?.cause);
    await Promise.all(executions.map((execution) => execution.completion));
  };

  return {
    signingName: 'states',
    resolve(request) {
      const name = operationName(request);
      const operation = Object.hasOwn(operations, name) ? operations[name] : undefined;
      if (!operation) throw new StepFunctionsError('UnknownOperationException', `Unknown operation ${name}`);
      return {
        name,
        run: async () => jsonResponse(await operation(parseBody(request), request.region), request.requestId),
      };
    },
    encodeError,
    async reset() {
      await stopRunning();
      store.clear();
      objects.close();
    },
    async close() {
      // Kept, unlike on reset: the name says why they ended.
      await stopRunning({ error: CLOSED_ERROR, cause: CLOSED_CAUSE });
      objects.close();
      store.close();
    },
    async waitForExecution(executionArn) {
      const execution = state.running.get(executionArn);
      if (execution) await execution.completion;
      else if (!store.execution(executionArn))
        throw new StepFunctionsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    },
  };
}
