import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

/** A request as the local cloud's HTTP server hands it to an emulated service. */
export interface ServiceRequest {
  method: string;
  /** Decoded path without the query string, e.g. `/things/my-thing/principals`. */
  path: string;
  /**
   * The path as sent, still percent-encoded. Routers match on it so that a label containing an
   * encoded `/` (allowed in Greengrass thing names) stays one label.
   */
  rawPath?: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Signing name from the SigV4 credential scope: `iot`, `greengrass`, `states`. */
  signingService: string;
  region: string;
  requestId: string;
}

export interface ServiceResponse {
  status: number;
  headers?: Record<string, string>;
  /** Bytes for binary payloads; a stream for S3 objects, sent as they are read. */
  body?: string | Uint8Array | Readable;
}

/** An operation the service recognised in a request, not yet executed. */
export interface ResolvedOperation {
  /** The AWS operation name, e.g. `RegisterThing`: the key for quotas, faults and counters. */
  name: string;
  run(): Promise<ServiceResponse>;
}

/**
 * One emulated AWS service. `resolve` recognises the operation (or throws the service's own
 * "unknown operation" error); the server applies quotas and faults by operation name before `run`,
 * and encodes any thrown error with `encodeError` in the service's own protocol.
 */
export interface EmulatedService {
  readonly signingName: string;
  /** Other credential-scope service names that reach this service (older AWS CLIs sign IoT as `execute-api`). */
  readonly signingNameAliases?: readonly string[];
  resolve(request: ServiceRequest): ResolvedOperation;
  encodeError(error: unknown, requestId: string): ServiceResponse;
  /** The largest request body the service reads (the server's 16 MiB when absent); a larger one is answered 413. */
  readonly maxBodyBytes?: number;
  /** Unsigned local-only routes the server mounts under `/_local/`, e.g. to seed resources. */
  readonly adminRoutes?: readonly AdminRoute[];
  /**
   * Stops the service's background work (running Step Functions executions) and forgets the state it
   * keeps outside the shared store. The server calls it on reset.
   */
  reset?(): Promise<void>;
  /**
   * Stops the service's background work and releases what it holds, keeping its durable state; the server calls
   * it before it closes, and `reset` in its place when a service has none.
   */
  close?(): Promise<void>;
}

/** A route under `/_local/`: `path` is relative to it, e.g. `greengrass/core-devices`. */
export interface AdminRoute {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** Receives the parsed JSON body (undefined when empty); the result is sent back as JSON. */
  handle(body: unknown): unknown;
}
