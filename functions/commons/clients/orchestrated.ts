/**
 * Clients used inside the state machine do not retry: the state machine's Retry owns throttling and
 * 5xx retries (with backoff and full jitter, visible in the execution history). Retrying in the SDK
 * as well would multiply attempts — 3 SDK tries × 10 state tries per call — and hide them.
 */
export const orchestratedClientConfig = { maxAttempts: 1 } as const;
