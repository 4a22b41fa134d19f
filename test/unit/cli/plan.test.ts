import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Manifest, ValidManifest } from '../../../functions/domain/fleet-manifest.ts';
import { MAX_DEVICES_PER_REQUEST, MAX_REQUEST_BYTES, REQUEST_ID_PATTERN } from '../../../functions/domain/limits.ts';
import { certificateArn, fleetCsv, sensorName } from '../../support/fleet-fixtures.ts';

const RUN_ID = '0a1b2c3d';

// Loaded afresh for each test: Stryker credits a module's top-level code (the workflows' field lists, the
// schemas they validate with) to the tests that load it, so that `npm run mutation` runs a mutant of it here.
let parseManifest: typeof import('../../../functions/domain/fleet-manifest.ts').parseManifest;
let requestBody: typeof import('../../../functions/domain/fleet-manifest.ts').requestBody;
let validateManifest: typeof import('../../../functions/domain/fleet-manifest.ts').validateManifest;
let planRequests: typeof import('../../../cli/plan.ts').planRequests;
let DEPROVISIONING: typeof import('../../../functions/domain/fleet-workflow.ts').DEPROVISIONING;
let PROVISIONING: typeof import('../../../functions/domain/fleet-workflow.ts').PROVISIONING;
beforeEach(async () => {
  vi.resetModules();
  ({ parseManifest, requestBody, validateManifest } = await import('../../../functions/domain/fleet-manifest.ts'));
  ({ planRequests } = await import('../../../cli/plan.ts'));
  ({ DEPROVISIONING, PROVISIONING } = await import('../../../functions/domain/fleet-workflow.ts'));
});

function manifestOf(text: string, format: 'csv' | 'json'): Manifest {
  const result = parseManifest(text, format);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.manifest;
}

function validFleet(count: number, requestFields: Record<string, unknown> = {}): ValidManifest {
  const result = validateManifest(manifestOf(fleetCsv(count), 'csv'), requestFields, PROVISIONING);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.value;
}

