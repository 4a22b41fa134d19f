import { setTimeout as sleep } from 'node:timers/promises';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type {
  FieldError,
  FinalExecutionStatus,
  FleetRequest,
  FleetWorkflow,
  HeldDevice,
  RequestProgress,
  RequestStatusResponse,
} from '../functions/contract.ts';

/** `202` of `POST /provisioning-requests` (or `/deprovisioning-requests`). */
interface AcceptedRequest {
  requestId: string;
  executionArn: string;
  statusUrl: string;
}

export interface ApiFailure {
  /**
   * `InvalidRequest` (400), `Conflict` (409: the requestId was used with another body), `DevicesHeld` (409: running
   * requests hold devices of this one), `HTTP <status>`, `NetworkError`, or `Unreachable` (nothing listens at the
   * URL, or its host is unknown).
   */
  code: string;
  message: string;
  fieldErrors?: FieldError[];
  /** With `DevicesHeld`: each device of the request that another running request holds, and which request. */
  heldDevices?: HeldDevice[];
}

export type ApiResult<T> = { ok: true; value: T } | { ok: false; failure: ApiFailure };

export interface FleetApi {
  submit(request: FleetRequest): Promise<ApiResult<AcceptedRequest>>;
  status(requestId: string): Promise<ApiResult<RequestStatusResponse>>;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** How often a request's status is asked for, and for how long a 404 for it is taken as "not visible yet". */
export interface PollSchedule extends Backoff {
  /** Defaults to NOT_VISIBLE_GRACE_MS. */
  notVisibleGraceMs?: number;
}

/**
 * Polling starts fast for small requests and settles at one call a second: a request finishes within
 * seconds of its last device, and a GET costs little.
 */
const POLL_BACKOFF: Backoff = { initialMs: 250, maxMs: 1_000 };

/**
 * Step Functions' DescribeExecution is eventually consistent: shortly after the API has started an execution
 * (and answered 202), it may still deny it exists, which the API answers as a 404. Such an execution is
 * typically visible within seconds; a 404 that outlasts this grace means the request is really unknown.
 */
const NOT_VISIBLE_GRACE_MS = 30_000;

/** Network errors, throttling and server errors are worth repeating: a request id makes a repeated POST harmless. */
const TRANSIENT_ATTEMPTS = 4;

/** API Gateway ends an integration at 29 s: an answer that has not come by then is not coming. */
const RESPONSE_TIMEOUT_MS = 30_000;

/** No server at the URL: a wrong --api-url, or the API not started. Unlike a reset or a timeout, no request got through. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Resolves (and refreshes) the credentials requests are signed with. */
export type SigningCredentials = Extract<NonNullable<ConstructorParameters<typeof SignatureV4>[0]['credentials']>, () => unknown>;

interface ApiClientOptions extends ApiConnection {
  /** Whose requests: provisioning or deprovisioning. */
  workflow: Pick<FleetWorkflow, 'route'>;
}

/** Where the service's API is, and how to reach it. */
export interface ApiConnection {
  apiUrl: URL;
  /** Required when the API is not on a loopback address: requests are then SigV4-signed for this region (see resolveRegion). */
  region?: string;
  /** Defaults to the AWS SDK's provider chain (environment, shared files, SSO, instance roles…). */
  credentials?: SigningCredentials;
  fetch?: typeof fetch;
  backoff?: Backoff;
  /** Ends every call in progress or waiting to be retried (the run was interrupted). */
  signal?: AbortSignal;
}

export function isLoopback(url: URL): boolean {
  return url.hostname === 'localhost' || url.hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(url.hostname);
}

/**
 * An explicit region wins; then the one an API Gateway host names (`abc123.execute-api.eu-west-1.amazonaws.com`);
 * a custom domain names none, so the environment's default region comes last.
 */
export function resolveRegion(url: URL, explicit: string | undefined, environmentRegion: string | undefined): string | undefined {
  return explicit ?? /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1] ?? environmentRegion;
}

/** An answer the caller reads itself: a JSON body, or a file's bytes streamed to disk. */
export type HttpAnswer<T> = { status: number; value: T } | ApiFailure;

interface Exchange {
  method: 'GET' | 'POST' | 'PUT';
  url: URL;
  /** Made at each attempt: a signature is valid for minutes, and credentials may have been refreshed since. */
  headers(): Promise<Record<string, string>>;
  body?: string | Uint8Array;
  /** Defaults to RESPONSE_TIMEOUT_MS; a file transfer takes as long as its size needs. */
  timeoutMs?: number;
}

