import { createHash } from 'node:crypto';

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    // sort() without a comparator orders by UTF-16 code units: the same order on every runtime and locale.
    const record = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((key) => [key, canonical(record[key])]),
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
