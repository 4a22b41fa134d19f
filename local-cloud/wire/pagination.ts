/**
 * Opaque page tokens. A token names the last key returned, so the next page starts right after it
 * by binary search (O(log n + page)), and stays valid when that key is deleted in between. Tokens are
 * standard base64, which IoT's `Marker` pattern (`[A-Za-z0-9+/]+={0,2}`) requires of the older list calls.
 */

const TOKEN_PREFIX = 'lc1:';

export function encodePageToken(lastKey: string): string {
  return Buffer.from(TOKEN_PREFIX + lastKey, 'utf8').toString('base64');
}

/** The key encoded in `token`, or undefined when the token was not issued by this emulator. */
export function decodePageToken(token: string): string | undefined {
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  return decoded.startsWith(TOKEN_PREFIX) ? decoded.slice(TOKEN_PREFIX.length) : undefined;
}

export interface PageRequest {
  nextToken?: string;
  maxResults?: number;
}

export interface Page<V> {
  items: V[];
  nextToken?: string;
}

interface Pageable<V> {
  /** Undefined when `afterKey` is not a key of the source and the source cannot tell where it stood. */
  page(afterKey: string | undefined, limit: number, accept?: (value: V) => boolean): { items: V[]; lastKey?: string } | undefined;
}

/**
 * One page of `source`; `invalidToken` builds the service's error for a token it did not issue.
 * A `maxResults` of 0 or none asks for `defaultPageSize`.
 */
export function paginate<V>(
  source: Pageable<V> | undefined,
  request: PageRequest,
  defaultPageSize: number,
  invalidToken: () => Error,
  accept?: (value: V) => boolean,
): Page<V> {
  let afterKey: string | undefined;
  if (request.nextToken !== undefined) {
    afterKey = decodePageToken(request.nextToken);
    if (afterKey === undefined) throw invalidToken();
  }
  if (!source) return { items: [] };
  const page = source.page(afterKey, request.maxResults || defaultPageSize, accept);
  if (!page) throw invalidToken();
  return page.lastKey === undefined ? { items: page.items } : { items: page.items, nextToken: encodePageToken(page.lastKey) };
}

/** A list kept in an order of its own, not in key order, as a page source; `keyOf` names an item in tokens. */
export function listPages<V>(items: readonly V[], keyOf: (value: V) => string): Pageable<V> {
  return {
    page(afterKey, limit, accept) {
      const start = afterKey === undefined ? 0 : items.findIndex((item) => keyOf(item) === afterKey) + 1;
      if (start === 0 && afterKey !== undefined) return undefined;
      return scanPage(
        items.length,
        start,
        limit,
        (index) => items[index] as V,
        (index) => keyOf(items[index] as V),
        accept,
      );
    },
  };
}

/**
 * Up to `limit` values (those passing `accept`) of positions `start`… of a sequence of `length`;
 * `lastKey` names the last position scanned when positions remain.
 */
export function scanPage<V>(
  length: number,
  start: number,
  limit: number,
  valueAt: (index: number) => V,
  keyAt: (index: number) => string,
  accept?: (value: V) => boolean,
): { items: V[]; lastKey?: string } {
  const items: V[] = [];
  let index = start;
  while (index < length && items.length < limit) {
    const value = valueAt(index);
    if (!accept || accept(value)) items.push(value);
    index++;
  }
  return index < length ? { items, lastKey: keyAt(index - 1) } : { items };
}
