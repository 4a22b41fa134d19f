import { MAX_ERROR_MESSAGE_CHARS } from './limits.ts';

/** Error names as AWS services send them, which the SDK puts in `error.name`. */

const THROTTLING = new Set(['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded']);

const TRANSIENT = new Set([
  ...THROTTLING,
  'InternalFailureException',
  'InternalServerException',
  'ServiceUnavailableException',
  'RequestTimeoutException',
]);

export function isThrottlingError(name: string): boolean {
  return THROTTLING.has(name);
}

/** Worth trying again later: throttling and the services' transient 5xx errors. */
export function isTransientError(name: string): boolean {
  return TRANSIENT.has(name);
}

/**
 * Step Functions hands a caught Lambda error over as `{Error, Cause}`, where Cause is the Lambda
 * runtime's JSON (`{"errorMessage": ...}`) on AWS and the bare message in the local interpreter.
 */
export function messageFromCause(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return boundedMessage(parsed.errorMessage);
  } catch {
    // Not JSON: the cause is the message itself.
  }
  return boundedMessage(cause);
}

/** Outcomes are bounded so that a request's summary always fits a Step Functions payload. */
export function boundedMessage(message: string): string {
  return message.length <= MAX_ERROR_MESSAGE_CHARS ? message : `${message.slice(0, MAX_ERROR_MESSAGE_CHARS - 1)}…`;
}

/** A name the state machine retries: DetachThingPrincipal propagates asynchronously on AWS. */
export const THING_STILL_HAS_PRINCIPALS = 'ThingStillHasPrincipals';

export class ThingStillHasPrincipalsError extends Error {
  override name = THING_STILL_HAS_PRINCIPALS;
}
