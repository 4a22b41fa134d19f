import { LOCAL_ACCOUNT_ID } from '../../config.ts';
import type { LambdaRegistry } from '../../lambda/lambda-registry.ts';
import type { ServerlessProject } from '../../lambda/serverless-project.ts';
import { InjectedFault } from '../../wire/injected-fault.ts';
import type { EmulatedService, ServiceResponse } from '../../wire/service.ts';
import { StepFunctionsError, encodeError, jsonResponse, operationName, parseBody } from './aws-json-protocol.ts';
import { prepareStateMachine, type RunnableStateMachine } from './execution.ts';
import { stepFunctionsOperations, type StepFunctionsState } from './operations.ts';
import { bindStateMachine, stateMachinesOf } from './state-machine-definitions.ts';

export { timeScaleFromEnv } from './time-scale.ts';
export { stateMachineArnResolver } from './state-machine-definitions.ts';

export interface StepFunctionsServiceOptions {
  /** The project whose `stepFunctions.stateMachines` are served. */
  project: ServerlessProject;
  /** Runs the Lambda tasks; built from the same project. */
  lambdas: LambdaRegistry;
  /** 1 = AWS-faithful waits and retry backoff, 0 = no waiting; see `time-scale.ts`. */
  timeScale: number;
  accountId?: string;
}

export interface StepFunctionsService extends EmulatedService {
  /** Resolves when the execution has closed (for tests and tools in the same process; clients poll DescribeExecution). */
  waitForExecution(executionArn: string): Promise<void>;
}

export function createStepFunctionsService(options: StepFunctionsServiceOptions): StepFunctionsService {
  const machines = new Map<string, RunnableStateMachine>();
  for (const machine of stateMachinesOf(options.project)) {
    machines.set(machine.name, prepareStateMachine(bindStateMachine(machine, options.lambdas), options.lambdas, options.timeScale));
  }
  const state: StepFunctionsState = {
    accountId: options.accountId ?? LOCAL_ACCOUNT_ID,
    createdAt: Date.now(),
    machines,
    executions: new Map(),
  };
  const operations = stepFunctionsOperations(state);

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
    encodeError(error, requestId): ServiceResponse {
      return encodeError(error instanceof InjectedFault ? faultAsError(error) : error, requestId);
    },
    async reset() {
      const executions = [...state.executions.values()];
      state.executions.clear();
      for (const execution of executions) if (execution.status === 'RUNNING') execution.stop(undefined, undefined);
      await Promise.all(executions.map((execution) => execution.completion));
    },
    async waitForExecution(executionArn) {
      const execution = state.executions.get(executionArn);
      if (!execution) throw new StepFunctionsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
      await execution.completion;
    },
  };
}

/** Step Functions throttles with a 400 `ThrottlingException`; its server faults are 500/503 without a modelled shape. */
function faultAsError(fault: InjectedFault): StepFunctionsError {
  switch (fault.kind) {
    case 'throttled':
      return new StepFunctionsError('ThrottlingException', 'Rate exceeded');
    case 'internalError':
      return new StepFunctionsError('InternalServerError', 'Internal service error', 500);
    case 'unavailable':
      return new StepFunctionsError('ServiceUnavailable', 'Service unavailable', 503);
  }
}