describe('validateManifest', () => {
  it('reports every bad CSV row by line, with fields named as the CSV names them', () => {
    const manifest = manifestOf(
      [
        'thingName,principal,coreDeviceThingName,param.ThingName',
        `ok-1,${certificateArn(1)},core-a,`,
        'bad name,not-an-arn,,',
        `ok-2,${certificateArn(2)},core-a,x`,
      ].join('\n'),
      'csv',
    );

    const result = validateManifest(manifest, {}, PROVISIONING);

    expect(result).toEqual({
      ok: false,
      problems: [
        { where: 'line 3', field: 'thingName', reason: expect.stringContaining('must be 1-128 characters') },
        { where: 'line 3', field: 'principal', reason: expect.stringContaining('must be a certificate ARN') },
        { where: 'line 3', field: 'coreDeviceThingName', reason: 'is required when the request has no coreDeviceThingName' },
        { where: 'line 4', field: 'param.ThingName', reason: 'is set from thingName and must not be given' },
      ],
    });
  });

  it("reports every row's problems once, rows with the wrong number of cells among them", () => {
    const manifest = manifestOf(
      'thingName,principal,coreDeviceThingName\nbad name,x,demo-core\nshort-row,x\nok,x,demo-core,extra\n',
      'csv',
    );

    expect(validateManifest(manifest, {}, PROVISIONING)).toEqual({
      ok: false,
      problems: [
        { where: 'line 2', field: 'thingName', reason: expect.stringContaining('must be 1-128 characters') },
        { where: 'line 2', field: 'principal', reason: expect.stringContaining('must be a certificate ARN') },
        { where: 'line 3', reason: 'has 2 cells; the header has 3 columns' },
        { where: 'line 4', reason: 'has 4 cells; the header has 3 columns' },
      ],
    });
  });

  it('says that a JSON device must be an object', () => {
    const manifest = manifestOf(
      '{\n  "coreDeviceThingName": "core-a",\n  "devices": [\n    {"thingName": "a", "principal": "' +
        certificateArn(1) +
        '"},\n    "just a string"\n  ]\n}',
      'json',
    );

    expect(validateManifest(manifest, manifest.defaults, PROVISIONING)).toEqual({
      ok: false,
      problems: [{ where: 'devices[1] (line 5)', reason: 'must be an object' }],
    });
  });

  it('locates bad JSON devices by index and line', () => {
    const manifest = manifestOf(
      '{\n  "coreDeviceThingName": "core-a",\n  "devices": [\n    {"thingName": "a", "principal": "' +
        certificateArn(1) +
        '"},\n    {"thingName": "b", "colour": "red"}\n  ]\n}',
      'json',
    );

    const result = validateManifest(manifest, manifest.defaults, PROVISIONING);

    expect(result).toMatchObject({
      ok: false,
      problems: [
        { where: 'devices[1] (line 5)', field: 'colour', reason: 'is not a known field' },
        { where: 'devices[1] (line 5)', field: 'principal' },
      ],
    });
  });

  it('finds a duplicate thing name anywhere in the manifest, not only within one request', () => {
    const rows = fleetCsv(MAX_DEVICES_PER_REQUEST + 5).split('\n');
    rows.push(rows[1]!);

    const result = validateManifest(manifestOf(rows.join('\n'), 'csv'), {}, PROVISIONING);

    expect(result).toEqual({
      ok: false,
      problems: [
        { where: `line ${rows.length}`, field: 'thingName', reason: `duplicates line 2 ("${sensorName(0)}")` },
        { where: `line ${rows.length}`, field: 'principal', reason: expect.stringContaining('duplicates line 2') },
      ],
    });
  });

  it('finds a certificate given to two devices anywhere in the manifest when it is attached exclusively', () => {
    const rows = fleetCsv(MAX_DEVICES_PER_REQUEST + 5).split('\n');
    rows.push(`sensor-extra,${certificateArn(0)},core-a,site-x`);
    const manifest = manifestOf(rows.join('\n'), 'csv');

    expect(validateManifest(manifest, {}, PROVISIONING)).toEqual({
      ok: false,
      problems: [
        {
          where: `line ${rows.length}`,
          field: 'principal',
          reason: 'duplicates line 2: with thingPrincipalType EXCLUSIVE_THING a certificate is attached to one thing only',
        },
      ],
    });
    expect(validateManifest(manifest, { thingPrincipalType: 'NON_EXCLUSIVE_THING' }, PROVISIONING)).toMatchObject({ ok: true });
    expect(validateManifest(manifest, {}, DEPROVISIONING)).toMatchObject({ ok: true });
  });

  it('refuses a requestId in a JSON manifest (the CLI sets one per request), and still reports the bad devices', () => {
    const manifest = manifestOf(
      '{\n  "requestId": "r1",\n  "coreDeviceThingName": "core-a",\n  "devices": [\n    {"thingName": "a b"}\n  ]\n}',
      'json',
    );

    const result = validateManifest(manifest, manifest.defaults, PROVISIONING);

    expect(result).toMatchObject({
      ok: false,
      problems: [
        {
          where: 'manifest',
          field: 'requestId',
          reason: 'is set for each request the fleet is split into (by iot-provision or a fleet run) and must not be given',
        },
        { where: 'devices[0] (line 5)', field: 'thingName' },
        { where: 'devices[0] (line 5)', field: 'principal' },
      ],
    });
  });

  it('reports a problem of a request-level field once, not once per device', () => {
    const result = validateManifest(manifestOf(fleetCsv(3), 'csv'), { templateName: 'no-such-template' }, PROVISIONING);

    expect(result).toEqual({
      ok: false,
      problems: [
        {
          where: 'request options',
          field: 'templateName',
          reason: 'must be one of thing-with-attributes, thing-with-certificate-from-csr, not "no-such-template"',
        },
      ],
    });
  });

  it('rejects a manifest without devices', () => {
    expect(validateManifest(manifestOf('thingName\n', 'csv'), {}, PROVISIONING)).toEqual({
      ok: false,
      problems: [{ where: 'manifest', reason: 'lists no devices' }],
    });
  });

  it('keeps each device with its manifest position and the options with their defaults', () => {
    const valid = validFleet(2, { coreDeviceThingName: 'core-default' });

    expect(valid.options).toEqual({ coreDeviceThingName: 'core-default', thingPrincipalType: 'EXCLUSIVE_THING', rollbackOnFailure: true });
    expect(valid.devices.map(({ index, line, where }) => ({ index, line, where }))).toEqual([
      { index: 0, line: 2, where: 'line 2' },
      { index: 1, line: 3, where: 'line 3' },
    ]);
  });
});

