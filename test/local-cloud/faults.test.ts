import { BatchAssociateClientDeviceWithCoreDeviceCommand, GetCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import { DescribeThingCommand, ListThingsCommand, RegisterThingCommand } from '@aws-sdk/client-iot';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLocalCloud } from '../../local-cloud/server.ts';
import type { EmulatedService } from '../../local-cloud/wire/service.ts';
import { expectAwsError, startCloud, thingTemplate, type TestCloud } from './helpers.ts';

let t: TestCloud | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await t?.close();
  t = undefined;
});

const registerThing = (cloud: TestCloud, thingName: string) =>
  cloud.iot.send(new RegisterThingCommand({ templateBody: thingTemplate(), parameters: { ThingName: thingName } }));

describe('quotas', () => {
  it('throttles IoT with a 400 ThrottlingException once the token bucket is empty', async () => {
    t = await startCloud({ faults: { quotas: true, rateLimits: { ListThings: 2 } } });
    await t.iot.send(new ListThingsCommand({}));
    await t.iot.send(new ListThingsCommand({}));
    await expectAwsError(t.iot.send(new ListThingsCommand({})), 'ThrottlingException', 400);
    expect(t.cloud.admin.metrics()['ListThings']).toEqual({ calls: 3, succeeded: 2, throttled: 1, failed: 0 });
  });

  it('throttles Greengrass with 429, Retry-After, quotaCode and serviceCode', async () => {
    t = await startCloud({ faults: { quotas: true, rateLimits: { GetCoreDevice: { rate: 0.5, burst: 1 } } }, coreDevices: [{ coreDeviceThingName: 'core' }] });
    await t.greengrass.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'core' }));
    const error = await expectAwsError(t.greengrass.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'core' })), 'ThrottlingException', 429);
    expect(error).toMatchObject({ quotaCode: 'GetCoreDevice', serviceCode: 'greengrass', retryAfterSeconds: 2 });
  });

  it('scales every quota with quotaScale', async () => {
    t = await startCloud({ faults: { quotas: true, quotaScale: 2, rateLimits: { ListThings: 1 } } });
    await t.iot.send(new ListThingsCommand({}));
    await t.iot.send(new ListThingsCommand({}));
    await expectAwsError(t.iot.send(new ListThingsCommand({})), 'ThrottlingException', 400);
  });

  it('enforces the AWS defaults when nothing is configured', async () => {
    const cloud = await createLocalCloud();
    try {
      expect(cloud.admin.faults()).toMatchObject({ quotas: true, quotaScale: 1 });
      expect(cloud.admin.faults().rateLimits['RegisterThing']).toEqual({ rate: 10, burst: 10 });
      expect(cloud.admin.faults().rateLimits['DescribeThing']).toEqual({ rate: 350, burst: 350 });
    } finally {
      await cloud.close();
    }
  });
});

