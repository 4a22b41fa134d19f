import { createHash } from 'node:crypto';

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: keys are distinct and V8's sort reads only whether the answer is below 0
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, inner]) => [key, canonical(inner)]),
    );
  }
  return value;
}

/**
 * A fingerprint independent of key order. Idempotency takes it of a request's intent (execution-input.ts)
 * rather than of the execution input, which also holds derived values (pacing, the shipped template's
 * text) that a redeploy may change while the request stays the same.
 */
export function requestDigest(request: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(request)))
    .digest('hex');
}
