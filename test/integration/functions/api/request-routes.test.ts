import type { APIGatewayProxyEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { holdRegisterThing } from '../../../support/held-runs.ts';
import { useServiceCloud } from '../../../support/service-cloud.ts';
import { untilHistory } from '../../../support/step-functions.ts';
import { lambdaContext } from '../../../support/task-fixtures.ts';

type Answer = { statusCode: number; body: Record<string, any> };
type Handler = (event: APIGatewayProxyEvent, context: never) => Promise<unknown>;

/**
 * The request routes (api/request-routes.ts) called as API Gateway calls them, against the local cloud: reading,
 * listing and cancelling requests of both kinds. Submitting is test/integration/functions/triggers.test.ts.
 * In a fifth of real time, so that a quota holds a request running until the test lifts it.
 */
describe('request routes', () => {
  const cloud = useServiceCloud({ timeScale: 0.2, coreDevices: ['core-1'] });
  const handlers: Record<string, Handler> = {};
  beforeAll(async () => {
    for (const name of [
      'get-provisioning-request',
      'get-deprovisioning-request',
      'cancel-provisioning-request',
      'cancel-deprovisioning-request',
      'list-provisioning-requests',
    ]) {
      handlers[name] = (await import(`../../../../functions/${name}.ts`)).handler as Handler;
    }
  });
  const call = async (name: string, event: Partial<APIGatewayProxyEvent>): Promise<Answer> => {
    const answer = (await handlers[name]!(
      { headers: { Host: 'api.test' }, pathParameters: null, queryStringParameters: null, ...event } as APIGatewayProxyEvent,
      lambdaContext(30_000),
    )) as {
      statusCode: number;
      body: string;
    };
    return { statusCode: answer.statusCode, body: JSON.parse(answer.body) };
  };
  const device = async (thingName: string) => ({ thingName, principal: await cloud.createCertificate() });

  it('GET and cancel name the kind of request they did not find, and refuse a path without a requestId', async () => {
    const invalid = {
      statusCode: 400,
      body: expect.objectContaining({
        errors: [{ field: 'path.requestId', reason: 'must be 1-80 characters of a-z, A-Z, 0-9, underscore or hyphen' }],
      }),
    };
    expect(
      await call('get-provisioning-request', { path: '/provisioning-requests/nobody', pathParameters: { requestId: 'nobody' } }),
    ).toEqual({
      statusCode: 404,
      body: { message: 'no provisioning-request with requestId nobody' },
    });
    expect(
      await call('get-deprovisioning-request', { path: '/deprovisioning-requests/nobody', pathParameters: { requestId: 'nobody' } }),
    ).toEqual({
      statusCode: 404,
      body: { message: 'no deprovisioning-request with requestId nobody' },
    });
    expect(
      await call('cancel-deprovisioning-request', {
        path: '/deprovisioning-requests/nobody/cancel',
        pathParameters: { requestId: 'nobody' },
      }),
    ).toEqual({
      statusCode: 404,
      body: { message: 'no deprovisioning-request nobody' },
    });
    expect(await call('get-provisioning-request', { path: '/provisioning-requests/' })).toEqual(invalid);
    expect(await call('cancel-provisioning-request', { path: '/provisioning-requests//cancel' })).toEqual(invalid);
  });

  it('cancel and the list answer 429 to retry while Step Functions throttles', async () => {
    const throttled = { statusCode: 429, body: { message: expect.stringContaining('retry the same request') } };
    cloud.cloud.admin.configureFaults({ throttle: { DescribeExecution: 1, ListExecutions: 1 } });
    try {
      expect(
        await call('cancel-deprovisioning-request', { path: '/deprovisioning-requests/r-1/cancel', pathParameters: { requestId: 'r-1' } }),
      ).toEqual(throttled);
      expect(await call('list-provisioning-requests', { path: '/provisioning-requests' })).toEqual(throttled);
    } finally {
      cloud.cloud.admin.configureFaults({ throttle: {} });
    }
  });

  it('a cancel of a running request answers 202 with where to follow it; the list shows it running, without a stop date, beside an ended one with its stop date', async () => {
    await cloud.provision({ requestId: 'ended', coreDeviceThingName: 'core-1', devices: [await device('ended-1')] });
    const devices = [];
    for (let index = 0; index < 4; index++) devices.push(await device(`running-${index}`));
    // One RegisterThing call goes through, the others are refused until the hold is lifted. The request runs two devices
    // at a time (pacing): one finishes, two are held, and the last waits for a lane, so the cancel finds it not started.
    const release = holdRegisterThing(cloud);
    const { executionArn } = (await cloud.submit('provision', { requestId: 'running', coreDeviceThingName: 'core-1', devices })) as {
      executionArn: string;
    };
    await untilHistory(cloud.sfn, executionArn, (events) => events.some((event) => event.type === 'MapIterationSucceeded'));

    const listed = await call('list-provisioning-requests', { path: '/provisioning-requests' });
    expect(listed.body.requests).toEqual([
      {
        requestId: 'running',
        executionArn,
        executionStatus: 'RUNNING',
        startDate: expect.stringMatching(/Z$/),
        statusUrl: 'https://api.test/provisioning-requests/running',
      },
      expect.objectContaining({ requestId: 'ended', executionStatus: 'SUCCEEDED', stopDate: expect.stringMatching(/Z$/) }),
    ]);
    expect(
      await call('cancel-provisioning-request', {
        path: '/provisioning-requests/running/cancel',
        pathParameters: { requestId: 'running' },
      }),
    ).toEqual({
      statusCode: 202,
      body: { requestId: 'running', executionArn, statusUrl: 'https://api.test/provisioning-requests/running' },
    });
    release();
    const { summary } = await cloud.completion(executionArn);
    expect(summary).toMatchObject({ status: 'CANCELLED', counts: { requested: 4, succeeded: 3, notStarted: 1 } });
  });
});
