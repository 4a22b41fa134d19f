import type { IncomingMessage } from 'node:http';
import { isPlainObject } from './validation.ts';

/**
 * The whole request body, or undefined when it is larger than `maxBytes` (the caller answers 413).
 * An oversize body is still read to its end, and dropped: leaving it unread on a keep-alive
 * connection would stall the next request on it, and stopping the read early closes the request.
 */
export async function readBodyWithin(request: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= maxBytes) chunks.push(chunk);
  }
  return size > maxBytes ? undefined : Buffer.concat(chunks);
}

/** Parses a JSON object body; an empty body is an empty input. Returns undefined when it does not parse to an object. */
export function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  if (body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return isPlainObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The body as a JSON object, or the service's own error from `unparseable`. */
export function requireJsonObject(body: Buffer, unparseable: () => Error): Record<string, unknown> {
  const parsed = parseJsonObject(body);
  if (!parsed) throw unparseable();
  return parsed;
}
