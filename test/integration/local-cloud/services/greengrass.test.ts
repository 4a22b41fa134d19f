import {
  BatchAssociateClientDeviceWithCoreDeviceCommand,
  BatchDisassociateClientDeviceFromCoreDeviceCommand,
  GetCoreDeviceCommand,
  ListClientDevicesAssociatedWithCoreDeviceCommand,
  ListCoreDevicesCommand,
  paginateListClientDevicesAssociatedWithCoreDevice,
} from '@aws-sdk/client-greengrassv2';
import { DescribeThingCommand, RegisterThingCommand } from '@aws-sdk/client-iot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectAwsError, startCloud, type TestCloud, thingTemplate } from '../helpers.ts';

let t: TestCloud;
beforeEach(async () => {
  t = await startCloud({ coreDevices: [{ coreDeviceThingName: 'core-a', platform: 'linux', architecture: 'aarch64' }] });
});
afterEach(async () => {
  await t.close();
});

async function createThings(...names: string[]) {
  for (const name of names) {
    await t.iot.send(new RegisterThingCommand({ templateBody: thingTemplate(), parameters: { ThingName: name } }));
  }
}

const associate = (thingNames: string[], coreDeviceThingName = 'core-a') =>
  t.greengrass.send(
    new BatchAssociateClientDeviceWithCoreDeviceCommand({ coreDeviceThingName, entries: thingNames.map((thingName) => ({ thingName })) }),
  );

describe('core devices', () => {
  it('gets a seeded core device, which is also an IoT thing', async () => {
    const core = await t.greengrass.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'core-a' }));
    expect(core).toMatchObject({ coreDeviceThingName: 'core-a', status: 'HEALTHY', platform: 'linux', architecture: 'aarch64' });
    expect(core.lastStatusUpdateTimestamp).toBeInstanceOf(Date);
    await expect(t.iot.send(new DescribeThingCommand({ thingName: 'core-a' }))).resolves.toMatchObject({ thingName: 'core-a' });
  });

  it('answers ResourceNotFoundException with resourceId and resourceType for an unknown core', async () => {
    const error = await expectAwsError(
      t.greengrass.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'ghost' })),
      'ResourceNotFoundException',
      404,
    );
    expect(error).toMatchObject({ resourceId: 'ghost', resourceType: 'CoreDevice' });
    await expectAwsError(associate(['x'], 'ghost'), 'ResourceNotFoundException', 404);
  });

  it('registers core devices through the admin route and lists them page by page', async () => {
    for (const name of ['core-b', 'core-c']) {
      const response = await fetch(`${t.cloud.url}/_local/greengrass/core-devices`, {
        method: 'POST',
        body: JSON.stringify({ coreDeviceThingName: name, status: name === 'core-c' ? 'UNHEALTHY' : 'HEALTHY' }),
      });
      expect(response.status).toBe(200);
    }
    const first = await t.greengrass.send(new ListCoreDevicesCommand({ maxResults: 2 }));
    expect(first.coreDevices?.map((core) => core.coreDeviceThingName)).toEqual(['core-a', 'core-b']);
    const second = await t.greengrass.send(new ListCoreDevicesCommand({ maxResults: 2, nextToken: first.nextToken }));
    expect(second.coreDevices?.map((core) => core.coreDeviceThingName)).toEqual(['core-c']);
    expect(second.nextToken).toBeUndefined();
    const unhealthy = await t.greengrass.send(new ListCoreDevicesCommand({ status: 'UNHEALTHY' }));
    expect(unhealthy.coreDevices?.map((core) => core.coreDeviceThingName)).toEqual(['core-c']);

    const invalid = await fetch(`${t.cloud.url}/_local/greengrass/core-devices`, { method: 'POST', body: '{}' });
    expect(invalid.status).toBe(400);
  });

  it('refuses core device names that IoT refuses as thing names, from the admin route and the configuration', async () => {
    for (const coreDeviceThingName of ['core 1', 'site/core', 'cœur']) {
      const response = await fetch(`${t.cloud.url}/_local/greengrass/core-devices`, {
        method: 'POST',
        body: JSON.stringify({ coreDeviceThingName }),
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { message: string }).message).toBe(
        `1 validation error detected: Value '${coreDeviceThingName}' at 'coreDeviceThingName' failed to satisfy constraint: ` +
          'Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+',
      );
    }
    expect(t.cloud.admin.state().things.map((thing) => thing.thingName)).toEqual(['core-a']);
    await expect(startCloud({ coreDevices: [{ coreDeviceThingName: 'core 1' }] })).rejects.toThrow(/'core 1' at 'coreDeviceThingName'/);
  });
});

