import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../local-cloud/config.ts';
import { createLocalCloud, type LocalCloud } from '../../../local-cloud/server.ts';
import { openStateStore } from '../../../local-cloud/store.ts';
import { validate } from '../../../local-cloud/wire/validation.ts';
import { overOneConnection } from '../../support/raw-http.ts';

/** A signature-free Authorization header: the emulator routes on the credential scope only. */
const authorization = (service: string, region = 'eu-central-1') =>
  `AWS4-HMAC-SHA256 Credential=AKID/20261123/${region}/${service}/aws4_request, SignedHeaders=host, Signature=00`;

let cloud: LocalCloud;
beforeAll(async () => {
  cloud = await createLocalCloud({ faults: { quotas: false }, coreDevices: [{ coreDeviceThingName: 'core' }] });
});
afterAll(async () => {
  await cloud.close();
});

describe('wire format (raw HTTP, no SDK)', () => {
  it('encodes an IoT error as restJson1: status, x-amzn-ErrorType, x-amzn-RequestId, message body', async () => {
    const response = await fetch(`${cloud.url}/things/missing`, { headers: { authorization: authorization('iot') } });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await response.json()).toEqual({ message: 'Thing missing cannot be found.' });
  });

  it('answers a successful call with JSON, the request region in ARNs and epoch-second timestamps', async () => {
    const body = JSON.stringify({
      templateBody: JSON.stringify({ Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'raw' } } } }),
    });
    const created = await fetch(`${cloud.url}/things`, { method: 'POST', body, headers: { authorization: authorization('iot') } });
    expect(created.status).toBe(200);
    expect(await created.json()).toEqual({ resourceArns: { thing: 'arn:aws:iot:eu-central-1:000000000000:thing/raw' } });
    await fetch(`${cloud.url}/greengrass/v2/coreDevices/core/associateClientDevices`, {
      method: 'POST',
      body: JSON.stringify({ entries: [{ thingName: 'raw' }] }),
      headers: { authorization: authorization('greengrass') },
    });
    const listed = await fetch(`${cloud.url}/greengrass/v2/coreDevices/core/associatedClientDevices`, {
      headers: { authorization: authorization('greengrass') },
    });
    const { associatedClientDevices } = (await listed.json()) as { associatedClientDevices: Array<{ associationTimestamp: unknown }> };
    expect(typeof associatedClientDevices[0]?.associationTimestamp).toBe('number');
  });

  it('refuses a request without Authorization with 403 MissingAuthenticationTokenException', async () => {
    const response = await fetch(`${cloud.url}/things`);
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
  });

  it('answers unknown operations in each service’s own shape', async () => {
    const iot = await fetch(`${cloud.url}/no-such-thing/here`, { headers: { authorization: authorization('iot') } });
    expect(iot.status).toBe(404);
    expect(iot.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    const greengrass = await fetch(`${cloud.url}/greengrass/v2/components`, { headers: { authorization: authorization('greengrass') } });
    expect(greengrass.status).toBe(400);
    expect(await greengrass.json()).toMatchObject({ reason: 'UNKNOWN_OPERATION' });
    const unknownService = await fetch(`${cloud.url}/`, { headers: { authorization: authorization('sqs') } });
    expect(unknownService.status).toBe(400);
  });

  it('answers malformed JSON with the service parse error', async () => {
    const greengrass = await fetch(`${cloud.url}/greengrass/v2/coreDevices/core/associateClientDevices`, {
      method: 'POST',
      body: '{"entries": [',
      headers: { authorization: authorization('greengrass') },
    });
    expect(greengrass.status).toBe(400);
    expect(greengrass.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect(await greengrass.json()).toMatchObject({ reason: 'CANNOT_PARSE' });
    const iot = await fetch(`${cloud.url}/things`, { method: 'POST', body: '[', headers: { authorization: authorization('iot') } });
    expect(iot.status).toBe(400);
    expect(iot.headers.get('x-amzn-errortype')).toBe('InvalidRequestException');
  });

  it('sends a Greengrass throttle as 429 with a Retry-After header', async () => {
    cloud.admin.configureFaults({ throttle: { GetCoreDevice: 1 } });
    try {
      const response = await fetch(`${cloud.url}/greengrass/v2/coreDevices/core`, {
        headers: { authorization: authorization('greengrass') },
      });
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.headers.get('x-amzn-errortype')).toBe('ThrottlingException');
      expect(await response.json()).toMatchObject({ quotaCode: 'GetCoreDevice', serviceCode: 'greengrass' });
    } finally {
      cloud.admin.configureFaults({ throttle: {} });
    }
  });

  it('serves IoT to clients that sign it as execute-api, as older AWS CLIs do', async () => {
    const response = await fetch(`${cloud.url}/things/missing`, { headers: { authorization: authorization('execute-api') } });
    expect(response.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
  });

  it('answers an oversize body with 413 and keeps the connection usable', async () => {
    await overOneConnection(async (send) => {
      const oversize = await send(`${cloud.url}/things`, { method: 'POST', body: Buffer.alloc(17 * 1024 * 1024, ' ') });
      expect(oversize).toMatchObject({ status: 413, body: expect.stringContaining('Request body too large') });
      expect(await send(`${cloud.url}/_local/health`)).toMatchObject({ status: 200, reusedSocket: true });
    });
  });

  it('decodes percent-encoded path labels', async () => {
    const response = await fetch(`${cloud.url}/things/a%3Ab`, { headers: { authorization: authorization('iot') } });
    expect(await response.json()).toEqual({ message: 'Thing a:b cannot be found.' });
  });
});

