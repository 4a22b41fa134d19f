import { Agent, request } from 'node:http';

export interface RawResponse {
  status: number | undefined;
  body: string;
  /** Whether the request went over the connection an earlier request had kept alive. */
  reusedSocket: boolean;
}

export type RawSend = (url: string, options?: { method?: string; body?: Buffer }) => Promise<RawResponse>;

/**
 * Runs `use` with requests through node:http that share one kept-alive connection, then closes it:
 * for what fetch hides, such as whether a server left the connection usable.
 */
export async function overOneConnection<T>(use: (send: RawSend) => Promise<T>): Promise<T> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send: RawSend = (url, options = {}) =>
    new Promise((resolve, reject) => {
      const outgoing = request(url, { method: options.method ?? 'GET', agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode, body: Buffer.concat(chunks).toString('utf8'), reusedSocket: outgoing.reusedSocket }),
        );
        response.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(options.body);
    });
  try {
    return await use(send);
  } finally {
    agent.destroy();
  }
}
