import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchAssociateClientDeviceWithCoreDeviceCommand, GetCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import { DescribeThingCommand, ListThingsCommand, RegisterThingCommand } from '@aws-sdk/client-iot';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../local-cloud/config.ts';
import { EMULATED_OPERATIONS, parseFaultSettingsPatch } from '../../../local-cloud/faults.ts';
import { createLocalCloud } from '../../../local-cloud/server.ts';
import { ExecutionStore } from '../../../local-cloud/services/stepfunctions/execution-store.ts';
import { stepFunctionsOperations } from '../../../local-cloud/services/stepfunctions/operations.ts';
import type { EmulatedService } from '../../../local-cloud/wire/service.ts';
import { expectAwsError, startCloud, type TestCloud, thingTemplate } from './helpers.ts';

let t: TestCloud | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await t?.close();
  t = undefined;
});

const registerThing = (cloud: TestCloud, thingName: string) =>
  cloud.iot.send(new RegisterThingCommand({ templateBody: thingTemplate(), parameters: { ThingName: thingName } }));

describe('quotas', () => {
  /** The local cloud's clock, which only the test moves: a bucket refills between calls only when it says so, however slow the machine. */
  let now = Date.now();
  const clock = { now: () => now };

  it('throttles IoT with a 400 ThrottlingException once the token bucket is empty', async () => {
    t = await startCloud({ clock, faults: { quotas: true, rateLimits: { ListThings: 2 } } });
    await t.iot.send(new ListThingsCommand({}));
    await t.iot.send(new ListThingsCommand({}));
    await expectAwsError(t.iot.send(new ListThingsCommand({})), 'ThrottlingException', 400);
    expect(t.cloud.admin.metrics()['ListThings']).toEqual({ calls: 3, succeeded: 2, throttled: 1, failed: 0 });
    now += 500;
    await t.iot.send(new ListThingsCommand({}));
  });

  it('throttles Greengrass with 429, Retry-After, quotaCode and serviceCode', async () => {
    t = await startCloud({
      clock,
      faults: { quotas: true, rateLimits: { GetCoreDevice: { rate: 0.5, burst: 1 } } },
      coreDevices: [{ coreDeviceThingName: 'core' }],
    });
    await t.greengrass.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'core' }));
    const error = await expectAwsError(
      t.greengrass.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'core' })),
      'ThrottlingException',
      429,
    );
    expect(error).toMatchObject({ quotaCode: 'GetCoreDevice', serviceCode: 'greengrass', retryAfterSeconds: 2 });
  });

  it('scales every quota with quotaScale', async () => {
    t = await startCloud({ clock, faults: { quotas: true, quotaScale: 2, rateLimits: { ListThings: 1 } } });
    await t.iot.send(new ListThingsCommand({}));
    await t.iot.send(new ListThingsCommand({}));
    await expectAwsError(t.iot.send(new ListThingsCommand({})), 'ThrottlingException', 400);
    // Twice the rate too: a token is back after half a second.
    now += 500;
    await t.iot.send(new ListThingsCommand({}));
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
      results.push(
        await cloud.iot.send(new DescribeThingCommand({ thingName: 'x' })).then(
          () => 'ok',
          (error: Error) => error.name,
        ),
      );
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
    const error = await t.iot
      .send(new ListThingsCommand({}))
      .catch((caught: { name: string; $metadata: { httpStatusCode: number } }) => caught);
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
      headers: {
        authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/lookup/aws4_request, SignedHeaders=host, Signature=00',
      },
    });
    expect({ status: response.status, body: await response.json() }).toEqual({ status: 404, body: { message: 'not here' } });
    expect(t.cloud.admin.metrics()).toEqual({ Lookup: { calls: 1, succeeded: 0, throttled: 0, failed: 1 } });
  });

  it('inject retryable and permanent error entries into batch associations', async () => {
    t = await startCloud({ coreDevices: [{ coreDeviceThingName: 'core' }], faults: { entryRetryable: 1 } });
    await registerThing(t, 'dev');
    const send = () =>
      t!.greengrass.send(
        new BatchAssociateClientDeviceWithCoreDeviceCommand({ coreDeviceThingName: 'core', entries: [{ thingName: 'dev' }] }),
      );
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

describe('fault settings validation', () => {
  const TABLES = ['throttle', 'serverError', 'failAfterCommit', 'entryRetryable', 'entryPermanent', 'rateLimits'];

  /** What the admin route answers a patch with, and the settings it leaves. */
  async function postFaults(cloud: TestCloud, patch: unknown): Promise<{ status: number; message?: string; settingsChanged: boolean }> {
    const before = JSON.stringify(cloud.cloud.admin.faults());
    const response = await fetch(`${cloud.cloud.url}/_local/faults`, { method: 'POST', body: JSON.stringify(patch) });
    const { message } = (await response.json()) as { message?: string };
    return { status: response.status, message, settingsChanged: JSON.stringify(cloud.cloud.admin.faults()) !== before };
  }

  it('answers 400 naming an unknown top-level field, and changes nothing', async () => {
    t = await startCloud();
    const answer = await postFaults(t, { bogus: 1, throttle: 1 });
    expect(answer).toMatchObject({ status: 400, settingsChanged: false });
    expect(answer.message).toMatch(/^bogus is not a fault setting \(known: seed, quotas, .*detachPropagationMs\)$/);
  });

  it('answers 400 naming an operation the local cloud does not emulate, in every per-operation table, with the valid names', async () => {
    t = await startCloud();
    for (const table of TABLES) {
      const answer = await postFaults(t, { [table]: { RegistrThing: 0.5 } });
      expect(answer, table).toMatchObject({ status: 400, settingsChanged: false });
      expect(answer.message, table).toMatch(
        new RegExp(`^${table}\\.RegistrThing is not an operation the local cloud emulates \\(valid: .*RegisterThing, `),
      );
    }
  });

  it('takes * in the probability tables but not in rateLimits, which has no fallback', async () => {
    t = await startCloud();
    for (const table of TABLES.filter((name) => name !== 'rateLimits')) {
      expect(await postFaults(t, { [table]: { '*': 0.5 } }), table).toMatchObject({ status: 200 });
    }
    const answer = await postFaults(t, { rateLimits: { '*': 5 } });
    expect(answer).toMatchObject({ status: 400, settingsChanged: false });
    expect(answer.message).toMatch(/^rateLimits\.\* is not an operation the local cloud emulates \(valid: RegisterThing, /);
  });

  it('takes every operation of the mounted services, Step Functions included', async () => {
    const store = new ExecutionStore();
    const state = { accountId: '000000000000', createdAt: 0, machines: new Map(), store, running: new Map(), runningMapRuns: new Map() };
    expect(EMULATED_OPERATIONS).toEqual(expect.arrayContaining(Object.keys(stepFunctionsOperations(state))));
    store.close();
    t = await startCloud();
    const table = Object.fromEntries(EMULATED_OPERATIONS.map((operation) => [operation, 0]));
    expect(await postFaults(t, { throttle: table, rateLimits: { DescribeExecution: 5 } })).toMatchObject({
      status: 200,
      settingsChanged: true,
    });
    expect(t.cloud.admin.faults().rateLimits['DescribeExecution']).toEqual({ rate: 5, burst: 5 });
  });

  it('answers 400, not 500, naming a rate limit that is null or has a bad field', async () => {
    t = await startCloud();
    const errors = vi.spyOn(console, 'error');
    expect(await postFaults(t, { rateLimits: { RegisterThing: null } })).toEqual({
      status: 400,
      message: 'rateLimits.RegisterThing must be a positive number, or an object { rate, burst? } of them',
      settingsChanged: false,
    });
    expect((await postFaults(t, { rateLimits: { RegisterThing: { rate: 2, burts: 4 } } })).message).toBe(
      'rateLimits.RegisterThing.burts is not a field of a rate limit (rate, burst)',
    );
    expect((await postFaults(t, { rateLimits: { RegisterThing: { rate: 0 } } })).message).toBe(
      'rateLimits.RegisterThing.rate must be a positive number',
    );
    expect(errors).not.toHaveBeenCalled();
  });

  it('names every bad field at once, each as "<field path> <reason>"', () => {
    expect(() => parseFaultSettingsPatch({ seed: -1, quotas: 'yes', throttle: { '*': 2 }, serverError: 'often' })).toThrow(
      'seed must be a number from 0 to 9007199254740991; quotas must be true or false; throttle.* must be a number from 0 to 1; ' +
        'serverError must be a number from 0 to 1, or an object of them by operation name',
    );
    expect(
      parseFaultSettingsPatch({ throttle: 0.3, rateLimits: { RegisterThing: 2, StartExecution: { rate: 300, burst: 1300 } } }),
    ).toEqual({
      throttle: 0.3,
      rateLimits: { RegisterThing: 2, StartExecution: { rate: 300, burst: 1300 } },
    });
  });

  it('stops the start on a fault table variable naming an unknown operation, with the variable named', () => {
    expect(() => loadConfig({ LOCAL_CLOUD_THROTTLE: '{"RegistrThing":0.5}' }, [])).toThrow(
      /^LOCAL_CLOUD_THROTTLE: throttle\.RegistrThing is not an operation the local cloud emulates \(valid: \*, RegisterThing, /,
    );
    expect(() => loadConfig({ LOCAL_CLOUD_ENTRY_PERMANENT: '2' }, [])).toThrow(
      'LOCAL_CLOUD_ENTRY_PERMANENT: entryPermanent must be a number from 0 to 1',
    );
    expect(loadConfig({ LOCAL_CLOUD_SERVER_ERROR: '0.1', LOCAL_CLOUD_FAIL_AFTER_COMMIT: '{"StartExecution":0.2}' }, []).faults).toEqual({
      serverError: 0.1,
      failAfterCommit: { StartExecution: 0.2 },
    });
  });

  it('says both forms a fault table variable takes when it is neither', () => {
    const bothForms =
      'must be a number from 0 to 1 (every operation) or a JSON object of them by operation name, such as {"RegisterThing":0.3}';
    expect(() => loadConfig({ LOCAL_CLOUD_THROTTLE: 'abc' }, [])).toThrow(`LOCAL_CLOUD_THROTTLE ${bothForms}, got "abc"`);
    expect(() => loadConfig({ LOCAL_CLOUD_THROTTLE: '{"RegisterThing":' }, [])).toThrow(
      /^LOCAL_CLOUD_THROTTLE is not valid JSON \(.+\); it must be a number from 0 to 1 \(every operation\) or a JSON object/,
    );
  });

  it('stops the start on bad faults in the config file, with the file named', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'local-cloud-')), 'config.json');
    writeFileSync(file, JSON.stringify({ faults: { bogus: 1 } }));
    expect(() => loadConfig({ LOCAL_CLOUD_CONFIG: file }, [])).toThrow(`faults in ${file}: bogus is not a fault setting`);
  });
});