describe('validation', () => {
  it('returns every violation with its member path', () => {
    const violations = validate(
      { name: '', items: [{ id: 'ok' }, { id: 'not ok!' }], count: 0 },
      {
        type: 'structure',
        required: ['name', 'missing'],
        members: {
          name: { type: 'string', min: 1 },
          items: { type: 'list', max: 1, member: { type: 'structure', members: { id: { type: 'string', pattern: '[a-z]+' } } } },
          count: { type: 'integer', min: 1 },
        },
      },
    );
    expect(violations.map((violation) => violation.path)).toEqual(['missing', 'name', 'items', 'items.2.member.id', 'count']);
  });

  it('counts code points, not UTF-16 units', () => {
    expect(validate('😀😀', { type: 'string', max: 2 })).toEqual([]);
  });

  it('words messages as AWS does: the model pattern as written, null for a missing member, no value for a sensitive one', () => {
    const messages = validate(
      { arn: 'arn:aws:iot:eu-west-1:000000000000:thing/x', secret: 'é'.repeat(3) },
      {
        type: 'structure',
        required: ['missing'],
        members: {
          arn: { type: 'string', pattern: 'arn:[^:]*:iot:[^:]*:[0-9]+:thinggroup/.+' },
          secret: { type: 'string', maxBytes: 4, sensitive: true },
        },
      },
    ).map((violation) => violation.message);
    expect(messages).toEqual([
      "Value null at 'missing' failed to satisfy constraint: Member must not be null",
      "Value 'arn:aws:iot:eu-west-1:000000000000:thing/x' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:[^:]*:iot:[^:]*:[0-9]+:thinggroup/.+",
      "Value at 'secret' failed to satisfy constraint: Member must have size less than or equal to 4 bytes in UTF-8 encoding",
    ]);
  });
});

describe('state store collections', () => {
  it('page in key order and resume after a deleted key; a scope has keys of its own', () => {
    const store = openStateStore();
    try {
      const things = store.state.associations.in('core-a');
      for (const thingName of ['d', 'b', 'a', 'c', 'e']) things.set(thingName, { thingName, associatedAt: thingName.charCodeAt(0) });
      store.state.associations.in('core-b').set('a', { thingName: 'a', associatedAt: 0 });
      const first = things.page(undefined, 2);
      expect(first).toEqual({
        items: [
          { thingName: 'a', associatedAt: 97 },
          { thingName: 'b', associatedAt: 98 },
        ],
        lastKey: 'b',
      });
      things.delete('b');
      expect(things.page(first.lastKey, 10).items.map((association) => association.thingName)).toEqual(['c', 'd', 'e']);
      expect([things.count(), store.state.associations.in('core-b').count(), store.state.associations.in('core-c').isEmpty()]).toEqual([
        4,
        1,
        true,
      ]);
    } finally {
      store.close();
    }
  });

  it('iterate past a chunk of rows and see the rows written while they iterate', () => {
    const store = openStateStore();
    try {
      const { policies } = store.state;
      const names = Array.from({ length: 600 }, (_, index) => `p${String(index).padStart(4, '0')}`);
      for (const policyName of names) policies.set(policyName, { policyName, policyDocument: '{}', createdAt: 0 });
      const seen: string[] = [];
      for (const policy of policies.values()) {
        seen.push(policy.policyName);
        if (policy.policyName === 'p0300') policies.set('p9999', { policyName: 'p9999', policyDocument: '{}', createdAt: 0 });
      }
      expect(seen).toEqual([...names, 'p9999']);
    } finally {
      store.close();
    }
  });
});