describe('validateManifest for deprovisioning', () => {
  it('takes the manifest that provisioned the fleet, leaving out what only provisioning needs', () => {
    const manifest = manifestOf(
      JSON.stringify({
        coreDeviceThingName: 'core-a',
        templateName: 'thing-with-attributes',
        templateParameters: { Site: 'berlin' },
        devices: [
          { thingName: 'a', principal: certificateArn(1), parameters: { Model: 'm1' } },
          { thingName: 'b', coreDeviceThingName: 'core-b' },
        ],
      }),
      'json',
    );

    const result = validateManifest(manifest, { ...manifest.defaults, deleteThings: false }, DEPROVISIONING);

    expect(result).toMatchObject({
      ok: true,
      value: { options: { coreDeviceThingName: 'core-a', disassociate: true, detachPrincipals: true, deleteThings: false } },
    });
    expect(result.ok && result.value.devices.map(({ device }) => device)).toEqual([
      { thingName: 'a' },
      { thingName: 'b', coreDeviceThingName: 'core-b' },
    ]);
    expect(result.ok && planRequests(result.value, RUN_ID).chunks[0]!.requestId).toMatch(/^d[0-9a-f]{12}-0$/);
  });

  it('still refuses a field it does not know, so that a misspelt option is never ignored', () => {
    const manifest = manifestOf(
      JSON.stringify({ coreDeviceThingName: 'core-a', deleteThing: false, devices: [{ thingName: 'a', coreDevice: 'core-b' }] }),
      'json',
    );

    expect(validateManifest(manifest, manifest.defaults, DEPROVISIONING)).toMatchObject({
      ok: false,
      problems: [
        { where: 'request options', field: 'deleteThing', reason: 'is not a known field' },
        { field: 'coreDevice', reason: 'is not a known field' },
      ],
    });
  });

  it('keeps principals attached only when the things are kept, whether the command line or the manifest says so', () => {
    const manifest = manifestOf('thingName\nsensor-1\n', 'csv');
    const options = { coreDeviceThingName: 'core-a', detachPrincipals: false };

    expect(validateManifest(manifest, options, DEPROVISIONING)).toMatchObject({
      ok: false,
      problems: [{ where: 'request options', field: 'detachPrincipals', reason: expect.stringContaining('when deleteThings is true') }],
    });
    expect(validateManifest(manifest, { ...options, deleteThings: false }, DEPROVISIONING)).toMatchObject({ ok: true });
  });

  it('needs a core device for each device only to disassociate it', () => {
    const manifest = manifestOf('thingName\nsensor-1\n', 'csv');

    expect(validateManifest(manifest, {}, DEPROVISIONING)).toMatchObject({
      ok: false,
      problems: [{ where: 'line 2', field: 'coreDeviceThingName', reason: expect.stringContaining('to disassociate') }],
    });
    expect(validateManifest(manifest, { disassociate: false, deleteThings: false }, DEPROVISIONING)).toMatchObject({ ok: true });
  });

  it('leaves devices associated only when the things are kept, naming the option that says otherwise', () => {
    const manifest = manifestOf('thingName\nsensor-1\n', 'csv');

    expect(validateManifest(manifest, { disassociate: false }, DEPROVISIONING)).toMatchObject({
      ok: false,
      problems: [{ where: 'request options', field: 'disassociate', reason: expect.stringContaining('when deleteThings is true') }],
    });
  });
});

