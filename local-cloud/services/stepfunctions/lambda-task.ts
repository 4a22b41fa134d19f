import type { RunOptions } from 'aws-local-stepfunctions';
import type { LambdaFunction, LambdaRegistry } from '../../lambda/lambda-registry.ts';
import { LambdaTimeoutError } from '../../lambda/lambda-registry.ts';

/**
 * What a Lambda Task does in Step Functions: invoke the function with the state's effective input, take its
 * JSON-serialised result, and on an error report the error type as `Error` and the Node.js runtime's error
 * payload (`{"errorType","errorMessage","trace"}`) as `Cause`, which is what a Catch's `$.Cause` then holds.
 */
export type TaskHandler = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>[string];
type TaskResult = Awaited<ReturnType<TaskHandler>>;

export function lambdaTaskHandler(fn: LambdaFunction, lambdas: LambdaRegistry): TaskHandler {
  return async (input) => {
    try {
      const result = await lambdas.invoke(fn.name, input);
      // The Lambda service serialises the result; `undefined` arrives as `null`.
      return JSON.parse(JSON.stringify(result ?? null)) as TaskResult;
    } catch (error) {
      throw error instanceof LambdaTimeoutError ? error : new LambdaFunctionError(error);
    }
  };
}

class LambdaFunctionError extends Error {
  constructor(thrown: unknown) {
    const errorType = thrown instanceof Error ? thrown.name : 'Error';
    const errorMessage = thrown instanceof Error ? thrown.message : String(thrown);
    const trace = thrown instanceof Error ? (thrown.stack ?? '').split('\n') : [];
    super(JSON.stringify({ errorType, errorMessage, trace }));
    // Retry and Catch match on `name`.
    this.name = errorType;
  }
}
