import type { APIGatewayProxyEvent, EventBridgeEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_BYTES } from '../../../functions/domain/limits.ts';
import { startTestServiceCloud, type TestServiceCloud } from '../../support/service-cloud.ts';
import { waitForExecution } from '../../support/step-functions.ts';

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
    requestContext: {
      domainName: 'api.example.com',
      path: '/prod/provisioning-requests',
      stage: 'prod',
    } as APIGatewayProxyEvent['requestContext'],
    ...overrides,
  };
}

/**
 * Every association call throttled: after its devices' own steps a request backs off and retries association (for
 * about half a minute at this file's time scale before it would give up) until the test lifts the fault.
 */
const ASSOCIATION_HELD = { BatchAssociateClientDeviceWithCoreDevice: 1 };

/**
 * The trigger functions, called as Lambda calls them, starting real executions in the local cloud; in half real time,
 * so that a throttled call holds an execution running until the test lifts the fault.
 */
describe('trigger functions', () => {
  let cloud: TestServiceCloud;
  let handlers: Handlers;

  /** Each request brings its own certificate: exclusive attachment rightly refuses to share one. */
  const principals = new Map<string, string>();
  beforeAll(async () => {
    cloud = await startTestServiceCloud({ timeScale: 0.5 });
    const [post, get, onEvent] = await Promise.all([
      import('../../../functions/start-provisioning.ts'),
      import('../../../functions/get-provisioning-request.ts'),
      import('../../../functions/handle-provisioning-event.ts'),
    ]);
    const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'test', awsRequestId: 'req' } as never;
    handlers = {
      post: (event) => post.handler(event, context) as never,
      get: (event) => get.handler(event, context) as never,
      onEvent: (event) => onEvent.handler(event, context) as never,
    };
    for (const requestId of [
      'http-happy',
      'cancel-ended',
      'all-failed',
      'header-key',
      'same-intent',
      'from-event',
      'throttled-start',
      'unavailable-start',
    ])
      principals.set(requestId, await cloud.createCertificate());
  });
  afterAll(() => cloud.close());

  const body = (requestId: string) =>
    JSON.stringify({
      requestId,
      coreDeviceThingName: 'core-a',
      devices: [{ thingName: `${requestId}-device`, principal: principals.get(requestId) }],
    });

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
    const answer = JSON.parse(status.body);
    expect(answer).toMatchObject({
      requestId: 'http-happy',
      executionStatus: 'SUCCEEDED',
      outcome: 'SUCCEEDED',
      summary: { status: 'SUCCEEDED', counts: { succeeded: 1 } },
    });
    expect(answer).not.toHaveProperty('progress');
  });

  it('cancel answers 409 naming the status of a request that has ended, 404 for no such request and 400 for a malformed id', async () => {
    const { handler } = await import('../../../functions/cancel-provisioning-request.ts');
    const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'test', awsRequestId: 'req' } as never;
    const cancel = (requestId: string) =>
      handler(
        apiEvent({
          path: `/provisioning-requests/${requestId}/cancel`,
          pathParameters: { requestId },
          requestContext: {
            domainName: 'api.example.com',
            path: `/prod/provisioning-requests/${requestId}/cancel`,
            stage: 'prod',
          } as APIGatewayProxyEvent['requestContext'],
        }),
        context,
      ) as Promise<{ statusCode: number; body: string }>;
    const accepted = JSON.parse((await handlers.post(apiEvent({ body: body('cancel-ended') }))).body);
    await waitForExecution(cloud.sfn, accepted.executionArn);

    const ended = await cancel('cancel-ended');
    expect(ended.statusCode).toBe(409);
    expect(JSON.parse(ended.body)).toEqual({
      message: 'provisioning-request cancel-ended has already ended (its execution is SUCCEEDED): there is nothing to cancel',
      requestId: 'cancel-ended',
      executionArn: accepted.executionArn,
      executionStatus: 'SUCCEEDED',
      statusUrl: 'https://api.example.com/prod/provisioning-requests/cancel-ended',
    });
    const unknown = await cancel('no-such-request');
    expect([unknown.statusCode, JSON.parse(unknown.body)]).toEqual([404, { message: 'no provisioning-request no-such-request' }]);
    expect((await cancel('bad id!')).statusCode).toBe(400);
  });

  it('GET names an execution that ran to its end apart from a request whose every device failed', async () => {
    const response = await handlers.post(
      apiEvent({
        body: JSON.stringify({
          requestId: 'all-failed',
          coreDeviceThingName: 'no-such-core',
          devices: [{ thingName: 'all-failed-device', principal: principals.get('all-failed') }],
        }),
      }),
    );
    await waitForExecution(cloud.sfn, JSON.parse(response.body).executionArn);
    const status = JSON.parse((await handlers.get(apiEvent({ httpMethod: 'GET', pathParameters: { requestId: 'all-failed' } }))).body);
    expect(status).toMatchObject({ executionStatus: 'SUCCEEDED', outcome: 'FAILED', summary: { status: 'FAILED', counts: { failed: 1 } } });
    expect(status).not.toHaveProperty('status');
  });

  it('GET counts the devices through their own steps while the execution runs, and answers without the count while reading the history is throttled', async () => {
    // Held once its devices are through their own steps; the throttled GET below spends a second or two on the SDK's retries.
    cloud.cloud.admin.configureFaults({ throttle: ASSOCIATION_HELD });
    const get = async () =>
      JSON.parse((await handlers.get(apiEvent({ httpMethod: 'GET', pathParameters: { requestId: 'in-progress' } }))).body);
    try {
      const devices = await Promise.all(
        ['a', 'b', 'c'].map(async (suffix) => ({ thingName: `in-progress-${suffix}`, principal: await cloud.createCertificate() })),
      );
      const accepted = await handlers.post(
        apiEvent({ body: JSON.stringify({ requestId: 'in-progress', coreDeviceThingName: 'core-a', devices }) }),
      );
      expect(accepted.statusCode).toBe(202);
      const seen: number[] = [];
      let status;
      do {
        status = await get();
        expect(status).toMatchObject({ executionStatus: 'RUNNING', outcome: 'IN_PROGRESS', progress: { requested: 3 } });
        seen.push(status.progress.finished);
      } while (status.progress.finished < 3);
      expect(seen).toEqual([...seen].sort((left, right) => left - right));

      cloud.cloud.admin.configureFaults({ throttle: { ...ASSOCIATION_HELD, GetExecutionHistory: 1 } });
      const throttled = await get();
      expect(throttled).toMatchObject({ executionStatus: 'RUNNING', outcome: 'IN_PROGRESS' });
      expect(throttled).not.toHaveProperty('progress');
    } finally {
      cloud.cloud.admin.configureFaults({ throttle: {} });
    }
    const finished = await waitForExecution(cloud.sfn, (await get()).executionArn);
    expect(finished.status).toBe('SUCCEEDED');
    expect(await get()).toMatchObject({ executionStatus: 'SUCCEEDED', outcome: 'SUCCEEDED', summary: { counts: { succeeded: 3 } } });
  });

  it('the Idempotency-Key header keys the request; the same key with another body is 409', async () => {
    const first = await handlers.post(apiEvent({ headers: { 'idempotency-key': 'header-key' }, body: body('header-key') }));
    const again = await handlers.post(apiEvent({ headers: { 'Idempotency-Key': 'header-key' }, body: body('header-key') }));
    expect(first.statusCode).toBe(202);
    expect(JSON.parse(again.body).executionArn).toBe(JSON.parse(first.body).executionArn);
    const other = await handlers.post(
      apiEvent({
        headers: { 'Idempotency-Key': 'header-key' },
        body: JSON.stringify({ ...JSON.parse(body('header-key')), rollbackOnFailure: false }),
      }),
    );
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
    [
      'a bad thing name',
      400,
      'devices[0].thingName',
      JSON.stringify({ coreDeviceThingName: 'c', devices: [{ thingName: 'a b', principal: 'x' }] }),
    ],
    ['a body over the limit', 413, '(body)', JSON.stringify({ pad: 'x'.repeat(MAX_REQUEST_BYTES) })],
    [
      'a principal with a template that issues the certificate',
      400,
      'devices[0].principal',
      JSON.stringify({
        coreDeviceThingName: 'core-a',
        templateName: 'thing-with-certificate-from-csr',
        devices: [
          { thingName: 'csr-device', principal: `arn:aws:iot:us-east-1:000000000000:cert/${'a'.repeat(64)}`, parameters: { CSR: 'pem' } },
        ],
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
  ] as const)(
    'answers with Retry-After while Step Functions %s, never 502, and starts nothing until it recovers',
    async (_, fault, statusCode, requestId) => {
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
    },
  );

  it.each([
    ['throttles', 'throttle', 429],
    ['fails with a 5xx', 'serverError', 503],
  ] as const)('GET answers with Retry-After while Step Functions %s, as POST does, never 502', async (_, fault, statusCode) => {
    cloud.cloud.admin.configureFaults({ [fault]: { DescribeExecution: 1 } });
    try {
      const response = await handlers.get(apiEvent({ httpMethod: 'GET', pathParameters: { requestId: 'http-happy' } }));
      expect(response.statusCode).toBe(statusCode);
      expect((response as { headers?: Record<string, string> }).headers?.['retry-after']).toBe('1');
      expect(JSON.parse(response.body).message).toContain('retry the same request');
    } finally {
      cloud.cloud.admin.configureFaults({ [fault]: {} });
    }
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=iso-8859-1', 'application/jsonp'])(
    'refuses a body declared as %s with 415 naming the Content-Type header, and starts nothing',
    async (contentType) => {
      const before = cloud.cloud.admin.metrics().StartExecution?.calls ?? 0;
      const response = await handlers.post(
        apiEvent({ headers: { Host: 'api.example.com', 'Content-Type': contentType }, body: body('http-happy') }),
      );
      expect(response.statusCode).toBe(415);
      expect(JSON.parse(response.body)).toEqual({
        message: expect.stringContaining('headers.Content-Type'),
        errors: [
          { field: 'headers.Content-Type', reason: `is ${JSON.stringify(contentType)}: send the request as application/json (UTF-8)` },
        ],
      });
      expect(cloud.cloud.admin.metrics().StartExecution?.calls ?? 0).toBe(before);
    },
  );

  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON;charset="UTF-8"',
    'application/vnd.example.provisioning+json',
  ])('reads a body declared as %s as JSON', async (contentType) => {
    const invalid = JSON.stringify({ coreDeviceThingName: 'core-a', devices: [{ thingName: 'a b' }] });
    const response = await handlers.post(apiEvent({ headers: { Host: 'api.example.com', 'content-type': contentType }, body: invalid }));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).errors.map((error: { field: string }) => error.field)).toContain('devices[0].thingName');
  });

  it('GET answers 404 for an unknown request and 400 for a malformed id', async () => {
    expect((await handlers.get(apiEvent({ httpMethod: 'GET', pathParameters: { requestId: 'nobody' } }))).statusCode).toBe(404);
    expect((await handlers.get(apiEvent({ httpMethod: 'GET', pathParameters: { requestId: 'bad id!' } }))).statusCode).toBe(400);
  });

  it('a duplicate EventBridge delivery, or the same detail with its defaults spelled out, reaches the same execution', async () => {
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
    const defaultsSpelledOut = {
      ...event.detail,
      templateName: 'thing-with-attributes',
      thingPrincipalType: 'EXCLUSIVE_THING',
      rollbackOnFailure: true,
    };
    expect((await handlers.onEvent({ ...event, id: 'defaults-spelled-out', detail: defaultsSpelledOut })).executionArn).toBe(
      first.executionArn,
    );
    const finished = await waitForExecution(cloud.sfn, first.executionArn as string);
    expect(JSON.parse(finished.output ?? '{}')).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('POST naming a device that a running request holds answers 409 with the devices and their holder, and starts nothing', async () => {
    const principal = await cloud.createCertificate();
    const devices = [{ thingName: 'held-device', principal }];
    // The holder keeps its lease while it is held in association.
    cloud.cloud.admin.configureFaults({ throttle: ASSOCIATION_HELD });
    const holder = await handlers.post(apiEvent({ body: JSON.stringify({ requestId: 'holder', coreDeviceThingName: 'core-a', devices }) }));
    try {
      expect(holder.statusCode).toBe(202);

      const refused = await handlers.post(
        apiEvent({ body: JSON.stringify({ requestId: 'latecomer', coreDeviceThingName: 'core-b', devices }) }),
      );
      expect(refused.statusCode).toBe(409);
      expect(JSON.parse(refused.body)).toEqual({
        message: 'device held-device belongs to running provisioning request holder; send this request again once it has finished',
        requestId: 'latecomer',
        heldDevices: [{ thingName: 'held-device', heldBy: { workflow: 'provision', requestId: 'holder' } }],
      });
      expect((await handlers.get(apiEvent({ httpMethod: 'GET', pathParameters: { requestId: 'latecomer' } }))).statusCode).toBe(404);
    } finally {
      cloud.cloud.admin.configureFaults({ throttle: {} });
    }
    await waitForExecution(cloud.sfn, JSON.parse(holder.body).executionArn);
  });

  it('an invalid EventBridge event is rejected with every reason and starts nothing', async () => {
    const outcome = await handlers.onEvent({ id: 'e2', detail: { devices: [] } } as unknown as EventBridgeEvent<string, unknown>);
    expect(outcome).toEqual({ kind: 'invalid', errors: [{ field: 'devices', reason: 'must list at least one device' }] });
  });
});

describe('trigger functions with nothing listening at their endpoint', () => {
  it('GET answers 502 naming the endpoint and AWS_ENDPOINT_URL, without Retry-After, rather than 503 to retry', async () => {
    // The local cloud of the tests above is closed by now; the handlers' clients still point at it.
    const { handler } = await import('../../../functions/get-provisioning-request.ts');
    const endpoint = process.env.AWS_ENDPOINT_URL;
    const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'test', awsRequestId: 'req' } as never;

    const response = (await handler(apiEvent({ httpMethod: 'GET', pathParameters: { requestId: 'http-happy' } }), context)) as {
      statusCode: number;
      body: string;
      headers?: Record<string, string>;
    };

    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(response.statusCode).toBe(502);
    expect(response.headers?.['retry-after']).toBeUndefined();
    expect(JSON.parse(response.body).message).toMatch(
      new RegExp(`^cannot reach ${endpoint} \\(ECONNREFUSED\\): set AWS_ENDPOINT_URL to the URL the local cloud prints`),
    );
  });
});
