import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { MAX_REQUEST_BYTES } from '../domain/limits.ts';
import type { FieldError } from '../domain/validation.ts';

export function jsonResponse(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

export function badRequest(errors: FieldError[], statusCode = 400): APIGatewayProxyResult {
  const summary = errors.map((error) => `${error.field} ${error.reason}`).join('; ');
  return jsonResponse(statusCode, { message: `Invalid request: ${summary}`, errors });
}

export function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const entry = Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === wanted);
  return entry?.[1] ?? undefined;
}

/** A path parameter, or '' where API Gateway passed none: a value no id pattern matches, so the caller refuses it as malformed. */
export function pathParameter(event: APIGatewayProxyEvent, name: string): string {
  // Stryker disable next-line StringLiteral: equivalent: the callers refuse any value their id pattern does not match, as they refuse ''
  return event.pathParameters?.[name] ?? '';
}

/** JSON, or a vendor type built on it (`application/vnd.example+json`). */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.!#$&^-]+\+)?json$/i;

/**
 * A body declared as anything but JSON in UTF-8 (the only encoding RFC 8259 allows) is refused, not parsed on a
 * guess. A body with no Content-Type at all is taken as JSON: the header is what a client may get wrong, not leave out.
 */
function unsupportedMediaType(event: APIGatewayProxyEvent): APIGatewayProxyResult | undefined {
  const contentType = header(event, 'Content-Type');
  if (contentType === undefined) return undefined;
  // Stryker disable next-line StringLiteral: equivalent: split always answers a first part, so the default is never taken
  const [mediaType = '', ...parameters] = contentType.split(';').map((part) => part.trim());
  // A charset value that is not a token or one quoted string (`latin1"x`) names no UTF-8 either: it is refused.
  const charsets = parameters.flatMap((parameter) => {
    const value = /^charset\s*=\s*(.*)/i.exec(parameter)?.[1];
    return value === undefined ? [] : [value.replace(/^"([^"]*)"$/, '$1')];
  });
  if (JSON_MEDIA_TYPE.test(mediaType) && charsets.every((charset) => ['utf-8', 'utf8'].includes(charset.toLowerCase()))) return undefined;
  const reason = `is ${JSON.stringify(contentType)}: send the request as application/json (UTF-8)`;
  return badRequest([{ field: 'headers.Content-Type', reason }], 415);
}

export type ParsedBody = { ok: true; value: unknown } | { ok: false; response: APIGatewayProxyResult };

/** The body as JSON, or the 4xx that says why not: too large (413), missing or not JSON (400). */
function parseJsonBody(event: APIGatewayProxyEvent): ParsedBody {
  const raw = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (raw === null || raw === undefined || raw.trim() === '') {
    return { ok: false, response: badRequest([{ field: '(body)', reason: 'is empty: send the request as a JSON object' }]) };
  }
  const bytes = Buffer.byteLength(raw);
  if (bytes > MAX_REQUEST_BYTES) {
    const reason = `is ${bytes} bytes, more than the ${MAX_REQUEST_BYTES} a request may have: split the devices over several requests`;
    return { ok: false, response: badRequest([{ field: '(body)', reason }], 413) };
  }
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch (error) {
    return { ok: false, response: badRequest([{ field: '(body)', reason: `is not valid JSON: ${(error as Error).message}` }]) };
  }
}

/** Where the status of a request can be read: next to the collection the request was posted to. */
export function statusUrl(event: APIGatewayProxyEvent, requestId: string): string {
  const protocol = header(event, 'X-Forwarded-Proto') ?? 'https';
  const host = event.requestContext?.domainName ?? header(event, 'Host') ?? 'localhost';
  const collectionPath = (event.requestContext?.path ?? event.path).replace(/\/$/, '');
  return `${protocol}://${host}${collectionPath}/${encodeURIComponent(requestId)}`;
}

/** A POST's JSON body, or the 4xx that says why not: a Content-Type other than JSON (415), too large (413), missing or not JSON (400). */
export function jsonBodyOf(event: APIGatewayProxyEvent): ParsedBody {
  const unsupported = unsupportedMediaType(event);
  return unsupported ? { ok: false, response: unsupported } : parseJsonBody(event);
}
