/**
 * How an injected fault shows itself; each service maps it to its own error shape
 * (IoT: ThrottlingException 400 / InternalFailureException 500 / ServiceUnavailableException 503;
 * Greengrass: ThrottlingException 429 / InternalServerException 500).
 */
export type InjectedFaultKind = 'throttled' | 'internalError' | 'unavailable';

/**
 * Thrown by the server, never by a service, when a quota or a configured fault probability
 * rejects a call. Services must encode it in `encodeError`.
 */
export class InjectedFault extends Error {
  readonly kind: InjectedFaultKind;
  readonly operation: string;
  /** Whole seconds until the quota has a token again; for the `Retry-After` header. */
  readonly retryAfterSeconds: number;

  constructor(kind: InjectedFaultKind, operation: string, message: string, retryAfterSeconds = 1) {
    super(message);
    this.name = 'InjectedFault';
    this.kind = kind;
    this.operation = operation;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
