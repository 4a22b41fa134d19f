import type { IncomingMessage } from 'node:http';

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
