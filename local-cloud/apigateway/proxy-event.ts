import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { RouteMatch } from './http-routes.ts';

export interface IncomingApiRequest {
  method: string;
  /** Path without the query string, as sent. */
  path: string;
  query: URLSearchParams;
  /** Node's `rawHeaders`: name/value pairs with the client's spelling, which API Gateway preserves. */
  rawHeaders: string[];
  body: Buffer;
  sourceIp: string;
  host: string;
}

export interface ApiContext {
  stage: string;
  accountId: string;
  apiId: string;
}

/** The event API Gateway (REST API, v1 payload) sends to a Lambda-proxy integration. */
export function apiGatewayProxyEvent(request: IncomingApiRequest, match: RouteMatch, context: ApiContext): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let index = 0; index + 1 < request.rawHeaders.length; index += 2) {
    const name = request.rawHeaders[index]!;
    const value = request.rawHeaders[index + 1]!;
    headers[name] = value;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  }
  // API Gateway adds these; here they tell the handlers that the local API speaks plain http.
  const [, port = '80'] = request.host.split(':');
  for (const [name, value] of [
    ['X-Forwarded-Proto', 'http'],
    ['X-Forwarded-Port', port],
    ['X-Forwarded-For', request.sourceIp],
  ] as const) {
    headers[name] = value;
    multiValueHeaders[name] = [value];
  }
  const queryStringParameters: Record<string, string> = {};
  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const [name, value] of request.query) {
    queryStringParameters[name] = value;
    multiValueQueryStringParameters[name] = [...(multiValueQueryStringParameters[name] ?? []), value];
  }
  const hasQuery = request.query.size > 0;
  const hasPathParameters = Object.keys(match.pathParameters).length > 0;
  const now = new Date();
  const requestId = randomUUID();
  const userAgent = headerValue(headers, 'user-agent');

  return {
    resource: match.route.resource,
    path: request.path,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    // API Gateway sends null, not {}, when there is nothing.
    queryStringParameters: hasQuery ? queryStringParameters : null,
    multiValueQueryStringParameters: hasQuery ? multiValueQueryStringParameters : null,
    pathParameters: hasPathParameters ? match.pathParameters : null,
    stageVariables: null,
    body: request.body.length > 0 ? request.body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: {
      accountId: context.accountId,
      apiId: context.apiId,
      authorizer: undefined,
      domainName: request.host,
      domainPrefix: request.host.split('.')[0] ?? request.host,
      extendedRequestId: requestId,
      httpMethod: request.method,
      path: `/${context.stage}${request.path}`,
      protocol: 'HTTP/1.1',
      requestId,
      requestTime: apiGatewayRequestTime(now),
      requestTimeEpoch: now.getTime(),
      resourceId: 'local',
      resourcePath: match.route.resource,
      stage: context.stage,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.sourceIp,
        user: null,
        userAgent: userAgent ?? null,
        userArn: null,
      },
    },
  };
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  return Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** API Gateway's CLF-style `requestTime`: `23/Nov/2026:13:18:00 +0000`. */
function apiGatewayRequestTime(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}
