import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { isThrottlingError, isUnnamedTransientFailure, TransientServiceError } from '../domain/errors.ts';
import type { Correlation } from '../domain/records.ts';
import { logger, metrics } from './powertools.ts';

/**
 * Flushes the invocation's metrics if it recorded any. Powertools' own logMetrics warns on every
 * empty flush, and most invocations (every device step that succeeds) record none.
 */
function publishRecordedMetrics(): MiddlewareObj {
  const publish = () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return { after: publish, onError: publish };
}

/** Puts the request id and the execution name on every log line of a task. */
function correlateWithExecution(): MiddlewareObj<{ correlation?: Correlation }> {
  return {
    before: ({ event }) => {
      // Stryker disable next-line ConditionalExpression: equivalent: without a correlation the spread appends no key
      if (event.correlation) logger.appendKeys({ ...event.correlation });
    },
  };
}

/**
 * Logs a failed call and counts throttles per step, then lets the error go on: the state machine's
 * Retry and Catch match on its name, which the SDK sets to the AWS error code. A transient failure
 * without such a name (a reset socket, a bare 502) goes on as TransientServiceError, which is retried.
 */
function reportTaskError(step: string): MiddlewareObj {
  return {
    onError: (request) => {
      const { error } = request;
      // Stryker disable next-line ConditionalExpression: equivalent: middy calls onError with the error set, and this is the first onError to run
      if (!error) return;
      if (isUnnamedTransientFailure(error)) {
        request.error = new TransientServiceError(`${error.name}: ${error.message}`, { cause: error });
      }
      if (isThrottlingError(error.name)) {
        const throttled = metrics.singleMetric();
        throttled.addDimension('step', step);
        throttled.addMetric('Throttled', MetricUnit.Count, 1);
      }
      logger.warn('step failed', { step, errorName: error.name, errorMessage: error.message });
    },
  };
}

/**
 * Middy ends a handler this long before Lambda's deadline with a TimeoutError, which the task's error
 * reporting names TransientServiceError for the state machine to retry. Middy's default, 5 ms, leaves too
 * little time for the error middlewares and the metrics flush, and a Lambda timeout is not retried.
 */
const EARLY_TIMEOUT = { timeoutEarlyInMillis: 500 };

/**
 * A Step Functions task: a plain async function wrapped with the Powertools context, metrics,
 * correlation and error reporting. Middlewares run top to bottom before, bottom to top after/onError.
 */
export function taskHandler<Input, Output>(step: string, run: (input: Input) => Promise<Output>) {
  return middy<Input, Output, Error, Context>(EARLY_TIMEOUT)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(publishRecordedMetrics())
    .use(correlateWithExecution() as MiddlewareObj<Input>)
    .use(reportTaskError(step))
    .handler((event) => run(event));
}

/** A trigger (API Gateway, EventBridge): the same Powertools wiring, with the handler's own responses. */
export function triggerHandler<Event, Result>(run: (event: Event) => Promise<Result>) {
  return middy<Event, Result, Error, Context>(EARLY_TIMEOUT)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(publishRecordedMetrics())
    .handler((event) => run(event));
}
