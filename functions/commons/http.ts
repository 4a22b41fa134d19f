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

export type ParsedBody = { ok: true; value: unknown } | { ok: false; response: APIGatewayProxyResult };

/** The body as JSON, or the 4xx that says why not: too large (413), missing or not JSON (400). */
export function parseJsonBody(event: APIGatewayProxyEvent): ParsedBody {
  const raw = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (raw === null || raw === undefined || raw.trim() === '') {
    return { ok: false, response: badRequest([{ field: '(body)', reason: 'is empty: send the request as a JSON object' }]) };
  }
  const bytes = Buffer.byteLength(raw, 'utf8');
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
