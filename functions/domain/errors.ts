import { MAX_ERROR_MESSAGE_CHARS } from './limits.ts';

/** Error names as AWS services send them, which the SDK puts in `error.name`. */

const THROTTLING = new Set(['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded']);

const TRANSIENT = new Set([
  ...THROTTLING,
  'InternalFailureException',
  'InternalServerException',
  'ServiceUnavailableException',
  'RequestTimeoutException',
  // IoT's 409 when two updates of the same resource race: the next try sees the settled resource.
  'ConflictingResourceUpdateException',
]);

/** The name the task functions give a failure that is transient but that AWS did not name. */
const TRANSIENT_SERVICE_ERROR = 'TransientServiceError';

/** Names the task functions throw for IoT's asynchronous detachment (see iot-operations.ts). */
export const THING_STILL_HAS_PRINCIPALS = 'ThingStillHasPrincipals';
export const CERTIFICATE_STILL_ATTACHED = 'CertificateStillAttached';

/**
 * Every error name the state machines retry with backoff (besides Lambda's own service errors);
 * test/unit/statemachines/asl.test.ts holds the ASL retriers to exactly this list.
 */
export const RETRIED_ERROR_NAMES = [...TRANSIENT, TRANSIENT_SERVICE_ERROR, THING_STILL_HAS_PRINCIPALS, CERTIFICATE_STILL_ATTACHED];

export function isThrottlingError(name: string): boolean {
  return THROTTLING.has(name);
}

/** Worth trying again later: throttling and the services' transient 5xx errors. */
export function isTransientError(name: string): boolean {
  return TRANSIENT.has(name);
}

/** The state machine retries it: a task should let it escape rather than record it as final. */
function isRetriedByStateMachine(name: string): boolean {
  return RETRIED_ERROR_NAMES.includes(name);
}

/** Throttling under names the state machines' retriers do not list (DynamoDB's): retried as TransientServiceError. */
const UNLISTED_THROTTLING = new Set(['ProvisionedThroughputExceededException']);

const NETWORK_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND']);

interface ErrorFacts {
  name: string;
  code?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Failures that are transient but arrive without a name the state machine knows: a socket error
 * (named `Error`) or timeout (`TimeoutError`), a 5xx without an error code (named after its status,
 * e.g. `502`), or anything the SDK itself marks retryable. With the SDK's own retries off, these must reach the Retry.
 */
export function isUnnamedTransientFailure(error: ErrorFacts): boolean {
  if (isRetriedByStateMachine(error.name)) return false;
  if (error.$retryable || error.name === 'TimeoutError' || UNLISTED_THROTTLING.has(error.name)) return true;
  if ((error.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  // Stryker disable next-line ConditionalExpression: equivalent: a code that is not a string is in no set of strings
  return typeof error.code === 'string' && NETWORK_ERROR_CODES.has(error.code);
}

/**
 * A task that records an error as the device's outcome must still let these escape: the state machine
 * retries them (the task middleware names the unnamed ones TransientServiceError on the way out).
 */
export function isLeftToStateMachineRetry(error: ErrorFacts): boolean {
  return isRetriedByStateMachine(error.name) || isUnnamedTransientFailure(error);
}

/**
 * Step Functions hands a caught Lambda error over as `{Error, Cause}`, where Cause is the Lambda
 * runtime's JSON (`{"errorType", "errorMessage", "trace"}`); anything else is taken as the message.
 */
export function messageFromCause(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    // Stryker disable next-line ConditionalExpression: equivalent: bounding a message that is not a string throws, and the catch below takes the cause whole
    if (typeof parsed.errorMessage === 'string') return boundedMessage(parsed.errorMessage);
  } catch {
    // Not JSON: the cause is the message itself.
  }
  return boundedMessage(cause);
}

/** AWS's validation messages quote the whole offending value; the member named after it is what explains the failure. */
const LONG_OFFENDING_VALUE = /Value (['"])(.{33,}?)\1 at /g;

/**
 * Outcomes are bounded so that a request's summary always fits a Step Functions payload. In a message over the
 * bound, a long offending value is cut first, so that what follows it survives.
 */
export function boundedMessage(message: string): string {
  if (message.length <= MAX_ERROR_MESSAGE_CHARS) return message;
  const shortened = message.replace(
    LONG_OFFENDING_VALUE,
    (_, quote: string, value: string) => `Value ${quote}${value.slice(0, 24)}…${quote} at `,
  );
  return shortened.length <= MAX_ERROR_MESSAGE_CHARS ? shortened : `${shortened.slice(0, MAX_ERROR_MESSAGE_CHARS - 1)}…`;
}

export class ThingStillHasPrincipalsError extends Error {
  override name = THING_STILL_HAS_PRINCIPALS;
}

export class CertificateStillAttachedError extends Error {
  override name = CERTIFICATE_STILL_ATTACHED;
}

export class TransientServiceError extends Error {
  override name = TRANSIENT_SERVICE_ERROR;
}

/**
 * A device's first step found its request cancelled: nothing was done to it. The state machine's Catch on this
 * name records the device NOT_STARTED, without a rollback.
 */
export class RequestCancelledError extends Error {
  override name = 'RequestCancelled';
}
