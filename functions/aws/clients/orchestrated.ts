/**
 * Clients used inside the state machine do not retry: the state machine's Retry owns throttling and
 * 5xx retries (with backoff and full jitter, visible in the execution history). Retrying in the SDK
 * as well would multiply attempts (3 SDK tries × 30 state tries per call) and hide them.
 *
 * A call that hangs gives up after a few seconds, as a TimeoutError that goes to the Retry. Without
 * this, only middy's early timeout just before the function's deadline would end it: each hung call
 * would hold and bill the invocation for its whole timeout (serverless.yml). The SDK only logs an
 * exceeded requestTimeout unless told to throw.
 */
export const ORCHESTRATED_REQUEST_TIMEOUT_MS = 5_000;

export const orchestratedClientConfig = {
  maxAttempts: 1,
  requestHandler: { requestTimeout: ORCHESTRATED_REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true },
} as const;
