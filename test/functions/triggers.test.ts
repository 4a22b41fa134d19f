import type { APIGatewayProxyEvent, EventBridgeEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_BYTES } from '../../functions/domain/limits.ts';
import { startTestServiceCloud, type TestServiceCloud } from '../support/service-cloud.ts';
import { waitForExecution } from '../support/step-functions.ts';

type Handlers = {
  post: (event: APIGatewayProxyEvent) => Promise<{ statusCode: number; body: string }>;
  get: (event: APIGatewayProxyEvent) => Promise<{ statusCode: number; body: string }>;
  onEvent: (event: EventBridgeEvent<string, unknown>) => Promise<{ kind: string; executionArn?: string }>;
};

function apiEvent(overrides: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path: '/provisioning-requests',
    resource: '/provisioning-requests',
    headers: { Host: 'api.example.com' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { domainName: 'api.example.com', path: '/prod/provisioning-requests', stage: 'prod' } as APIGatewayProxyEvent['requestContext'],
    ...overrides,
  };
}

/** The trigger functions, called as Lambda calls them, starting real executions in the local cloud. */
describe('trigger functions', () => {
  let cloud: TestServiceCloud;
  let handlers: Handlers;

  beforeAll(async () => {
    cloud = await startTestServiceCloud();
    const [post, get, onEvent] = await Promise.all([
      import('../../functions/start-provisioning.ts'),
      import('../../functions/get-provisioning-request.ts'),
      import('../../functions/handle-provisioning-event.ts'),
    ]);
    const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'test', awsRequestId: 'req' } as never;
    handlers = {
      post: (event) => post.handler(event, context) as never,
      get: (event) => get.handler(event, context) as never,
      onEvent: (event) => onEvent.handler(event, context) as never,
    };
  });
  afterAll(() => cloud.close());

  /** Each request brings its own certificate: exclusive attachment rightly refuses to share one. */
  const principals = new Map<string, string>();
  beforeAll(async () => {
    for (const requestId of ['http-happy', 'header-key', 'same-intent', 'from-event', 'throttled-start', 'unavailable-start']) principals.set(requestId, await cloud.createCertificate());
  });
  const body = (requestId: string) =>
    JSON.stringify({ requestId, coreDeviceThingName: 'core-a', devices: [{ thingName: `${requestId}-device`, principal: principals.get(requestId) }] });

  it('POST answers 202 with the execution and where to follow it, then GET answers the summary', async () => {
    const response = await handlers.post(apiEvent({ body: body('http-happy') }));
    expect(response.statusCode).toBe(202);
    const accepted = JSON.parse(response.body);
    expect(accepted).toEqual({
      requestId: 'http-happy',
      executionArn: expect.stringContaining(':execution:iot-provisioning-workflow-local-provision:http-happy'),
      statusUrl: 'https://api.example.com/prod/provisioning-requests/http-happy',
    });
    await waitForExecution(cloud.sfn, accepted.executionArn);
    const status = await handlers.get(apiEvent({ httpMethod: 'GET', pathParameters: { requestId: 'http-happy' } }));
    expect(status.statusCode).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ requestId: 'http-happy', status: 'SUCCEEDED', summary: { status: 'SUCCEEDED', counts: { succeeded: 1 } } });
  });

  it('the Idempotency-Key header keys the request; the same key with another body is 409', async () => {
    const first = await handlers.post(apiEvent({ headers: { 'idempotency-key': 'header-key' }, body: body('header-key') }));
    const again = await handlers.post(apiEvent({ headers: { 'Idempotency-Key': 'header-key' }, body: body('header-key') }));
    expect(first.statusCode).toBe(202);
    expect(JSON.parse(again.body).executionArn).toBe(JSON.parse(first.body).executionArn);
    const other = await handlers.post(apiEvent({ headers: { 'Idempotency-Key': 'header-key' }, body: JSON.stringify({ ...JSON.parse(body('header-key')), rollbackOnFailure: false }) }));
    expect(other.statusCode).toBe(409);
    expect(JSON.parse(other.body).message).toContain('different request body');
    await waitForExecution(cloud.sfn, JSON.parse(first.body).executionArn);
  });

  it('reaches the same execution whether the key is in the body or the header, and whether defaults are spelled out', async () => {
    const first = await handlers.post(apiEvent({ body: body('same-intent') }));
    const { requestId, ...withoutId } = JSON.parse(body('same-intent'));
    const spelledOut = {
      ...withoutId,
      templateName: 'thing-with-attributes',
      templateParameters: {},
      thingPrincipalType: 'EXCLUSIVE_THING',
      rollbackOnFailure: true,
      devices: withoutId.devices.map((device: object) => ({ ...device, coreDeviceThingName: 'core-a', parameters: {} })),
    };
    const again = await handlers.post(apiEvent({ headers: { 'Idempotency-Key': requestId }, body: JSON.stringify(spelledOut) }));
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(JSON.parse(again.body).executionArn).toBe(JSON.parse(first.body).executionArn);
    await waitForExecution(cloud.sfn, JSON.parse(first.body).executionArn);
  });

  it.each([
    ['no body', 400, '(body)', null],
    ['malformed JSON', 400, '(body)', '{"devices": ['],
    ['a JSON array', 400, '(body)', '[]'],
    ['a bad thing name', 400, 'devices[0].thingName', JSON.stringify({ coreDeviceThingName: 'c', devices: [{ thingName: 'a b', principal: 'x' }] })],
    ['a body over the limit', 413, '(body)', JSON.stringify({ pad: 'x'.repeat(MAX_REQUEST_BYTES) })],
    [
      'a principal with a template that issues the certificate',
      400,
      'devices[0].principal',
      JSON.stringify({
        coreDeviceThingName: 'core-a',
        templateName: 'thing-with-certificate-from-csr',
        devices: [{ thingName: 'csr-device', principal: `arn:aws:iot:us-east-1:000000000000:cert/${'a'.repeat(64)}`, parameters: { CSR: 'pem' } }],
      }),
    ],
  ])('rejects %s with %i naming %s, and starts nothing', async (_, statusCode, field, requestBody) => {
    const before = cloud.cloud.admin.metrics().StartExecution?.calls ?? 0;
    const response = await handlers.post(apiEvent({ body: requestBody }));
    expect(response.statusCode).toBe(statusCode);
    const answer = JSON.parse(response.body);
    expect(answer.errors.map((error: { field: string }) => error.field)).toContain(field);
    expect(answer.message).toContain(field);
    expect(cloud.cloud.admin.metrics().StartExecution?.calls ?? 0).toBe(before);
  });

  it.each([
    ['throttles', 'throttle', 429, 'throttled-start'],
    ['fails with a 5xx', 'serverError', 503, 'unavailable-start'],
  ] as const)('answers with Retry-After while Step Functions %s, never 502, and starts nothing until it recovers', async (_, fault, statusCode, requestId) => {
    cloud.cloud.admin.configureFaults({ [fault]: { StartExecution: 1 } });
    try {
      const response = await handlers.post(apiEvent({ body: body(requestId) }));
      expect(response.statusCode).toBe(statusCode);
      expect((response as { headers?: Record<string, string> }).headers?.['retry-after']).toBe('1');
      expect(JSON.parse(response.body).message).toContain('retry the same request');
    } finally {
      cloud.cloud.admin.configureFaults({ [fault]: {} });
    }
    const nothingStarted = await handlers.get(apiEvent({ httpMethod: 'GET', pathParameters: { requestId } }));
    expect(nothingStarted.statusCode).toBe(404);
    const afterwards = await handlers.post(apiEvent({ body: body(requestId) }));
    expect(afterwards.statusCode).toBe(202);
    await waitForExecution(cloud.sfn, JSON.parse(afterwards.body).executionArn);
  });

  it('GET answers 404 for an unknown request and 400 for a malformed id', async () => {
    expect((await handlers.get(apiEvent({ httpMethod: 'GET', pathParameters: { requestId: 'nobody' } }))).statusCode).toBe(404);
    expect((await handlers.get(apiEvent({ httpMethod: 'GET', pathParameters: { requestId: 'bad id!' } }))).statusCode).toBe(400);
  });

  it('a duplicate EventBridge delivery reaches the same execution', async () => {
    const event = {
      id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
      'detail-type': 'Provisioning Requested',
      source: 'iot-provisioning-workflow',
      account: '000000000000',
      time: '2026-11-23T12:00:00Z',
      region: 'us-east-1',
      resources: [],
      version: '0',
      detail: { coreDeviceThingName: 'core-a', devices: [{ thingName: 'from-event', principal: principals.get('from-event') }] },
    } satisfies EventBridgeEvent<string, unknown>;
    const [first, duplicate] = await Promise.all([handlers.onEvent(event), handlers.onEvent(event)]);
    expect(first.kind).toBe('started');
    expect(duplicate.executionArn).toBe(first.executionArn);
    expect(first.executionArn).toMatch(/:evt-[0-9a-f]{40}$/);
    const retriedByProducer = await handlers.onEvent({ ...event, id: 'a-new-id-for-the-same-detail' });
    expect(retriedByProducer.executionArn).toBe(first.executionArn);
    const finished = await waitForExecution(cloud.sfn, first.executionArn as string);
    expect(JSON.parse(finished.output ?? '{}')).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('an invalid EventBridge event is rejected with every reason and starts nothing', async () => {
    const outcome = await handlers.onEvent({ id: 'e2', detail: { devices: [] } } as unknown as EventBridgeEvent<string, unknown>);
    expect(outcome).toEqual({ kind: 'invalid', errors: [{ field: 'devices', reason: 'must list at least one device' }] });
  });
});