describe('config', () => {
  it('reads LOCAL_CLOUD_* variables and lets flags win', () => {
    const config = loadConfig(
      {
        LOCAL_CLOUD_PORT: '5000',
        LOCAL_CLOUD_QUOTA_SCALE: '10',
        LOCAL_CLOUD_THROTTLE: '{"RegisterThing":0.3}',
        LOCAL_CLOUD_CORE_DEVICES: 'core-1,core-2',
      },
      ['--port', '6000', '--no-quotas'],
    );
    expect(config).toMatchObject({
      port: 6000,
      faults: { quotaScale: 10, quotas: false, throttle: { RegisterThing: 0.3 } },
      coreDevices: [{ coreDeviceThingName: 'demo-core' }, { coreDeviceThingName: 'core-1' }, { coreDeviceThingName: 'core-2' }],
    });
  });

  it('takes the data dir from LOCAL_CLOUD_DATA_DIR, --data-dir (which wins) or a config file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'local-cloud-config-')), 'config.json');
    writeFileSync(file, JSON.stringify({ dataDir: '/tmp/from-file' }));
    expect(loadConfig({}, []).dataDir).toBeUndefined();
    expect(loadConfig({ LOCAL_CLOUD_CONFIG: file }, []).dataDir).toBe('/tmp/from-file');
    expect(loadConfig({ LOCAL_CLOUD_CONFIG: file, LOCAL_CLOUD_DATA_DIR: '/tmp/from-env' }, []).dataDir).toBe('/tmp/from-env');
    expect(loadConfig({ LOCAL_CLOUD_DATA_DIR: '/tmp/from-env' }, ['--data-dir', '/tmp/from-flag']).dataDir).toBe('/tmp/from-flag');
  });

  it('refuses the state file of before, in any of its forms, naming the data dir that replaced it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'local-cloud-config-')), 'config.json');
    writeFileSync(file, JSON.stringify({ stateFile: '/tmp/x.json' }));
    const replaced = /--state-file .* is replaced by --data-dir/;
    expect(() => loadConfig({}, ['--state-file', '/tmp/x.json'])).toThrow(replaced);
    expect(() => loadConfig({ LOCAL_CLOUD_STATE_FILE: '/tmp/x.json' }, [])).toThrow(replaced);
    expect(() => loadConfig({ LOCAL_CLOUD_CONFIG: file }, [])).toThrow(replaced);
  });

  it('names LOCAL_CLOUD_PORT when the port is not a number', () => {
    expect(() => loadConfig({ LOCAL_CLOUD_PORT: 'abc' }, [])).toThrow(/LOCAL_CLOUD_PORT/);
  });

  it('leaves the key algorithm to its default unless LOCAL_CLOUD_KEY_ALGORITHM or --key-algorithm sets it, and names a bad value', () => {
    expect(loadConfig({}, []).keyAlgorithm).toBeUndefined();
    expect(loadConfig({ LOCAL_CLOUD_KEY_ALGORITHM: 'ec-p256' }, []).keyAlgorithm).toBe('ec-p256');
    expect(loadConfig({ LOCAL_CLOUD_KEY_ALGORITHM: 'ec-p256' }, ['--key-algorithm', 'rsa-2048']).keyAlgorithm).toBe('rsa-2048');
    expect(() => loadConfig({ LOCAL_CLOUD_KEY_ALGORITHM: 'dsa' }, [])).toThrow(
      'LOCAL_CLOUD_KEY_ALGORITHM / --key-algorithm must be one of rsa-2048, ec-p256, got "dsa"',
    );
  });
});
