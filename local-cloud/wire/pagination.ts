/**
 * Opaque page tokens. A token names the last key returned, so the next page starts right after it
 * by binary search (O(log n + page)), and stays valid when that key is deleted in between.
 */

const TOKEN_PREFIX = 'lc1:';

export function encodePageToken(lastKey: string): string {
  return Buffer.from(TOKEN_PREFIX + lastKey, 'utf8').toString('base64url');
}

/** The key encoded in `token`, or undefined when the token was not issued by this emulator. */
export function decodePageToken(token: string): string | undefined {
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
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
  page(afterKey: string | undefined, limit: number, accept?: (value: V) => boolean): { items: V[]; lastKey?: string };
}

/** One page of `source`; `invalidToken` builds the service's error for a token it did not issue. */
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
  const { items, lastKey } = source.page(afterKey, request.maxResults ?? defaultPageSize, accept);
  return lastKey === undefined ? { items } : { items, nextToken: encodePageToken(lastKey) };
}
