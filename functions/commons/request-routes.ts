import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { $ZodType } from 'zod/v4/core';
import { isThrottlingError, isTransientError, isUnnamedTransientFailure } from '../domain/errors.ts';
import { REQUEST_ID_PATTERN } from '../domain/limits.ts';
import { ExecutionNotYetVisibleError } from './executions.ts';
import { badRequest, header, jsonResponse, parseJsonBody, statusUrl } from './http.ts';
import { type RequestKind, statusOf, submitRequest } from './requests.ts';

/** `POST /<collection>`: 202 with where to follow the request, 400/413 for bad input, 409 for a reused key. */
export async function postRequest(kind: RequestKind<$ZodType>, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const body = parseJsonBody(event);
  if (!body.ok) return body.response;
  const outcome = await submitRequest(kind, body.value, header(event, 'Idempotency-Key')).catch(retryLater);
  if ('statusCode' in outcome) return outcome;
  switch (outcome.kind) {
    case 'invalid':
      return badRequest(outcome.errors);
    case 'conflict':
      return jsonResponse(409, {
        message: `requestId ${outcome.requestId} was already used with a different request body; use a new requestId`,
        requestId: outcome.requestId,
        executionArn: outcome.executionArn,
      });
    case 'started':
      return jsonResponse(202, {
        requestId: outcome.requestId,
        executionArn: outcome.executionArn,
        statusUrl: statusUrl(event, outcome.requestId),
      });
  }
}

/**
 * Step Functions still throttling (or failing with a 5xx) after the SDK's retries, or not yet showing an
 * execution it said exists: the client should come back, and may safely repeat the same request,
 * which its requestId keeps idempotent. Step Functions names its 5xx errors `ServiceUnavailable` and
 * `InternalFailure`, unlike IoT, so the status code decides, not the name.
 */
function retryLater(error: Error): APIGatewayProxyResult {
  const notYetVisible = error instanceof ExecutionNotYetVisibleError;
  if (!notYetVisible && !isTransientError(error.name) && !isUnnamedTransientFailure(error)) throw error;
  const reason = notYetVisible ? error.message : `Step Functions answered ${error.name}`;
  const response = jsonResponse(isThrottlingError(error.name) ? 429 : 503, {
    message: `${reason}; retry the same request (it is idempotent by requestId)`,
  });
  return { ...response, headers: { ...response.headers, 'retry-after': '1' } };
}

/** `GET /<collection>/{requestId}`: the execution's status and, once it has finished, its summary. */
export async function getRequest(kind: RequestKind<$ZodType>, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const requestId = event.pathParameters?.requestId ?? '';
  if (!REQUEST_ID_PATTERN.test(requestId)) {
    return badRequest([{ field: 'path.requestId', reason: 'must be 1-80 characters of a-z, A-Z, 0-9, underscore or hyphen' }]);
  }
  const status = await statusOf(kind, requestId);
  return status ? jsonResponse(200, status) : jsonResponse(404, { message: `no ${kind.collection.replace(/s$/, '')} with requestId ${requestId}` });
}