describe('probabilistic faults', () => {
  async function outcomes(seed: number): Promise<string[]> {
    const cloud = await startCloud({ faults: { seed, throttle: { DescribeThing: 0.5 } } });
    const results: string[] = [];
    for (let i = 0; i < 20; i++) {
      results.push(await cloud.iot.send(new DescribeThingCommand({ thingName: 'x' })).then(() => 'ok', (error: Error) => error.name));
    }
    await cloud.close();
    return results;
  }

  it('are reproducible from the seed', async () => {
    const first = await outcomes(7);
    expect(first).toContain('ThrottlingException');
    expect(first).toContain('ResourceNotFoundException');
    expect(await outcomes(7)).toEqual(first);
  });

  it('inject server errors per operation and leave other operations alone', async () => {
    t = await startCloud({ faults: { serverError: { ListThings: 1 } } });
    const error = await t.iot.send(new ListThingsCommand({})).catch((caught: { name: string; $metadata: { httpStatusCode: number } }) => caught);
    expect(['InternalFailureException', 'ServiceUnavailableException']).toContain((error as { name: string }).name);
    await expectAwsError(t.iot.send(new DescribeThingCommand({ thingName: 'x' })), 'ResourceNotFoundException', 404);
  });

  it('fail after commit: the caller sees a 500 but the thing exists', async () => {
    t = await startCloud({ faults: { failAfterCommit: { RegisterThing: 1 } } });
    await expectAwsError(registerThing(t, 'committed'), 'InternalFailureException', 500);
    t.cloud.admin.configureFaults({ failAfterCommit: {} });
    await expect(t.iot.send(new DescribeThingCommand({ thingName: 'committed' }))).resolves.toMatchObject({ thingName: 'committed' });
  });

  it('fail after commit leaves alone an operation that answered with its own error, as it committed nothing', async () => {
    const notFound: EmulatedService = {
      signingName: 'lookup',
      resolve: () => ({ name: 'Lookup', run: async () => ({ status: 404, body: '{"message":"not here"}' }) }),
      encodeError: () => ({ status: 500 }),
    };
    t = await startCloud({ faults: { failAfterCommit: 1 }, services: () => [notFound] });
    const response = await fetch(t.cloud.url, {
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/lookup/aws4_request, SignedHeaders=host, Signature=00' },
    });
    expect({ status: response.status, body: await response.json() }).toEqual({ status: 404, body: { message: 'not here' } });
    expect(t.cloud.admin.metrics()).toEqual({ Lookup: { calls: 1, succeeded: 0, throttled: 0, failed: 1 } });
  });

  it('inject retryable and permanent error entries into batch associations', async () => {
    t = await startCloud({ coreDevices: [{ coreDeviceThingName: 'core' }], faults: { entryRetryable: 1 } });
    await registerThing(t, 'dev');
    const send = () =>
      t!.greengrass.send(new BatchAssociateClientDeviceWithCoreDeviceCommand({ coreDeviceThingName: 'core', entries: [{ thingName: 'dev' }] }));
    const retryable = await send();
    expect(['ThrottlingException', 'InternalServerException']).toContain(retryable.errorEntries?.[0]?.code);
    t.cloud.admin.configureFaults({ entryRetryable: 0, entryPermanent: 1 });
    expect((await send()).errorEntries?.[0]?.code).toBe('InvalidRequestException');
    expect(t.cloud.admin.state().associations).toEqual({});
  });

  it('are configured at run time through the admin route', async () => {
    t = await startCloud();
    const response = await fetch(`${t.cloud.url}/_local/faults`, { method: 'POST', body: JSON.stringify({ throttle: 1 }) });
    expect(await response.json()).toMatchObject({ throttle: { '*': 1 } });
    await expectAwsError(t.iot.send(new ListThingsCommand({})), 'ThrottlingException', 400);
    const bad = await fetch(`${t.cloud.url}/_local/faults`, { method: 'POST', body: JSON.stringify({ throttle: { '*': 2 } }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain('throttle.*');
  });
});

describe('admin routes and lifecycle', () => {
  it('serves health, state, metrics and reset', async () => {
    t = await startCloud({ coreDevices: [{ coreDeviceThingName: 'core' }] });
    await registerThing(t, 'dev');
    expect(await (await fetch(`${t.cloud.url}/_local/health`)).json()).toEqual({ status: 'ok', services: ['iot', 'greengrass'] });
    const state = (await (await fetch(`${t.cloud.url}/_local/state`)).json()) as { things: Array<{ thingName: string }> };
    expect(state.things.map((thing) => thing.thingName)).toEqual(['core', 'dev']);
    expect(((await (await fetch(`${t.cloud.url}/_local/metrics`)).json()) as Record<string, unknown>)['RegisterThing']).toMatchObject({ calls: 1 });

    await fetch(`${t.cloud.url}/_local/metrics/reset`, { method: 'POST' });
    expect(t.cloud.admin.metrics()).toEqual({});
    await fetch(`${t.cloud.url}/_local/reset`, { method: 'POST' });
    expect(t.cloud.admin.state().things.map((thing) => thing.thingName)).toEqual(['core']);
    expect((await fetch(`${t.cloud.url}/_local/nope`)).status).toBe(404);
  });

  it('names the port and LOCAL_CLOUD_PORT when the port is taken', async () => {
    t = await startCloud();
    await expect(createLocalCloud({ port: t.cloud.port })).rejects.toThrow(new RegExp(`Port ${t.cloud.port} .*LOCAL_CLOUD_PORT`));
  });

  it('keeps state across restarts with a state file, creating its directory', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'local-cloud-')), 'not-yet', 'state.json');
    t = await startCloud({ stateFile });
    await registerThing(t, 'survivor');
    await t.close();
    t = await startCloud({ stateFile });
    await expect(t.iot.send(new DescribeThingCommand({ thingName: 'survivor' }))).resolves.toMatchObject({ thingName: 'survivor' });
  });

  it('reports a failed state-file write and still saves the changes after it', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'local-cloud-'));
    const stateFile = join(directory, 'state.json');
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    t = await startCloud({ stateFile });
    rmSync(directory, { recursive: true });
    await registerThing(t, 'first');
    await vi.waitFor(() => expect(errors).toHaveBeenCalledWith(expect.stringContaining(`cannot write the state file ${stateFile}`)));

    mkdirSync(directory);
    await registerThing(t, 'second');
    await t.close();
    t = undefined;
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { things: Array<{ thingName: string }> };
    expect(saved.things.map((thing) => thing.thingName)).toEqual(['first', 'second']);
  });
});
