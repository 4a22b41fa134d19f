import { createServer, type IncomingMessage, maxHeaderSize, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { LOCAL_ACCOUNT_ID } from '../config.ts';
import type { LambdaRegistry } from '../lambda/lambda-registry.ts';
import type { ServerlessProject } from '../lambda/serverless-project.ts';
import { readBodyWithin } from '../wire/request-body.ts';
import { createRouteMatcher, type HttpRoute, httpRoutesOf } from './http-routes.ts';
import { apiGatewayProxyEvent } from './proxy-event.ts';

/** API Gateway's payload limit. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface ApiServerOptions {
  project: ServerlessProject;
  lambdas: LambdaRegistry;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

export interface RunningApiServer {
  url: string;
  port: number;
  routes: readonly HttpRoute[];
  close(): Promise<void>;
}

/**
 * Serves the `http` events of `serverless.yml` like an API Gateway REST API with Lambda-proxy integrations,
 * invoking the handlers through the local Lambda runtime. Like serverless-offline, it checks no IAM signatures
 * and serves the paths both without and with the `/<stage>` prefix of an API Gateway invoke URL.
 */
export async function startApiServer(options: ApiServerOptions): Promise<RunningApiServer> {
  const routes = httpRoutesOf(options.project);
  const matchRoute = createRouteMatcher(routes);
  const context = { stage: options.project.stage, accountId: LOCAL_ACCOUNT_ID, apiId: 'local' };
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      console.error('Local API: unexpected error', error);
      if (!response.headersSent) send(response, 500, { message: 'Internal server error' });
    });
  });
  server.on('clientError', (error: ClientError, socket: Socket) => refuseUnparsedRequest(error, socket, maxHeaderSize));

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const path = withoutStagePrefix(url.pathname, options.project.stage);
    const match = matchRoute(method, path);
    if (!match) {
      // What API Gateway answers for a path or method the REST API does not define.
      send(response, 403, { message: 'Missing Authentication Token' }, { 'x-amzn-errortype': 'MissingAuthenticationTokenException' });
      return;
    }
    const body = await readBodyWithin(request, MAX_BODY_BYTES);
    if (!body) {
      send(response, 413, { message: `HTTP content length exceeded ${MAX_BODY_BYTES} bytes.` });
      return;
    }
    const event = apiGatewayProxyEvent(
      {
        method,
        path,
        query: url.searchParams,
        rawHeaders: request.rawHeaders,
        body,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        host: request.headers.host ?? 'localhost',
      },
      match,
      context,
    );
    let result: unknown;
    try {
      result = await options.lambdas.invoke(match.route.functionName, event);
    } catch (error) {
      console.error(`Local API: ${match.route.functionName} failed`, error);
      send(response, 502, { message: 'Internal server error' }, { 'x-amzn-requestid': event.requestContext.requestId });
      return;
    }
    writeProxyResult(response, result, event.requestContext.requestId, match.route.functionName);
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    routes,
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function withoutStagePrefix(path: string, stage: string): string {
  const prefix = `/${stage}`;
  return path === prefix || path.startsWith(`${prefix}/`) ? path.slice(prefix.length) || '/' : path;
}

interface ProxyResult {
  statusCode: number;
  headers?: Record<string, string | number | boolean>;
  multiValueHeaders?: Record<string, (string | number | boolean)[]>;
  body?: string;
  isBase64Encoded?: boolean;
}

/** A result that is not a proxy response is an integration failure (502), as on API Gateway. */
function writeProxyResult(response: ServerResponse, result: unknown, requestId: string, functionName: string): void {
  if (!isProxyResult(result)) {
    console.error(`Local API: ${functionName} returned a malformed Lambda proxy response`, result);
    send(response, 502, { message: 'Internal server error' }, { 'x-amzn-requestid': requestId });
    return;
  }
  response.statusCode = result.statusCode;
  response.setHeader('x-amzn-requestid', requestId);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) response.setHeader(name, values.map(String));
  for (const [name, value] of Object.entries(result.headers ?? {})) response.setHeader(name, String(value));
  if (!response.hasHeader('content-type')) response.setHeader('content-type', 'application/json');
  response.end(result.body === undefined ? '' : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8'));
}

function isProxyResult(value: unknown): value is ProxyResult {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return Number.isInteger(candidate.statusCode) && (candidate.body === undefined || typeof candidate.body === 'string');
}

type ClientError = Error & { code?: string; rawPacket?: Buffer };

/**
 * What Node's parser refuses before any handler runs gets a JSON error body like every other answer, where Node
 * would write a bare status line.
 */
function refuseUnparsedRequest(error: ClientError, socket: Socket, maxHeaderBytes: number): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return;
  const { status, message } = unparsedRequestAnswer(error, maxHeaderBytes);
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** A request line that alone outgrows the header limit is a URL too long (414); otherwise the headers are (431). */
function unparsedRequestAnswer(error: ClientError, maxHeaderBytes: number): { status: number; message: string } {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    const requestLineEnd = error.rawPacket?.indexOf('\r\n') ?? -1;
    return requestLineEnd === -1 || requestLineEnd >= maxHeaderBytes
      ? { status: 414, message: `the URL is longer than the ${maxHeaderBytes} bytes this server reads` }
      : { status: 431, message: `the headers take more than the ${maxHeaderBytes} bytes this server reads` };
  }
  const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  return { status, message: STATUS_CODES[status] ?? 'Bad Request' };
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}
