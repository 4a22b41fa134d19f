import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { $ZodType } from 'zod/v4/core';
import { MAX_DEVICES_PER_REQUEST, MAX_PARTITION_CHARS, MAX_REGION_CHARS, MAX_REQUEST_BYTES } from '../../../../functions/domain/limits.ts';

// The schemas are built afresh for each test: Stryker credits a module's top-level code (the schemas, their messages
// and bounds) to the tests that load it, so that `npm run mutation` runs a mutant of them against these tests.
let deprovisioningRequestSchema: typeof import('../../../../functions/domain/deprovisioning-request.ts').deprovisioningRequestSchema;
let provisioningRequestSchema: typeof import('../../../../functions/domain/provisioning-request.ts').provisioningRequestSchema;
let validate: typeof import('../../../../functions/domain/validation.ts').validate;
beforeEach(async () => {
  vi.resetModules();
  ({ deprovisioningRequestSchema } = await import('../../../../functions/domain/deprovisioning-request.ts'));
  ({ provisioningRequestSchema } = await import('../../../../functions/domain/provisioning-request.ts'));
  ({ validate } = await import('../../../../functions/domain/validation.ts'));
});

const certificateArn = `arn:aws:iot:us-east-1:123456789012:cert/${'ab'.repeat(32)}`;
const device = (thingName: string, principal = certificateArn) => ({ thingName, principal });

function errorsOf(input: unknown, schema: $ZodType = provisioningRequestSchema) {
  const result = validate(schema, input);
  if (result.ok) throw new Error('expected the request to be rejected');
  return result.errors;
}

