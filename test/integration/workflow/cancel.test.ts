import { ListClientDevicesAssociatedWithCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import { ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { completionDetailSchema } from '../../../functions/domain/completion-event-schema.ts';
import type { Workflow } from '../../../functions/domain/device-leases.ts';
import type { DeviceOutcome, RequestSummary } from '../../../functions/domain/records.ts';
import { eventsOf, failedAttempts, useServiceCloud } from '../../support/service-cloud.ts';
import { untilHistory } from '../../support/step-functions.ts';
import { lambdaContext } from '../../support/task-fixtures.ts';

type Handler = (event: APIGatewayProxyEvent) => Promise<{ statusCode: number; body: string }>;

const CORES = ['core-1', 'core-2', 'core-3', 'core-4', 'core-5', 'core-6', 'core-7', 'core-8'];
const COLLECTIONS: Record<Workflow, string> = { provision: 'provisioning-requests', deprovision: 'deprovisioning-requests' };

/**
 * `POST /<collection>/{requestId}/cancel` through the real handlers and state machines: devices under way when
 * the cancel lands finish (or roll back) as usual, devices not yet started are NOT_STARTED and untouched, and
 * every device ends with exactly one outcome. The quotas (in scaled real time) keep a request running long
 * enough for the cancel to land mid-run; the test waits for a condition in the execution's history, never for a
 * length of time.
 */
describe('cancelling a request', () => {
  const cloud = useServiceCloud({ timeScale: 0.2, coreDevices: CORES, faults: { quotas: false } });
  const cancel: Partial<Record<Workflow, Handler>> = {};
  let getProvisioning: Handler | undefined;
  beforeAll(async () => {
    for (const [workflow, module] of [
      ['provision', await import('../../../functions/cancel-provisioning-request.ts')],
      ['deprovision', await import('../../../functions/cancel-deprovisioning-request.ts')],
    ] as const) {
      cancel[workflow] = (event) => module.handler(event, lambdaContext(30_000)) as never;
    }
    const get = await import('../../../functions/get-provisioning-request.ts');
    getProvisioning = (event) => get.handler(event, lambdaContext(30_000)) as never;
  });

  const post = async (workflow: Workflow, requestId: string) => {
    const path = `/${COLLECTIONS[workflow]}/${requestId}/cancel`;
    const response = await cancel[workflow]!({
      httpMethod: 'POST',
      path,
      pathParameters: { requestId },
      headers: { Host: 'api.example.com' },
    } as unknown as APIGatewayProxyEvent);
    return { statusCode: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
  };

  async function fleet(count: number, prefix: string, cores = CORES) {
    return Promise.all(
      Array.from({ length: count }, async (_, index) => ({
        thingName: `${prefix}-${String(index).padStart(3, '0')}`,
        principal: await cloud.createCertificate(),
        coreDeviceThingName: cores[index % cores.length]!,
      })),
    );
  }

  const associated = async (core: string) =>
    (
      (await cloud.greengrass.send(new ListClientDevicesAssociatedWithCoreDeviceCommand({ coreDeviceThingName: core, maxResults: 100 })))
        .associatedClientDevices ?? []
    ).map((device) => device.thingName);
  const principalsOf = async (thingName: string) => (await cloud.iot.send(new ListThingPrincipalsCommand({ thingName }))).principals ?? [];
  const thingExists = (thingName: string) => cloud.clientThings().some((thing) => thing.thingName === thingName);

  function started(outcome: Awaited<ReturnType<typeof cloud.submit>>): string {
    if (outcome.kind !== 'started') throw new Error(`expected the request to start: ${JSON.stringify(outcome)}`);
    return outcome.executionArn;
  }

  /** Exactly one outcome per requested device, and counts that add up with notStarted. */
  function expectOneOutcomeEach(summary: RequestSummary, requested: readonly string[]): Map<string, DeviceOutcome> {
    const outcomes = new Map(summary.devices.map((device) => [device.thingName, device]));
    expect(summary.devices).toHaveLength(requested.length);
    expect([...outcomes.keys()].sort()).toEqual([...requested].sort());
    const count = (status: DeviceOutcome['status']) => summary.devices.filter((device) => device.status === status).length;
    expect(summary.counts).toMatchObject({ requested: requested.length, failed: count('FAILED'), notStarted: count('NOT_STARTED') });
    expect(summary.counts.succeeded + summary.counts.failed + (summary.counts.notStarted ?? 0)).toBe(requested.length);
    return outcomes;
  }

  it('a provisioning request cancelled mid-run: the devices not started are untouched, the provisioned ones stay provisioned and associated, GET and the completion event say CANCELLED, and the leases are released', async () => {
    // Two lanes (the local stage's pacing) and RegisterThing at 5 a second: 40 devices take seconds.
    const devices = await fleet(40, 'cancel-p');
    cloud.cloud.admin.configureFaults({ quotas: true, rateLimits: { RegisterThing: { rate: 5, burst: 1 } } });
    const executionArn = started(await cloud.submit('provision', { requestId: 'cancel-provisioning', devices }));
    await untilHistory(cloud.sfn, executionArn, (events) => events.filter((event) => event.type === 'MapIterationSucceeded').length >= 3);

    const answer = await post('provision', 'cancel-provisioning');
    expect(answer).toEqual({
      statusCode: 202,
      body: {
        requestId: 'cancel-provisioning',
        executionArn,
        statusUrl: 'https://api.example.com/provisioning-requests/cancel-provisioning',
      },
    });
    const run = await cloud.completion(executionArn, { timeoutMs: 60_000 });

    const outcomes = expectOneOutcomeEach(
      run.summary,
      devices.map(({ thingName }) => thingName),
    );
    expect(run.summary.status).toBe('CANCELLED');
    expect(run.summary.counts.succeeded).toBeGreaterThanOrEqual(3);
    expect(run.summary.counts.notStarted).toBeGreaterThan(0);
    for (const device of devices) {
      const outcome = outcomes.get(device.thingName)!;
      if (outcome.status === 'NOT_STARTED') {
        expect(outcome, device.thingName).toEqual({
          thingName: device.thingName,
          status: 'NOT_STARTED',
          coreDeviceThingName: device.coreDeviceThingName,
        });
        expect(thingExists(device.thingName), device.thingName).toBe(false);
        expect(await associated(device.coreDeviceThingName), device.thingName).not.toContain(device.thingName);
      } else {
        expect(outcome.status, device.thingName).toBe('PROVISIONED');
        expect(await principalsOf(device.thingName), device.thingName).toEqual([device.principal]);
        expect(await associated(device.coreDeviceThingName), device.thingName).toContain(device.thingName);
      }
    }
    // A NOT_STARTED device was never rolled back: nothing had been done to it.
    expect(eventsOf(run.history, 'TaskStateEntered', 'RollBackDevice')).toEqual([]);
    // The devices are free again; only the cancel marker is left, for TTL to remove.
    expect(await cloud.leaseTableKeys()).toEqual([expect.stringMatching(/^cancel#provision\/cancel-provisioning\//)]);

    const status = await getProvisioning!({
      httpMethod: 'GET',
      pathParameters: { requestId: 'cancel-provisioning' },
      headers: {},
    } as unknown as APIGatewayProxyEvent);
    expect(JSON.parse(status.body)).toMatchObject({
      executionStatus: 'SUCCEEDED',
      outcome: 'CANCELLED',
      summary: { counts: run.summary.counts },
    });

    const { events } = (await (await fetch(`${cloud.url}/_local/eventbridge/events`)).json()) as {
      events: { event: { detail: unknown } }[];
    };
    const completion = events
      .map(({ event }) => completionDetailSchema.safeParse(event.detail))
      .find((parsed) => parsed.success && parsed.data.requestId === 'cancel-provisioning');
    expect(completion?.data).toMatchObject({ status: 'CANCELLED', counts: run.summary.counts });

    // The same devices sent again under a new requestId converge: every one provisioned.
    cloud.cloud.admin.configureFaults({ quotas: false });
    const rerun = await cloud.provision({ requestId: 'cancel-provisioning-rerun', devices });
    expect(rerun.summary.counts).toEqual({ requested: 40, succeeded: 40, failed: 0, rolledBack: 0 });
  }, 120_000);

  it('cancel answers 202 again while the request runs, 409 naming the execution status once it has ended, 404 for an unknown request and 400 for an invalid id', async () => {
    const devices = await fleet(12, 'cancel-twice');
    // RegisterThing throttled until the test lifts it: once a device under way is retrying it, the request cannot end
    // before the state machine has retried that call for seconds (at this scale), and the devices behind it wait.
    cloud.cloud.admin.configureFaults({ throttle: { RegisterThing: 1 } });
    const executionArn = started(await cloud.submit('provision', { requestId: 'cancel-twice', devices }));
    await untilHistory(cloud.sfn, executionArn, (events) => failedAttempts(events).includes('ThrottlingException'));

    const first = await post('provision', 'cancel-twice');
    const second = await post('provision', 'cancel-twice');
    expect(first.statusCode).toBe(202);
    expect(second).toEqual(first);
    expect(await cloud.leaseTableKeys()).toEqual(expect.arrayContaining([expect.stringMatching(/^cancel#provision\/cancel-twice\//)]));

    cloud.cloud.admin.configureFaults({ throttle: {} });
    const run = await cloud.completion(executionArn, { timeoutMs: 60_000 });
    expectOneOutcomeEach(
      run.summary,
      devices.map(({ thingName }) => thingName),
    );
    expect(run.summary.status).toBe('CANCELLED');
    expect(await post('provision', 'cancel-twice')).toEqual({
      statusCode: 409,
      body: {
        message: expect.stringContaining('its execution is SUCCEEDED'),
        requestId: 'cancel-twice',
        executionArn,
        executionStatus: 'SUCCEEDED',
        statusUrl: 'https://api.example.com/provisioning-requests/cancel-twice',
      },
    });
    expect(await post('deprovision', 'no-such-request')).toMatchObject({
      statusCode: 404,
      body: { message: 'no deprovisioning-request no-such-request' },
    });
    expect(await post('provision', 'not a valid id')).toMatchObject({ statusCode: 400, body: { errors: [{ field: 'path.requestId' }] } });
  }, 120_000);

  it('a cancel whose marker DynamoDB keeps throttling answers 503 with Retry-After (send it again), and the request, not cancelled, provisions every device', async () => {
    const devices = await fleet(6, 'cancel-throttled');
    cloud.cloud.admin.configureFaults({ quotas: true, rateLimits: { RegisterThing: { rate: 5, burst: 1 } }, throttle: { PutItem: 1 } });
    const executionArn = started(await cloud.submit('provision', { requestId: 'cancel-throttled', devices }));

    const response = await cancel.provision!({
      httpMethod: 'POST',
      path: '/provisioning-requests/cancel-throttled/cancel',
      pathParameters: { requestId: 'cancel-throttled' },
      headers: {},
    } as unknown as APIGatewayProxyEvent);
    // DynamoDB's throttling error is not one the API names as such (request-routes.ts retryLater): 503, not 429.
    expect(response).toMatchObject({ statusCode: 503, headers: { 'retry-after': '1' } });
    const run = await cloud.completion(executionArn, { timeoutMs: 60_000 });
    expect(run.summary).toMatchObject({ status: 'SUCCEEDED', counts: { requested: 6, succeeded: 6 } });
  }, 120_000);

  it('a deprovisioning cancelled between its disassociation batches: a disassociated device is removed, the devices of a batch not yet sent keep thing, certificate and association', async () => {
    // One batch per core device, four at a time, and BatchDisassociate at 1 a second: the batches take seconds.
    const devices = await fleet(40, 'cancel-d');
    const setup = await cloud.provision({ requestId: 'cancel-d-setup', devices });
    expect(setup.summary.counts.succeeded).toBe(40);
    cloud.cloud.admin.configureFaults({ quotas: true, rateLimits: { BatchDisassociateClientDeviceFromCoreDevice: { rate: 1, burst: 1 } } });

    const request = {
      requestId: 'cancel-deprovisioning',
      devices: devices.map(({ thingName, coreDeviceThingName }) => ({ thingName, coreDeviceThingName })),
    };
    const executionArn = started(await cloud.submit('deprovision', request));
    await untilHistory(cloud.sfn, executionArn, (events) => eventsOf(events, 'TaskStateExited', 'DisassociateBatch').length >= 1);
    expect((await post('deprovision', 'cancel-deprovisioning')).statusCode).toBe(202);
    const run = await cloud.completion(executionArn, { timeoutMs: 60_000 });

    const outcomes = expectOneOutcomeEach(
      run.summary,
      request.devices.map(({ thingName }) => thingName),
    );
    expect(run.summary.status).toBe('CANCELLED');
    expect(run.summary.counts.succeeded).toBeGreaterThan(0);
    expect(run.summary.counts.notStarted).toBeGreaterThan(0);
    for (const device of devices) {
      const outcome = outcomes.get(device.thingName)!;
      const stillAssociated = (await associated(device.coreDeviceThingName)).includes(device.thingName);
      if (outcome.status === 'NOT_STARTED') {
        expect(thingExists(device.thingName), device.thingName).toBe(true);
        expect(await principalsOf(device.thingName), device.thingName).toEqual([device.principal]);
        expect(stillAssociated, device.thingName).toBe(true);
      } else {
        // No device is left disassociated with its thing still there: disassociated means removed.
        expect(outcome.status, device.thingName).toBe('DEPROVISIONED');
        expect(thingExists(device.thingName), device.thingName).toBe(false);
        expect(stillAssociated, device.thingName).toBe(false);
      }
    }
    // A batch (here: a core device's devices) was cancelled before its first call, or went through: never split.
    for (const core of CORES) {
      const statuses = new Set(
        devices.filter((device) => device.coreDeviceThingName === core).map((device) => outcomes.get(device.thingName)!.status),
      );
      expect([...statuses], core).toHaveLength(1);
    }
    expect(await cloud.leaseTableKeys()).toEqual([expect.stringMatching(/^cancel#deprovision\/cancel-deprovisioning\//)]);
  }, 120_000);
});