/**
 * One HTTP exchange, repeated up to TRANSIENT_ATTEMPTS times after a network error, a 429 or a 5xx; any other
 * answer is handed to `read`. Repeating is safe for every call this client makes: a request or fleet run id
 * makes a repeated POST harmless, a PUT of the same bytes or a GET changes nothing.
 */
export async function exchange<T>(
  request: Exchange,
  read: (response: Response) => Promise<T>,
  { fetch: fetchImpl = fetch, backoff = POLL_BACKOFF, signal }: { fetch?: typeof fetch; backoff?: Backoff; signal?: AbortSignal },
): Promise<HttpAnswer<T>> {
  const { method, url } = request;
  let lastFailure: ApiFailure = { code: 'NetworkError', message: 'not sent' };
  for (
    let attempt = 1, delay = backoff.initialMs;
    attempt <= TRANSIENT_ATTEMPTS;
    attempt += 1, delay = Math.min(delay * 2, backoff.maxMs)
  ) {
    if (attempt > 1) await sleep(delay, undefined, { signal });
    let headers;
    try {
      headers = await request.headers();
    } catch (error) {
      return { code: 'CredentialsError', message: `cannot sign ${method} ${url.href}: ${(error as Error).message}` };
    }
    const timeoutMs = request.timeoutMs ?? RESPONSE_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const response = await fetchImpl(url, {
        method,
        headers,
        body: request.body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      if (response.status !== 429 && response.status < 500) return { status: response.status, value: await read(response) };
      const text = await response.text();
      lastFailure = { code: `HTTP ${response.status}`, message: messageOf(parseJson(text)) ?? (text.slice(0, 200) || response.statusText) };
    } catch (error) {
      signal?.throwIfAborted();
      const cause = (error as Error).cause as NodeJS.ErrnoException | undefined;
      const reason = timeout.aborted ? `no answer within ${timeoutMs / 1000} s` : (cause ?? (error as Error).message);
      const unreachable = !timeout.aborted && UNREACHABLE_CODES.has(cause?.code ?? '');
      lastFailure = { code: unreachable ? 'Unreachable' : 'NetworkError', message: `${method} ${url.href}: ${reason}` };
    }
  }
  return lastFailure;
}

/** Sends JSON to the service's API (signed when it is remote) and reads its JSON answer. */
export type ApiSender = (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<{ status: number; json: unknown } | ApiFailure>;

export function createApiSender(options: ApiConnection): { send: ApiSender; base: URL } {
  const sign = isLoopback(options.apiUrl) ? undefined : createSigner(options);
  // A stage path (`/prod`) is kept: routes are resolved below it.
  const base = new URL(options.apiUrl.href.endsWith('/') ? options.apiUrl.href : `${options.apiUrl.href}/`);
  const send: ApiSender = async (method, path, body) => {
    const url = new URL(path, base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json', ...(payload && { 'content-type': 'application/json' }) };
    const answer = await exchange(
      { method, url, body: payload, headers: async () => (sign ? sign(url, method, headers, payload) : headers) },
      async (response) => {
        const text = await response.text();
        return text === '' ? undefined : parseJson(text);
      },
      options,
    );
    return 'code' in answer ? answer : { status: answer.status, json: answer.value };
  };
  return { send, base };
}

export function createFleetApi(options: ApiClientOptions): FleetApi {
  const { send, base } = createApiSender(options);

  return {
    async submit(request) {
      const response = await send('POST', options.workflow.route, request);
      if ('code' in response) return { ok: false, failure: response };
      if (response.status === 202) return { ok: true, value: response.json as AcceptedRequest };
      if (response.status === 400) {
        const fieldErrors = (response.json as { errors?: FieldError[] } | undefined)?.errors ?? [];
        return {
          ok: false,
          failure: { code: 'InvalidRequest', message: messageOf(response.json) ?? 'the API rejected the request', fieldErrors },
        };
      }
      if (response.status === 403) {
        // API Gateway's answer to an unknown route, or to a caller IAM does not allow.
        const failure = httpFailure(response, 'Forbidden');
        return {
          ok: false,
          failure: { ...failure, message: `${failure.message}: is ${base.href} this service's API, and may your credentials invoke it?` },
        };
      }
      if (response.status === 409) {
        const heldDevices = (response.json as { heldDevices?: HeldDevice[] } | undefined)?.heldDevices;
        return {
          ok: false,
          failure: { ...httpFailure(response, heldDevices ? 'DevicesHeld' : 'Conflict'), ...(heldDevices && { heldDevices }) },
        };
      }
      return { ok: false, failure: httpFailure(response, `HTTP ${response.status}`) };
    },
    async status(requestId) {
      const response = await send('GET', `${options.workflow.route}/${encodeURIComponent(requestId)}`);
      if ('code' in response) return { ok: false, failure: response };
      if (response.status === 200) return { ok: true, value: response.json as RequestStatusResponse };
      return { ok: false, failure: httpFailure(response, response.status === 404 ? 'NotFound' : `HTTP ${response.status}`) };
    },
  };
}

type FinishedStatusResponse = RequestStatusResponse & { executionStatus: FinalExecutionStatus };

/**
 * Asks for the status of a request the API has just accepted until its execution ends, waiting longer between
 * calls while it runs, and hands each progress the API reports to `onProgress`.
 */
export async function waitUntilFinished(
  api: FleetApi,
  requestId: string,
  schedule: PollSchedule = POLL_BACKOFF,
  signal?: AbortSignal,
  onProgress: (progress: RequestProgress) => void = () => {},
): Promise<ApiResult<FinishedStatusResponse>> {
  const finished = await pollUntilEnded(
    () => api.status(requestId),
    schedule,
    signal,
    (running) => {
      if (running.progress) onProgress(running.progress);
    },
  );
  return finished as ApiResult<FinishedStatusResponse>;
}

/**
 * Asks for an execution's status until it has ended, waiting longer between calls while it runs, and hands each
 * answer of a running one to `onRunning`. The first call waits too: the execution may only just have started.
 * A 404 within `notVisibleGraceMs` is taken as "not visible yet" (see NOT_VISIBLE_GRACE_MS).
 */
export async function pollUntilEnded<T extends { executionStatus: string }>(
  status: () => Promise<ApiResult<T>>,
  schedule: PollSchedule = POLL_BACKOFF,
  signal?: AbortSignal,
  onRunning: (running: T) => void = () => {},
): Promise<ApiResult<T>> {
  const notVisibleUntil = performance.now() + (schedule.notVisibleGraceMs ?? NOT_VISIBLE_GRACE_MS);
  for (let delay = schedule.initialMs; ; delay = Math.min(delay * 2, schedule.maxMs)) {
    await sleep(delay, undefined, { signal });
    const result = await status();
    if (!result.ok && result.failure.code === 'NotFound' && performance.now() < notVisibleUntil) continue;
    if (!result.ok || !isRunning(result.value.executionStatus)) return result;
    onRunning(result.value);
  }
}

function isRunning(executionStatus: string): boolean {
  return executionStatus === 'RUNNING' || executionStatus === 'PENDING_REDRIVE';
}

type Signer = (url: URL, method: string, headers: Record<string, string>, body: string | undefined) => Promise<Record<string, string>>;

function createSigner(options: ApiConnection): Signer {
  const region = options.region;
  if (region === undefined) throw new Error(`cannot tell the region of ${options.apiUrl.host}: give --region or set AWS_REGION`);
  const signer = new SignatureV4({
    service: 'execute-api',
    region,
    sha256: Sha256,
    credentials: options.credentials ?? defaultCredentials(),
  });
  return async (url, method, headers, body) => {
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...headers, host: url.host },
      body,
    });
    // fetch sets Host itself, from the same URL, and refuses to be given one.
    delete signed.headers.host;
    return signed.headers;
  };
}

/** The SDK's default chain, created once so that it caches what it resolves. */
export function defaultCredentials(): SigningCredentials {
  // Imported only for a remote API: the chain pulls in the STS and SSO clients.
  const chain = import('@aws-sdk/credential-providers').then((providers) => providers.fromNodeProviderChain());
  return async () => (await chain)();
}

export function httpFailure(response: { status: number; json: unknown }, code: string): ApiFailure {
  return { code, message: messageOf(response.json) ?? `the API answered ${response.status}` };
}

export function messageOf(json: unknown): string | undefined {
  const message = (json as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