describe('provisioning request contract', () => {
  it('accepts a minimal request and fills in the documented defaults', () => {
    const result = validate(provisioningRequestSchema, { coreDeviceThingName: 'core-1', devices: [device('sensor-1')] });
    expect(result).toEqual({
      ok: true,
      value: {
        coreDeviceThingName: 'core-1',
        thingPrincipalType: 'EXCLUSIVE_THING',
        rollbackOnFailure: true,
        devices: [device('sensor-1')],
      },
    });
  });

  it('reports every violation with its field, not only the first', () => {
    const errors = errorsOf({
      rollbackOnFailure: 'yes',
      extra: 1,
      devices: [{ thingName: 'bad name' }, { thingName: 'x', principal: 'not-an-arn' }, { thingName: 'x', principal: certificateArn }],
    });
    const fields = errors.map((error) => error.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'rollbackOnFailure',
        'extra',
        'devices[0].thingName',
        'devices[1].principal',
        'devices[2].thingName',
        'devices[0].coreDeviceThingName',
      ]),
    );
    expect(errors.find((error) => error.field === 'devices[2].thingName')?.reason).toContain('duplicates devices[1].thingName');
  });

  it.each([
    ['', false],
    ['a', true],
    ['a'.repeat(128), true],
    ['a'.repeat(129), false],
    ['with space', false],
    ['colon:under_score-hyphen', true],
    ['ünïcode', false],
    ['tab\tname', false],
  ])('thing name %j is valid: %s', (thingName, valid) => {
    const result = validate(provisioningRequestSchema, { coreDeviceThingName: 'core', devices: [device(thingName)] });
    expect(result.ok).toBe(valid);
  });

  it('bounds the number of devices and says how to split', () => {
    const many = Array.from({ length: MAX_DEVICES_PER_REQUEST + 1 }, (_, index) =>
      device(`d-${index}`, certificateArn.replace(/.{8}$/, index.toString(16).padStart(8, '0'))),
    );
    const errors = errorsOf({ coreDeviceThingName: 'core', devices: many });
    expect(errors).toEqual([{ field: 'devices', reason: expect.stringContaining('split the fleet') }]);
    expect(validate(provisioningRequestSchema, { coreDeviceThingName: 'core', devices: many.slice(1) }).ok).toBe(true);
    expect(errorsOf({ coreDeviceThingName: 'core', devices: [] })).toEqual([{ field: 'devices', reason: 'must list at least one device' }]);
  });

  it('refuses a certificate shared by two devices when it is attached exclusively, as AttachThingPrincipal would', () => {
    const request = {
      coreDeviceThingName: 'core',
      devices: [device('dup-1'), device('dup-2'), device('other', certificateArn.replace(/ab$/, 'cd')), device('dup-3')],
    };

    expect(errorsOf(request)).toEqual([
      {
        field: 'devices[1].principal',
        reason: 'duplicates devices[0].principal: with thingPrincipalType EXCLUSIVE_THING a certificate is attached to one thing only',
      },
      {
        field: 'devices[3].principal',
        reason: 'duplicates devices[0].principal: with thingPrincipalType EXCLUSIVE_THING a certificate is attached to one thing only',
      },
    ]);
    expect(validate(provisioningRequestSchema, { ...request, thingPrincipalType: 'NON_EXCLUSIVE_THING' }).ok).toBe(true);
  });

  it('says what a field must be where zod would only say "Invalid input"', () => {
    expect(
      errorsOf({
        coreDeviceThingName: 'core',
        templateName: 'nope',
        thingPrincipalType: 'SHARED',
        devices: [device('a'), 'just a string', null],
      }),
    ).toEqual([
      { field: 'templateName', reason: 'must be one of thing-with-attributes, thing-with-certificate-from-csr, not "nope"' },
      { field: 'thingPrincipalType', reason: 'must be EXCLUSIVE_THING or NON_EXCLUSIVE_THING' },
      { field: 'devices[1]', reason: 'must be an object' },
      { field: 'devices[2]', reason: 'must be an object' },
    ]);
    expect(
      errorsOf({
        coreDeviceThingName: 7,
        rollbackOnFailure: 'yes',
        templateParameters: { '': 'v', Site: 1 },
        devices: [{ principal: certificateArn, parameters: [] }],
      }),
    ).toEqual([
      { field: 'coreDeviceThingName', reason: 'must be a string' },
      { field: 'templateParameters.', reason: 'its name must not be empty' },
      { field: 'templateParameters.Site', reason: 'must be a string' },
      { field: 'rollbackOnFailure', reason: 'must be true or false' },
      { field: 'devices[0].thingName', reason: 'is required' },
      { field: 'devices[0].parameters', reason: 'must be an object' },
    ]);
    expect(errorsOf(['not', 'a', 'request'])).toEqual([{ field: '(body)', reason: 'must be an object' }]);
    expect(errorsOf({ disassociate: 'no', devices: 'a,b' }, deprovisioningRequestSchema)).toEqual([
      { field: 'disassociate', reason: 'must be true or false' },
      { field: 'devices', reason: 'must be an array' },
    ]);
  });

  it('requires a principal only when the template creates no certificate', () => {
    expect(errorsOf({ coreDeviceThingName: 'core', devices: [{ thingName: 'a' }] })).toEqual([
      { field: 'devices[0].principal', reason: 'is required because the template creates no certificate' },
    ]);
    const withCsrTemplate = validate(provisioningRequestSchema, {
      coreDeviceThingName: 'core',
      templateName: 'thing-with-certificate-from-csr',
      devices: [{ thingName: 'a', parameters: { CSR: 'pem' } }],
    });
    expect(withCsrTemplate.ok).toBe(true);
  });

  it("refuses a principal when the template issues the device's certificate, so rollback can never take one for the other", () => {
    const errors = errorsOf({
      coreDeviceThingName: 'core',
      templateName: 'thing-with-certificate-from-csr',
      devices: [
        { thingName: 'a', parameters: { CSR: 'pem' } },
        { thingName: 'b', principal: certificateArn, parameters: { CSR: 'pem' } },
      ],
    });
    expect(errors).toEqual([
      { field: 'devices[1].principal', reason: "must not be given: the template issues the device's certificate from its CSR" },
    ]);
  });

  it('requires the template parameters that have no default', () => {
    expect(
      errorsOf({ coreDeviceThingName: 'core', templateName: 'thing-with-certificate-from-csr', devices: [{ thingName: 'a' }] }),
    ).toEqual([{ field: 'devices[0].parameters.CSR', reason: expect.stringContaining('required by the template') }]);
  });

  it('checks an inline template before anything starts', () => {
    const notJson = errorsOf({ coreDeviceThingName: 'core', templateBody: '{', devices: [device('a')] });
    expect(notJson[0]).toMatchObject({ field: 'templateBody', reason: expect.stringContaining('not valid JSON') });
    const noThingName = errorsOf({
      coreDeviceThingName: 'core',
      templateBody: JSON.stringify({ Resources: { t: { Type: 'AWS::IoT::Thing' } } }),
      devices: [device('a')],
    });
    expect(noThingName[0]).toMatchObject({ field: 'templateBody', reason: expect.stringContaining('ThingName') });
    const tooLong = errorsOf({ coreDeviceThingName: 'core', templateBody: 'x'.repeat(10_241), devices: [device('a')] });
    expect(tooLong).toContainEqual({ field: 'templateBody', reason: 'must be at most 10240 characters' });
    const empty = errorsOf({ coreDeviceThingName: 'core', templateBody: '', devices: [device('a')] });
    expect(empty).toContainEqual({ field: 'templateBody', reason: 'must not be empty' });
    const both = errorsOf({
      coreDeviceThingName: 'core',
      templateName: 'thing-with-attributes',
      templateBody: '{}',
      devices: [device('a')],
    });
    expect(both).toContainEqual({ field: 'templateBody', reason: 'must not be given with templateName: give one or the other' });
  });

  it('bounds parameter keys and values as RegisterThing does', () => {
    const errors = errorsOf({
      coreDeviceThingName: 'core',
      templateParameters: { ['k'.repeat(2049)]: 'v', Site: 'v'.repeat(4097), ThingName: 'x' },
      devices: [device('a')],
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        { field: `templateParameters.${'k'.repeat(2049)}`, reason: 'its name must be at most 2048 characters' },
        { field: 'templateParameters.Site', reason: 'must be at most 4096 characters' },
        { field: 'templateParameters.ThingName', reason: "is set from each device's thingName and must not be given" },
      ]),
    );
    expect(errorsOf({ coreDeviceThingName: 'core', templateParameters: { '': 'v' }, devices: [device('a')] })).toContainEqual({
      field: 'templateParameters.',
      reason: 'its name must not be empty',
    });
    expect(errorsOf({ requestId: 'not an id', coreDeviceThingName: 'core', devices: [device('a')] })).toEqual([
      { field: 'requestId', reason: 'must be 1-80 characters of a-z, A-Z, 0-9, underscore or hyphen' },
    ]);
  });

  it('bounds the shared parameters as a whole, which the execution state keeps beside every device record', () => {
    const names = Array.from({ length: 9 }, (_, index) => `P${index}`);
    const templateBody = JSON.stringify({
      Parameters: { ThingName: { Type: 'String' }, ...Object.fromEntries(names.map((name) => [name, { Type: 'String', Default: '' }])) },
      Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' } } } },
    });
    const shared = (count: number) => Object.fromEntries(names.slice(0, count).map((name) => [name, 'v'.repeat(4000)]));
    expect(
      validate(provisioningRequestSchema, {
        coreDeviceThingName: 'core',
        templateBody,
        templateParameters: shared(8),
        devices: [device('a')],
      }).ok,
    ).toBe(true);

    expect(errorsOf({ coreDeviceThingName: 'core', templateBody, templateParameters: shared(9), devices: [device('a')] })).toEqual([
      { field: 'templateParameters', reason: expect.stringMatching(/^must take at most 32768 bytes as JSON .*devices\[\]\.parameters$/) },
    ]);
  });

  it('takes shared parameters of exactly 32768 bytes as JSON, and refuses one byte more', () => {
    const names = Array.from({ length: 9 }, (_, index) => `P${index}`);
    const templateBody = JSON.stringify({
      Parameters: { ThingName: { Type: 'String' }, ...Object.fromEntries(names.map((name) => [name, { Type: 'String', Default: '' }])) },
      Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' } } } },
    });
    const shared = (extra: number) => Object.fromEntries(names.map((name, index) => [name, 'v'.repeat(index < 8 ? 4_000 : extra)]));
    const fitting = shared(32_768 - Buffer.byteLength(JSON.stringify(shared(0))));
    const request = (templateParameters: Record<string, string>) => ({
      coreDeviceThingName: 'core',
      templateBody,
      templateParameters,
      devices: [device('a')],
    });

    expect(Buffer.byteLength(JSON.stringify(fitting))).toBe(32_768);
    expect(validate(provisioningRequestSchema, request(fitting)).ok).toBe(true);
    expect(errorsOf(request({ ...fitting, P8: `${fitting.P8}v` })).map((error) => error.field)).toEqual(['templateParameters']);
  });

  it('takes a request of exactly the bytes a request may have, and refuses one byte more', () => {
    // A template declaring 50 parameters, each up to 4,096 characters: one device can fill a request.
    const names = Array.from({ length: 50 }, (_, index) => `P${String(index).padStart(2, '0')}`);
    const templateBody = JSON.stringify({
      Parameters: { ThingName: { Type: 'String' }, ...Object.fromEntries(names.map((name) => [name, { Type: 'String', Default: 'x' }])) },
      Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' } } } },
    });
    const request = (extra: number) => ({
      coreDeviceThingName: 'core',
      templateBody,
      thingPrincipalType: 'EXCLUSIVE_THING',
      rollbackOnFailure: true,
      devices: [
        {
          ...device('a'),
          parameters: Object.fromEntries(
            names.map((name, index) => [name, 'v'.repeat(4_000 + Math.floor(extra / 50) + (index === 0 ? extra % 50 : 0))]),
          ),
        },
      ],
    });
    const fitting = MAX_REQUEST_BYTES - Buffer.byteLength(JSON.stringify(request(0)));

    expect(Buffer.byteLength(JSON.stringify(request(fitting)))).toBe(MAX_REQUEST_BYTES);
    expect(validate(provisioningRequestSchema, request(fitting)).ok).toBe(true);
    expect(errorsOf(request(fitting + 1))).toEqual([
      {
        field: '(body)',
        reason: `takes ${MAX_REQUEST_BYTES + 1} bytes as JSON, more than the ${MAX_REQUEST_BYTES} a request may have: split the devices over several requests`,
      },
    ]);
  });

  it("checks each device's name and certificate against the others only where it has them", () => {
    const nameless = errorsOf({
      coreDeviceThingName: 'core',
      devices: [{ principal: certificateArn }, { principal: certificateArn.replace('ab', 'cd') }],
    });
    expect(nameless).toEqual([
      { field: 'devices[0].thingName', reason: 'is required' },
      { field: 'devices[1].thingName', reason: 'is required' },
    ]);
    // The CSR template issues each device's certificate: no device gives one.
    const request = {
      coreDeviceThingName: 'core',
      templateName: 'thing-with-certificate-from-csr',
      devices: [
        { thingName: 'a', parameters: { CSR: 'csr-a' } },
        { thingName: 'b', parameters: { CSR: 'csr-b' } },
      ],
    };
    expect(validate(provisioningRequestSchema, request).ok).toBe(true);
  });

  it("takes a parameter the template requires from the shared parameters, and leaves ThingName's value to thingName", () => {
    const templateBody = JSON.stringify({
      Parameters: { ThingName: { Type: 'String' }, Serial: { Type: 'String' } },
      Resources: {
        thing: {
          Type: 'AWS::IoT::Thing',
          Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: { name: { Ref: 'ThingName' }, serial: { Ref: 'Serial' } } },
        },
      },
    });
    expect(
      validate(provisioningRequestSchema, {
        coreDeviceThingName: 'core',
        templateBody,
        templateParameters: { Serial: 's-1' },
        devices: [device('a')],
      }).ok,
    ).toBe(true);
    expect(
      errorsOf({
        coreDeviceThingName: 'core',
        templateBody,
        templateParameters: { Serial: 's-1', ThingName: 'not an attribute' },
        devices: [device('a')],
      }),
    ).toEqual([{ field: 'templateParameters.ThingName', reason: "is set from each device's thingName and must not be given" }]);
    expect(errorsOf({ coreDeviceThingName: 'core', templateBody, templateParameters: { Serial: {} }, devices: [device('a')] })).toEqual([
      { field: 'templateParameters.Serial', reason: 'must be a string' },
    ]);
  });

  it('rejects a parameter the template does not declare, shared or per device, naming what it declares', () => {
    const errors = errorsOf({
      coreDeviceThingName: 'core',
      templateParameters: { site: 'plant-berlin' },
      devices: [{ ...device('a'), parameters: { Model: 'th-200', serial: '42' } }],
    });
    expect(errors).toEqual([
      { field: 'templateParameters.site', reason: 'is not a parameter of the template, which declares ThingName, Model, Site' },
      { field: 'devices[0].parameters.serial', reason: 'is not a parameter of the template, which declares ThingName, Model, Site' },
    ]);
  });

  it("without a template to read, reports the template's field and the other problems, not the template's parameters", () => {
    const asObject = errorsOf({
      coreDeviceThingName: 'core',
      templateBody: { Parameters: {} },
      templateParameters: { Serial: '1' },
      devices: [device('a'), device('a')],
    });
    expect(asObject.map((error) => error.field)).toEqual(['templateBody', 'devices[1].thingName', 'devices[1].principal']);
    const unknownName = errorsOf({ coreDeviceThingName: 'core', templateName: 'nope', devices: [device('a'), device('a')] });
    expect(unknownName.map((error) => error.field)).toEqual(['templateName', 'devices[1].thingName', 'devices[1].principal']);
  });

  it('rejects a value the thing would take as an attribute that the registry refuses, where it is given', () => {
    const errors = errorsOf({
      coreDeviceThingName: 'core',
      templateParameters: { Site: 'plant berlin' },
      devices: [
        { ...device('a'), parameters: { Model: 'm'.repeat(801) } },
        { ...device('b', `${certificateArn.slice(0, -2)}cd`), parameters: { Model: 'th-200' } },
      ],
    });
    const rule = 'which takes at most 800 characters of a-z, A-Z, 0-9 and _.,@/:#=[]- (no spaces)';
    expect(errors).toEqual([
      { field: 'templateParameters.Site', reason: `becomes the thing attribute site, ${rule}` },
      { field: 'devices[0].parameters.Model', reason: `becomes the thing attribute model, ${rule}` },
    ]);
  });

  it('bounds each part of a certificate ARN, which the execution state keeps for every device', () => {
    const arn = (partition: string, region: string) => `arn:${partition}:iot:${region}:123456789012:cert/${'ab'.repeat(32)}`;
    const longestPartition = `aws-${'x'.repeat(MAX_PARTITION_CHARS - 4)}`;
    const longestRegion = `r${'-'.repeat(MAX_REGION_CHARS - 2)}1`;
    expect(
      validate(provisioningRequestSchema, { coreDeviceThingName: 'core', devices: [device('a', arn(longestPartition, longestRegion))] }).ok,
    ).toBe(true);

    const errors = errorsOf({
      coreDeviceThingName: 'core',
      devices: [
        device('a', arn(`${longestPartition}x`, 'us-east-1')),
        device('b', arn('aws', `${longestRegion}x`)),
        device('c', arn('aws', 'u'.repeat(700))),
      ],
    });
    expect(errors).toEqual(
      ['devices[0].principal', 'devices[1].principal', 'devices[2].principal'].map((field) => ({
        field,
        reason: `must be a certificate ARN: arn:<partition>:iot:<region>:<account>:cert/<64 hex characters>, its partition (aws…) at most ${MAX_PARTITION_CHARS} and its region at most ${MAX_REGION_CHARS} characters`,
      })),
    );
  });

  it('bounds the request as a whole, whichever trigger brings it, with the other problems', () => {
    const parameters = { Model: 'm'.repeat(800), Site: 's'.repeat(800) };
    const devices = Array.from({ length: MAX_DEVICES_PER_REQUEST }, (_, index) => ({
      ...device(`sensor-${index}`, `${certificateArn.slice(0, -3)}${String(index).padStart(3, '0')}`),
      parameters,
    }));

    const errors = errorsOf({ coreDeviceThingName: 'core', rollbackOnFailure: 'yes', devices });

    expect(errors).toEqual([
      { field: 'rollbackOnFailure', reason: 'must be true or false' },
      {
        field: '(body)',
        reason: expect.stringMatching(new RegExp(`^takes \\d+ bytes as JSON, more than the ${MAX_REQUEST_BYTES} a request may have`)),
      },
    ]);
  });

  it("takes each device's core device, else the request's", () => {
    const result = validate(provisioningRequestSchema, { devices: [{ ...device('a'), coreDeviceThingName: 'core-a' }] });
    expect(result.ok).toBe(true);
  });
});

describe('deprovisioning request contract', () => {
  it('refuses to delete things it would leave associated with their core devices, naming both fields', () => {
    const devices = [{ thingName: 'a' }];
    expect(errorsOf({ disassociate: false, devices }, deprovisioningRequestSchema)).toEqual([
      {
        field: 'disassociate',
        reason:
          'must be true when deleteThings is true: a deleted thing would stay associated with its core device (or set deleteThings to false)',
      },
    ]);
    expect(validate(deprovisioningRequestSchema, { disassociate: false, deleteThings: false, devices }).ok).toBe(true);
  });
});
