import type { ServiceResponse } from './service.ts';
import { ServiceError } from './service-error.ts';

const JSON_CONTENT_TYPE = 'application/json';

/**
 * An error in the restJson1 shape: `code` is the error shape name sent as `x-amzn-ErrorType`,
 * `members` are the shape's body members besides `message`, `headers` the members bound to headers
 * (Greengrass `retryAfterSeconds` → `Retry-After`).
 */
export class RestJsonError extends ServiceError {}

export function jsonResponse(body: unknown, status = 200): ServiceResponse {
  return { status, headers: { 'content-type': JSON_CONTENT_TYPE }, body: JSON.stringify(body) };
}

/** Operations whose output shape has no members answer 200 with an empty JSON object, as AWS does. */
export function emptyResponse(): ServiceResponse {
  return jsonResponse({});
}

export function encodeRestJsonError(error: RestJsonError, requestId: string): ServiceResponse {
  return {
    status: error.status,
    headers: {
      'content-type': JSON_CONTENT_TYPE,
      'x-amzn-RequestId': requestId,
      'x-amzn-ErrorType': error.code,
      ...error.headers,
    },
    body: JSON.stringify({ message: error.message, ...error.members }),
  };
}
