import type { IncomingHttpHeaders } from 'node:http';

/**
 * Reads restJson1 members bound to the query string or headers. Values that do not parse are
 * passed on as they were sent so that validation reports them (e.g. "Member must be an integer").
 */

export function queryString(query: URLSearchParams, name: string): string | undefined {
  return query.get(name) ?? undefined;
}

export function queryInteger(query: URLSearchParams, name: string): number | string | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  return /^-?\d+$/.test(value) ? Number(value) : value;
}

export function queryBoolean(query: URLSearchParams, name: string): boolean | string | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  return value === 'true' ? true : value === 'false' ? false : value;
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}
