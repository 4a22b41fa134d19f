import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { requestDigest } from '../../../../functions/domain/request-digest.ts';
import { resolveRequestId } from '../../../../functions/domain/request-id.ts';

/** The idempotency key and the digest decide whether a request is the same one again (same execution) or another (409). */
describe('the request digest', () => {
  it('does not depend on the order of keys, at any depth', () => {
    const one = { b: 1, a: { d: [1, { f: 2, e: 3 }], c: 'x' } };
    const other = { a: { c: 'x', d: [1, { e: 3, f: 2 }] }, b: 1 };
    expect(requestDigest(one)).toBe(requestDigest(other));
  });

  it('depends on every value, on the order of arrays, and on which key holds a value', () => {
    const base = requestDigest({ a: 1, b: [1, 2] });
    expect(requestDigest({ a: 2, b: [1, 2] })).not.toBe(base);
    expect(requestDigest({ a: 1, b: [2, 1] })).not.toBe(base);
    expect(requestDigest({ c: 1, b: [1, 2] })).not.toBe(base);
    expect(requestDigest({ b: 1, a: [1, 2] })).not.toBe(base);
  });

  it('is the SHA-256 of the JSON with its keys sorted', () => {
    expect(requestDigest({ b: { d: 'x', c: null }, a: 1 })).toBe(requestDigest(JSON.parse('{"a":1,"b":{"c":null,"d":"x"}}')));
    expect(requestDigest({ b: { d: 'x', c: null }, a: 1 })).toMatch(/^[0-9a-f]{64}$/);
    expect(requestDigest({ a: 1, b: 2 })).toBe('43258cff783fe7036d8a43033f830adfc60ec037382473548ac742b888292777');
  });

  it('keeps arrays as arrays, the keys of their objects sorted', () => {
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    expect(requestDigest({ devices: [{ thingName: 'b', core: 'x' }, 'a'] })).toBe(sha256('{"devices":[{"core":"x","thingName":"b"},"a"]}'));
  });
});

describe('the idempotency key', () => {
  const fresh = () => 'fresh-id';

  it("is the body's requestId, or a fresh id when neither the body nor the header gives one", () => {
    expect(resolveRequestId('from-body', undefined, fresh)).toEqual({ ok: true, value: 'from-body' });
    expect(resolveRequestId(undefined, undefined, fresh)).toEqual({ ok: true, value: 'fresh-id' });
    // A body requestId of the wrong type is the schema's to refuse; it does not name the execution.
    expect(resolveRequestId(42, undefined, fresh)).toEqual({ ok: true, value: 'fresh-id' });
  });

  it('is the Idempotency-Key header when the body gives none or the same one', () => {
    expect(resolveRequestId(undefined, 'key-1', fresh)).toEqual({ ok: true, value: 'key-1' });
    expect(resolveRequestId('key-1', 'key-1', fresh)).toEqual({ ok: true, value: 'key-1' });
  });

  it("refuses a header that differs from the body's requestId", () => {
    expect(resolveRequestId('key-2', 'key-1', fresh)).toEqual({
      ok: false,
      errors: [{ field: 'requestId', reason: 'differs from the Idempotency-Key header; give one, or the same value in both' }],
    });
  });

  it.each([
    ['empty', ''],
    ['81 characters', 'k'.repeat(81)],
    ['a space', 'key 1'],
    ['a slash', 'key/1'],
  ])('refuses a header that is %s', (_, header) => {
    expect(resolveRequestId(undefined, header, fresh)).toEqual({
      ok: false,
      errors: [{ field: 'headers.Idempotency-Key', reason: 'must be 1-80 characters of a-z, A-Z, 0-9, underscore or hyphen' }],
    });
  });

  it('accepts a header of 80 characters of the allowed set', () => {
    const key = `${'a'.repeat(40)}${'Z'.repeat(20)}0123456789_-${'b'.repeat(8)}`;
    expect(key).toHaveLength(80);
    expect(resolveRequestId(undefined, key, fresh)).toEqual({ ok: true, value: key });
  });
});