describe('client device associations', () => {
  it('associates, reports unknown things per entry with HTTP 200, and re-associates as a no-op', async () => {
    await createThings('dev-1', 'dev-2');
    expect((await associate(['dev-1'])).errorEntries).toEqual([]);
    const listed = await t.greengrass.send(new ListClientDevicesAssociatedWithCoreDeviceCommand({ coreDeviceThingName: 'core-a' }));
    const firstTimestamp = listed.associatedClientDevices?.[0]?.associationTimestamp;
    expect(firstTimestamp).toBeInstanceOf(Date);

    const result = await associate(['dev-1', 'dev-2', 'ghost']);
    expect(result.$metadata.httpStatusCode).toBe(200);
    expect(result.errorEntries).toEqual([
      { thingName: 'ghost', code: 'ResourceNotFoundException', message: 'Thing ghost does not exist.' },
    ]);
    const again = await t.greengrass.send(new ListClientDevicesAssociatedWithCoreDeviceCommand({ coreDeviceThingName: 'core-a' }));
    expect(again.associatedClientDevices?.map((device) => device.thingName)).toEqual(['dev-1', 'dev-2']);
    expect(again.associatedClientDevices?.[0]?.associationTimestamp).toEqual(firstTimestamp);
  });

  it('disassociates, and disassociating a device that is not associated succeeds', async () => {
    await createThings('dev-1');
    await associate(['dev-1']);
    const result = await t.greengrass.send(
      new BatchDisassociateClientDeviceFromCoreDeviceCommand({
        coreDeviceThingName: 'core-a',
        entries: [{ thingName: 'dev-1' }, { thingName: 'never' }],
      }),
    );
    expect(result.errorEntries).toEqual([]);
    const listed = await t.greengrass.send(new ListClientDevicesAssociatedWithCoreDeviceCommand({ coreDeviceThingName: 'core-a' }));
    expect(listed.associatedClientDevices).toBeUndefined();
  });

  it('accepts 1 to 100 entries and refuses 0 and 101 with FIELD_VALIDATION_FAILED', async () => {
    const names = Array.from({ length: 101 }, (_, i) => `dev-${String(i).padStart(3, '0')}`);
    await createThings(...names.slice(0, 100));
    expect((await associate(names.slice(0, 100))).errorEntries).toEqual([]);
    const tooMany = await expectAwsError(associate(names), 'ValidationException', 400);
    expect(tooMany).toMatchObject({ reason: 'FIELD_VALIDATION_FAILED', fields: [{ name: 'entries' }] });
    await expectAwsError(associate([]), 'ValidationException', 400);
    const badName = await expectAwsError(associate(['', 'y'.repeat(129)]), 'ValidationException', 400);
    expect((badName['fields'] as unknown[]).length).toBe(2);
  });

  it('pages associated client devices with maxResults between 1 and 100', async () => {
    const names = Array.from({ length: 7 }, (_, i) => `client-${i}`);
    await createThings(...names);
    await associate(names);
    const seen: string[] = [];
    for await (const page of paginateListClientDevicesAssociatedWithCoreDevice(
      { client: t.greengrass, pageSize: 3 },
      { coreDeviceThingName: 'core-a' },
    )) {
      expect(page.associatedClientDevices?.length).toBeLessThanOrEqual(3);
      seen.push(...(page.associatedClientDevices ?? []).map((device) => device.thingName as string));
    }
    expect(seen).toEqual(names);
    for (const maxResults of [0, 101]) {
      await expectAwsError(
        t.greengrass.send(new ListClientDevicesAssociatedWithCoreDeviceCommand({ coreDeviceThingName: 'core-a', maxResults })),
        'ValidationException',
        400,
      );
    }
  });
});
