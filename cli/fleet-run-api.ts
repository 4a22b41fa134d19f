import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { FieldError, FleetRunStatus } from '../functions/contract.ts';
import {
  type ApiConnection,
  type ApiFailure,
  type ApiResult,
  createApiSender,
  exchange,
  httpFailure,
  messageOf,
  parseJson,
} from './api-client.ts';

/** `201` of `POST /fleet-uploads`: where to PUT the manifest's bytes, and the URI a fleet run names it by. */
export interface FleetUpload {
  uploadUrl: string;
  /** `s3://<bucket>/uploads/<id>/<fileName>` */
  manifest: string;
  expiresAt: string;
  method: 'PUT';
  headers?: Record<string, string>;
}

/** `202` of `POST /fleet-runs`. */
export interface AcceptedFleetRun {
  fleetRunId: string;
  executionArn: string;
  statusUrl: string;
}

/** `POST /fleet-runs`: the manifest, what to do with it, and the request-level fields given on the command line. */
export interface FleetRunStart extends Record<string, unknown> {
  fleetRunId: string;
  manifest: string;
  action: 'provision' | 'deprovision';
}

/** The fleet runs' routes of the service's API, and the presigned S3 URLs they answer. */
export interface FleetRunApi {
  createUpload(fileName: string, contentType: string): Promise<ApiResult<FleetUpload>>;
  upload(upload: FleetUpload, bytes: Uint8Array): Promise<ApiResult<void>>;
  start(body: FleetRunStart): Promise<ApiResult<AcceptedFleetRun>>;
  status(fleetRunId: string): Promise<ApiResult<FleetRunStatus>>;
  /** Streams a presigned URL's object to `path`. */
  download(url: string, path: string): Promise<ApiResult<void>>;
}

/** A manifest or a report moves at its own size's pace: only a stalled transfer is given up. */
const TRANSFER_TIMEOUT_MS = 60 * 60_000;

export function createFleetRunApi(options: ApiConnection): FleetRunApi {
  const { send, base } = createApiSender(options);
  const answer = async <T>(sent: ReturnType<typeof send>, expected: number): Promise<ApiResult<T>> => {
    const response = await sent;
    if ('code' in response) return { ok: false, failure: response };
    if (response.status === expected) return { ok: true, value: response.json as T };
    return { ok: false, failure: refusal(response, base) };
  };
  /** A PUT or GET of a presigned S3 URL: unsigned, its answer an S3 error document when it is refused. */
  const transfer = async (
    method: 'GET' | 'PUT',
    url: string,
    write: (response: Response) => Promise<void>,
    init: { headers?: Record<string, string>; body?: Uint8Array } = {},
  ) => {
    const transferred = await exchange(
      { method, url: new URL(url), headers: async () => init.headers ?? {}, body: init.body, timeoutMs: TRANSFER_TIMEOUT_MS },
      async (response): Promise<ApiResult<void>> => {
        if (!response.ok)
          return {
            ok: false,
            failure: { code: `HTTP ${response.status}`, message: s3ErrorOf(await response.text()) ?? response.statusText },
          };
        await write(response);
        return { ok: true, value: undefined };
      },
      options,
    );
    return 'code' in transferred ? { ok: false as const, failure: transferred } : transferred.value;
  };

  return {
    createUpload: (fileName, contentType) => answer(send('POST', 'fleet-uploads', { fileName, contentType }), 201),
    upload: (upload, bytes) =>
      transfer(upload.method ?? 'PUT', upload.uploadUrl, async (response) => void (await response.arrayBuffer()), {
        headers: upload.headers,
        body: bytes,
      }),
    start: (body) => answer(send('POST', 'fleet-runs', body), 202),
    status: (fleetRunId) => answer(send('GET', `fleet-runs/${encodeURIComponent(fleetRunId)}`), 200),
    download: (url, path) =>
      transfer('GET', url, async (response) => {
        await mkdir(dirname(path), { recursive: true });
        await pipeline(Readable.fromWeb(response.body as WebReadableStream), createWriteStream(path));
      }),
  };
}

/** What the API's refusal means, by status: the codes the client-side mode uses for a request. */
function refusal(response: { status: number; json: unknown }, base: URL): ApiFailure {
  switch (response.status) {
    case 400: {
      const fieldErrors = (response.json as { errors?: FieldError[] } | undefined)?.errors ?? [];
      return { ...httpFailure(response, 'InvalidRequest'), fieldErrors };
    }
    case 403: {
      // API Gateway's answer to a route the API does not define (no fleet stack), or to a caller IAM does not allow.
      const failure = httpFailure(response, 'Forbidden');
      return {
        ...failure,
        message: `${failure.message}: is ${base.href} this service's API with fleet runs deployed, and may your credentials invoke it?`,
      };
    }
    case 404:
      return httpFailure(response, 'NotFound');
    case 409:
      return httpFailure(response, 'Conflict');
    default:
      return httpFailure(response, `HTTP ${response.status}`);
  }
}

/** S3 answers errors as XML: `<Code>AccessDenied</Code><Message>Request has expired</Message>`. */
function s3ErrorOf(text: string): string | undefined {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  if (code === undefined) return messageOf(parseJson(text)) ?? (text.slice(0, 200) || undefined);
  return message ? `${code}: ${message}` : code;
}
