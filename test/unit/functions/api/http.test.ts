import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { badRequest, jsonBodyOf, jsonResponse, pathParameter, statusUrl } from '../../../../functions/api/http.ts';
import { MAX_REQUEST_BYTES } from '../../../../functions/domain/limits.ts';

/** The HTTP helpers of the API handlers: their answers, what a body must be, and where a request's status is read. */
const event = (overrides: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent =>
  ({ headers: {}, body: null, isBase64Encoded: false, path: '/provisioning-requests', ...overrides }) as APIGatewayProxyEvent;
const refusal = (parsed: ReturnType<typeof jsonBodyOf>) =>
  parsed.ok ? undefined : { statusCode: parsed.response.statusCode, ...JSON.parse(parsed.response.body) };

describe('API answers', () => {
  it('are JSON, and a refusal names each field with its reason, in the message too', () => {
    expect(jsonResponse(201, { a: 1 })).toEqual({ statusCode: 201, headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    const errors = [
      { field: 'devices', reason: 'is required' },
      { field: 'requestId', reason: 'must be short' },
    ];
    expect(badRequest(errors)).toEqual(
      jsonResponse(400, { message: 'Invalid request: devices is required; requestId must be short', errors }),
    );
  });
});

describe('a request body', () => {
  it('is read as JSON, base64-encoded or not', () => {
    expect(jsonBodyOf(event({ body: '{"a":1}' }))).toEqual({ ok: true, value: { a: 1 } });
    expect(jsonBodyOf(event({ body: Buffer.from('{"a":2}').toString('base64'), isBase64Encoded: true }))).toEqual({
      ok: true,
      value: { a: 2 },
    });
  });

  it.each([null, undefined, '', '  \n'])('%j is refused as empty', (body) => {
    expect(refusal(jsonBodyOf(event({ body })))).toEqual({
      statusCode: 400,
      message: 'Invalid request: (body) is empty: send the request as a JSON object',
      errors: [{ field: '(body)', reason: 'is empty: send the request as a JSON object' }],
    });
  });

  it('is refused when not JSON, saying why', () => {
    expect(refusal(jsonBodyOf(event({ body: '{"a":' })))).toMatchObject({
      statusCode: 400,
      errors: [{ field: '(body)', reason: expect.stringMatching(/^is not valid JSON: /) }],
    });
  });

  it('may be as large as a request may be, and no larger', () => {
    const padded = (bytes: number) => `"${'x'.repeat(bytes - 2)}"`;
    expect(jsonBodyOf(event({ body: padded(MAX_REQUEST_BYTES) })).ok).toBe(true);
    expect(refusal(jsonBodyOf(event({ body: padded(MAX_REQUEST_BYTES + 1) })))).toMatchObject({
      statusCode: 413,
      errors: [
        {
          field: '(body)',
          reason: `is ${MAX_REQUEST_BYTES + 1} bytes, more than the ${MAX_REQUEST_BYTES} a request may have: split the devices over several requests`,
        },
      ],
    });
  });

  it.each([
    'application/json',
    'APPLICATION/JSON; charset=UTF-8',
    'application/json;charset="utf8"',
    'application/json; Charset = utf-8',
    'application/vnd.example+json',
    'application/json; xcharset=latin1',
  ])('declared as %j is read', (contentType) => {
    expect(jsonBodyOf(event({ headers: { 'content-type': contentType }, body: '{}' })).ok).toBe(true);
  });

  it.each([
    'text/plain',
    'application/json; charset=latin1',
    'application/json; charset = latin1',
    'application/json; xcharset=utf-8; charset=utf-16',
    'application/json; charset=utf-8x',
    'application/json; charset=latin1"x',
    'application/json; charset="utf-8',
    'application/json; charset=utf"-8"',
    'application/json; charset="utf"-8',
  ])('declared as %j is refused with 415', (contentType) => {
    expect(refusal(jsonBodyOf(event({ headers: { 'Content-Type': contentType }, body: '{}' })))).toEqual({
      statusCode: 415,
      message: `Invalid request: headers.Content-Type is ${JSON.stringify(contentType)}: send the request as application/json (UTF-8)`,
      errors: [
        { field: 'headers.Content-Type', reason: `is ${JSON.stringify(contentType)}: send the request as application/json (UTF-8)` },
      ],
    });
  });
});

describe('the status URL of a request', () => {
  it("is beside the collection the request was posted to, on the API's own domain and stage", () => {
    const posted = event({
      path: '/provisioning-requests/',
      requestContext: { domainName: 'api.example.com', path: '/prod/provisioning-requests/' } as APIGatewayProxyEvent['requestContext'],
      headers: { Host: 'internal' },
    });
    expect(statusUrl(posted, 'r 1')).toBe('https://api.example.com/prod/provisioning-requests/r%201');
  });

  it('takes the protocol and host from the headers without a request context, and localhost without either', () => {
    expect(statusUrl(event({ headers: { 'x-forwarded-proto': 'http', host: 'localhost:3000' } }), 'r1')).toBe(
      'http://localhost:3000/provisioning-requests/r1',
    );
    expect(statusUrl(event({}), 'r1')).toBe('https://localhost/provisioning-requests/r1');
  });
});

describe('a path parameter', () => {
  it("is API Gateway's value, and '' without path parameters or without that one", () => {
    expect(pathParameter(event({ pathParameters: { requestId: 'r-1' } }), 'requestId')).toBe('r-1');
    expect(pathParameter(event({ pathParameters: { fleetRunId: 'f-1' } }), 'requestId')).toBe('');
    expect(pathParameter(event({ pathParameters: null }), 'requestId')).toBe('');
  });
});