describe('admin routes and lifecycle', () => {
  it('serves health, state, metrics and reset', async () => {
    t = await startCloud({ coreDevices: [{ coreDeviceThingName: 'core' }] });
    await registerThing(t, 'dev');
    expect(await (await fetch(`${t.cloud.url}/_local/health`)).json()).toEqual({
      status: 'ok',
      services: ['iot', 'greengrass', 'dynamodb', 'events', 's3'],
    });
    const state = (await (await fetch(`${t.cloud.url}/_local/state`)).json()) as { things: Array<{ thingName: string }> };
    expect(state.things.map((thing) => thing.thingName)).toEqual(['core', 'dev']);
    expect(((await (await fetch(`${t.cloud.url}/_local/metrics`)).json()) as Record<string, unknown>)['RegisterThing']).toMatchObject({
      calls: 1,
    });

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

  it('keeps state across restarts with a state database, creating its directory', async () => {
    const stateDatabase = join(mkdtempSync(join(tmpdir(), 'local-cloud-')), 'not-yet', 'state.sqlite');
    t = await startCloud({ stateDatabase });
    await registerThing(t, 'survivor');
    await t.close();
    t = await startCloud({ stateDatabase });
    await expect(t.iot.send(new DescribeThingCommand({ thingName: 'survivor' }))).resolves.toMatchObject({ thingName: 'survivor' });
  });
});
