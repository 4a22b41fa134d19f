import { InjectedFault, type InjectedFaultKind } from './injected-fault.ts';
import { requireJsonObject } from './request-body.ts';
import type { ServiceRequest, ServiceResponse } from './service.ts';

/**
 * The awsJson protocols: awsJson1.0 (Step Functions, DynamoDB) and awsJson1.1 (EventBridge) differ only in
 * their content type. `POST /`, the operation in `X-Amz-Target` (`<prefix>.<Operation>`), errors as
 * `{"__type", "message"}` beside the `x-amzn-ErrorType` header.
 */
export interface AwsJsonProtocol {
  operationName(request: ServiceRequest): string;
  parseBody(request: ServiceRequest): Record<string, unknown>;
  jsonResponse(body: unknown, requestId: string): ServiceResponse;
  encodeError(error: unknown, requestId: string): ServiceResponse;
}

/** An error in a service's own vocabulary; `status` 5xx marks a server fault, `members` join the body. */
export class AwsJsonError extends Error {
  readonly status: number;
  readonly members: Record<string, unknown>;

  constructor(name: string, message: string, status = 400, members: Record<string, unknown> = {}) {
    super(message);
    this.name = name;
    this.status = status;
    this.members = members;
  }
}

/** awsJson1.0 (Step Functions, DynamoDB) or awsJson1.1 (EventBridge): only the content type differs. */
export type AwsJsonVersion = '1.0' | '1.1';

/** How a service names an injected fault in its own vocabulary: error name, message, HTTP status. */
export type FaultVocabulary = Readonly<Record<InjectedFaultKind, readonly [name: string, message: string, status: number]>>;

/**
 * `internalErrorName` names an unexpected failure; `faults` the quota and fault-injection errors, which
 * `encodeError` answers in the service's words.
 */
export function awsJsonProtocol(
  targetPrefix: string,
  internalErrorName: string,
  faults?: FaultVocabulary,
  version: AwsJsonVersion = '1.0',
): AwsJsonProtocol {
  const prefix = `${targetPrefix}.`;
  const contentType = `application/x-amz-json-${version}`;
  return {
    operationName(request) {
      const target = request.headers['x-amz-target'];
      const value = Array.isArray(target) ? target[0] : target;
      if (request.method !== 'POST' || request.path !== '/' || !value?.startsWith(prefix)) {
        throw new AwsJsonError('UnknownOperationException', `Unknown operation ${value ?? `${request.method} ${request.path}`}`);
      }
      return value.slice(prefix.length);
    },
    parseBody: (request) =>
      requireJsonObject(request.body, () => new AwsJsonError('SerializationException', 'Request body is not a JSON object')),
    jsonResponse: (body, requestId) => ({
      status: 200,
      headers: { 'content-type': contentType, 'x-amzn-requestid': requestId },
      body: JSON.stringify(body),
    }),
    encodeError(thrown, requestId) {
      const error = thrown instanceof InjectedFault && faults ? new AwsJsonError(...faults[thrown.kind]) : thrown;
      const known = error instanceof AwsJsonError;
      const name = known ? error.name : internalErrorName;
      return {
        status: known ? error.status : 500,
        headers: { 'content-type': contentType, 'x-amzn-requestid': requestId, 'x-amzn-errortype': name },
        body: JSON.stringify({ __type: name, message: known ? error.message : 'Internal service error', ...(known && error.members) }),
      };
    },
  };
}
