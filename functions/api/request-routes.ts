import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { $ZodType } from 'zod/v4/core';
import { ExecutionNotYetVisibleError, type ExecutionPage } from '../aws/executions.ts';
import { heldDevicesMessage } from '../domain/device-leases.ts';
import { isThrottlingError, isTransientError, isUnnamedTransientFailure, TransientServiceError } from '../domain/errors.ts';
import { REQUEST_ID_PATTERN } from '../domain/limits.ts';
import { type ListQuery, listQuerySchema, type RequestListItem } from '../domain/request-listing.ts';
import { validate } from '../domain/validation.ts';
import { badRequest, header, jsonBodyOf, jsonResponse, pathParameter, statusUrl } from './http.ts';
import { cancelRequest, listOf, type RequestKind, statusOf, submitRequest } from './requests.ts';

/** `POST /<collection>`: 202 with where to follow the request, 400/413/415 for bad input, 409 for a reused key or devices another running request holds. */
export async function postRequest(kind: RequestKind<$ZodType>, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const body = jsonBodyOf(event);
  if (!body.ok) return body.response;
  const outcome = await submitRequest(kind, body.value, { idempotencyKey: header(event, 'Idempotency-Key') }).catch(retryLater);
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
    case 'held':
      return jsonResponse(409, {
        message: heldDevicesMessage(outcome.heldDevices),
        requestId: outcome.requestId,
        heldDevices: outcome.heldDevices,
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
 * Step Functions or DynamoDB still throttling (or failing with a 5xx) after the SDK's retries, device leases
 * that concurrent transactions kept cancelling, or an execution Step Functions said exists not showing yet:
 * the client should come back, and may safely repeat the same request (a POST is idempotent by its
 * requestId, a GET reads only). Step Functions names its 5xx errors `ServiceUnavailable` and
 * `InternalFailure`, unlike IoT, so the status code decides, not the name.
 */
export function retryLater(error: Error): APIGatewayProxyResult {
  const unreachable = unreachableEndpoint(error);
  if (unreachable) return unreachable;
  const ours = error instanceof ExecutionNotYetVisibleError || error instanceof TransientServiceError;
  if (!ours && !isTransientError(error.name) && !isUnnamedTransientFailure(error)) throw error;
  const reason = ours ? error.message : `AWS answered ${error.name}`;
  const response = jsonResponse(isThrottlingError(error.name) ? 429 : 503, {
    message: `${reason}; retry the same request (it is idempotent by requestId)`,
  });
  return { ...response, headers: { ...response.headers, 'retry-after': '1' } };
}

/** Nothing listens at the endpoint, or its host is unknown. */
const UNREACHABLE_ENDPOINT_CODES = new Set<string | undefined>(['ECONNREFUSED', 'ENOTFOUND']);

/**
 * An endpoint where nothing listens is a configuration to fix, not a moment to wait out (on AWS it does not
 * happen): typically `sls invoke local --stage local` with the local cloud on another port. So no Retry-After,
 * and the answer names the endpoint and how to set it.
 */
function unreachableEndpoint(error: Error): APIGatewayProxyResult | undefined {
  const { code, address, port } = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (!UNREACHABLE_ENDPOINT_CODES.has(code)) return undefined;
  const override = process.env.AWS_ENDPOINT_URL;
  const endpoint = override ?? (address === undefined ? 'the AWS endpoint' : `${address}:${port}`);
  const remedy = override
    ? ': set AWS_ENDPOINT_URL to the URL the local cloud prints when it starts (LOCAL_CLOUD_PORT sets its port; the default is http://127.0.0.1:4566)'
    : '';
  return jsonResponse(502, { message: `cannot reach ${endpoint} (${code})${remedy}` });
}

const INVALID_PATH_REQUEST_ID = [{ field: 'path.requestId', reason: 'must be 1-80 characters of a-z, A-Z, 0-9, underscore or hyphen' }];

/** `GET /<collection>/{requestId}`: the execution's status and, once it has finished, its summary. */
export async function getRequest(kind: RequestKind<$ZodType>, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const requestId = pathParameter(event, 'requestId');
  if (!REQUEST_ID_PATTERN.test(requestId)) return badRequest(INVALID_PATH_REQUEST_ID);
  const status = await statusOf(kind, requestId).catch(retryLater);
  if (status && 'statusCode' in status) return status;
  return status
    ? jsonResponse(200, status)
    : jsonResponse(404, { message: `no ${kind.collection.replace(/s$/, '')} with requestId ${requestId}` });
}

/** The status URL of what a `POST /<collection>/{id}/cancel` cancels: statusUrl appends the id to the collection's path. */
export function cancelledStatusUrl(event: APIGatewayProxyEvent, id: string): string {
  const collectionPath = (path: string) => path.replace(/\/[^/]+\/cancel\/?$/, '');
  const requestContext = event.requestContext && { ...event.requestContext, path: collectionPath(event.requestContext.path ?? event.path) };
  return statusUrl({ ...event, path: collectionPath(event.path), requestContext }, id);
}

/**
 * `POST /<collection>/{requestId}/cancel`: 202 while the execution runs (devices not yet started will not start;
 * the status URL shows the outcome), the same again for a repeated cancel; 409 once the execution has ended,
 * naming its status; 404 for no such request.
 */
export async function cancelRequestRoute(kind: RequestKind<$ZodType>, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const requestId = pathParameter(event, 'requestId');
  if (!REQUEST_ID_PATTERN.test(requestId)) return badRequest(INVALID_PATH_REQUEST_ID);
  const outcome = await cancelRequest(kind, requestId).catch(retryLater);
  if ('statusCode' in outcome) return outcome;
  const request = `${kind.collection.replace(/s$/, '')} ${requestId}`;
  const url = cancelledStatusUrl(event, requestId);
  switch (outcome.kind) {
    case 'unknown':
      return jsonResponse(404, { message: `no ${request}` });
    case 'finished':
      return jsonResponse(409, {
        message: `${request} has already ended (its execution is ${outcome.executionStatus}): there is nothing to cancel`,
        requestId,
        executionArn: outcome.executionArn,
        executionStatus: outcome.executionStatus,
        statusUrl: url,
      });
    case 'cancelling':
      return jsonResponse(202, { requestId, executionArn: outcome.executionArn, statusUrl: url });
  }
}

/** `GET /<collection>?status=&limit=&nextToken=`: the kind's requests, newest first, a page at a time. */
export async function listRequests(kind: RequestKind<$ZodType>, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const page = await listPage(event, (query) => listOf(kind, query));
  if ('statusCode' in page) return page;
  const requests = page.items.map(({ name, ...item }): RequestListItem => ({ requestId: name, ...item }));
  return jsonResponse(200, { requests, ...(page.nextToken && { nextToken: page.nextToken }) });
}

type ListedExecution = Omit<RequestListItem, 'requestId'> & { name: string };

/**
 * A `GET /<collection>?status=&limit=&nextToken=` page of executions, newest first, each with its status URL; a 400
 * naming each malformed parameter or a token the list did not give; a 429/503 when Step Functions throttles or fails.
 */
export async function listPage(
  event: APIGatewayProxyEvent,
  list: (query: ListQuery) => Promise<ExecutionPage>,
): Promise<APIGatewayProxyResult | { items: ListedExecution[]; nextToken?: string }> {
  const query = validate(listQuerySchema, event.queryStringParameters ?? {});
  if (!query.ok) return badRequest(query.errors.map((error) => ({ ...error, field: `query.${error.field}` })));
  const page = await list(query.value).catch((error: Error) => {
    if (error.name === 'InvalidToken')
      return badRequest([{ field: 'query.nextToken', reason: 'is not a token this list gave: start again without it' }]);
    return retryLater(error);
  });
  if ('statusCode' in page) return page;
  const items = page.executions.map((execution) => ({
    name: execution.name,
    executionArn: execution.executionArn,
    executionStatus: execution.status as RequestListItem['executionStatus'],
    startDate: execution.startDate.toISOString(),
    ...(execution.stopDate && { stopDate: execution.stopDate.toISOString() }),
    statusUrl: statusUrl(event, execution.name),
  }));
  return { items, ...(page.nextToken && { nextToken: page.nextToken }) };
}
