import { REQUEST_ID_PATTERN } from './limits.ts';
import type { Validated } from './validation.ts';

/**
 * The idempotency key names the execution. It comes from the body's `requestId` or the
 * `Idempotency-Key` header (they must agree when both are given); without either, a fresh id.
 */
export function resolveRequestId(bodyRequestId: unknown, headerKey: string | undefined, freshId: () => string): Validated<string> {
  if (headerKey === undefined) return { ok: true, value: typeof bodyRequestId === 'string' ? bodyRequestId : freshId() };
  if (!REQUEST_ID_PATTERN.test(headerKey)) {
    return {
      ok: false,
      errors: [{ field: 'headers.Idempotency-Key', reason: 'must be 1-80 characters of a-z, A-Z, 0-9, underscore or hyphen' }],
    };
  }
  if (bodyRequestId !== undefined && bodyRequestId !== headerKey) {
    return {
      ok: false,
      errors: [{ field: 'requestId', reason: 'differs from the Idempotency-Key header; give one, or the same value in both' }],
    };
  }
  return { ok: true, value: headerKey };
}
