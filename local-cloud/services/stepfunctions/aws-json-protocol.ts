import { requireJsonObject } from '../../wire/request-body.ts';
import type { ServiceRequest, ServiceResponse } from '../../wire/service.ts';

/** Step Functions speaks awsJson1.0: `POST /`, operation in `X-Amz-Target`, errors as `{"__type", "message"}`. */
const TARGET_PREFIX = 'AWSStepFunctions.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';

/** An error in the service's own vocabulary; `status` 5xx marks a server fault. */
export class StepFunctionsError extends Error {
  readonly status: number;

  constructor(name: string, message: string, status = 400) {
    super(message);
    this.name = name;
    this.status = status;
  }
}

export function operationName(request: ServiceRequest): string {
  const target = request.headers['x-amz-target'];
  const value = Array.isArray(target) ? target[0] : target;
  if (request.method !== 'POST' || request.path !== '/' || !value?.startsWith(TARGET_PREFIX)) {
    throw new StepFunctionsError('UnknownOperationException', `Unknown operation ${value ?? `${request.method} ${request.path}`}`);
  }
  return value.slice(TARGET_PREFIX.length);
}

export function parseBody(request: ServiceRequest): Record<string, unknown> {
  return requireJsonObject(request.body, () => new StepFunctionsError('SerializationException', 'Request body is not a JSON object'));
}

export function jsonResponse(body: unknown, requestId: string): ServiceResponse {
  return { status: 200, headers: { 'content-type': CONTENT_TYPE, 'x-amzn-requestid': requestId }, body: JSON.stringify(body) };
}

export function encodeError(error: unknown, requestId: string): ServiceResponse {
  const known = error instanceof StepFunctionsError;
  const name = known ? error.name : 'InternalServerError';
  const message = known ? error.message : 'Internal service error';
  return {
    status: known ? error.status : 500,
    headers: { 'content-type': CONTENT_TYPE, 'x-amzn-requestid': requestId, 'x-amzn-errortype': name },
    body: JSON.stringify({ __type: name, message }),
  };
}