describe('planRequests', () => {
  it(`puts ${MAX_DEVICES_PER_REQUEST} devices in one request and one more in a second`, () => {
    expect(planRequests(validFleet(MAX_DEVICES_PER_REQUEST), RUN_ID).chunks.map((chunk) => chunk.devices.length)).toEqual([
      MAX_DEVICES_PER_REQUEST,
    ]);
    expect(planRequests(validFleet(MAX_DEVICES_PER_REQUEST + 1), RUN_ID).chunks.map((chunk) => chunk.devices.length)).toEqual([
      MAX_DEVICES_PER_REQUEST,
      1,
    ]);
  });

  it(`starts a new request before the body would pass ${MAX_REQUEST_BYTES} bytes`, () => {
    const bulky = { ...validFleet(MAX_DEVICES_PER_REQUEST) };
    bulky.devices = bulky.devices.map((planned) => ({
      ...planned,
      device: { ...planned.device, parameters: { Site: 'x'.repeat(2_000) } },
    }));

    const { chunks, options } = planRequests(bulky, RUN_ID);

    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      const body = requestBody(
        'x'.repeat(80),
        options,
        chunk.devices.map(({ device }) => device),
      );
      expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    }
  });

  it('keeps every device once, in manifest order, within both limits, whatever the sizes', () => {
    const base = validFleet(1);
    const template = base.devices[0]!;
    fc.assert(
      fc.property(fc.array(fc.nat(400), { maxLength: 60 }), fc.integer({ min: 1, max: 8 }), (siteLengths, maxDevices) => {
        const devices = siteLengths.map((length, index) => ({
          ...template,
          index,
          device: { ...template.device, thingName: `d${index}`, parameters: { Site: 's'.repeat(length) } },
        }));
        const maxBytes = 1_200;
        const limits = { maxDevices, maxBytes };
        const plan = planRequests({ ...base, devices }, RUN_ID, limits);

        expect(plan.chunks.flatMap((chunk) => chunk.devices.map((planned) => planned.index))).toEqual(
          devices.map((planned) => planned.index),
        );
        for (const chunk of plan.chunks) {
          expect(chunk.devices.length).toBeLessThanOrEqual(maxDevices);
          const bytes = Buffer.byteLength(
            JSON.stringify(
              requestBody(
                'x'.repeat(80),
                base.options,
                chunk.devices.map(({ device }) => device),
              ),
            ),
          );
          // A device too large for any request still travels alone (validation rejects it before planning).
          expect(bytes <= maxBytes || chunk.devices.length === 1).toBe(true);
        }
      }),
    );
  });

  it('derives request ids from the content: the same manifest gives the same ids, a changed option new ones', () => {
    const fleet = validFleet(MAX_DEVICES_PER_REQUEST + 1);

    const ids = planRequests(fleet, RUN_ID).chunks.map((chunk) => chunk.requestId);
    const changed = planRequests({ ...fleet, options: { ...fleet.options, rollbackOnFailure: false } }, RUN_ID).chunks.map(
      (chunk) => chunk.requestId,
    );

    expect(ids).toEqual(planRequests(validFleet(MAX_DEVICES_PER_REQUEST + 1), RUN_ID).chunks.map((chunk) => chunk.requestId));
    expect(ids[0]).toMatch(/^m[0-9a-f]{12}-0$/);
    expect(ids[1]).toBe(ids[0]!.replace(/-0$/, '-1'));
    expect(ids.every((id) => REQUEST_ID_PATTERN.test(`${id}-r99`))).toBe(true);
    expect(planRequests(fleet, 'another-run').chunks[0]!.requestId).not.toBe(ids[0]);
    expect(changed[0]).not.toBe(ids[0]);
  });
});
