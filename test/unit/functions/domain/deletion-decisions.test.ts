import { describe, expect, it } from 'vitest';
import { deprovisioningRequestSchema } from '../../../../functions/domain/deprovisioning-request.ts';
import {
  boundedMessage,
  CertificateStillAttachedError,
  isLeftToStateMachineRetry,
  isThrottlingError,
  isTransientError,
  isUnnamedTransientFailure,
  messageFromCause,
  RETRIED_ERROR_NAMES,
  ThingStillHasPrincipalsError,
  TransientServiceError,
} from '../../../../functions/domain/errors.ts';
import {
  deprovisioningIntent,
  provisioningIntent,
  toDeprovisioningExecutionInput,
  toProvisioningExecutionInput,
} from '../../../../functions/domain/execution-input.ts';
import { MAX_ERROR_MESSAGE_CHARS } from '../../../../functions/domain/limits.ts';
import { provisioningRequestSchema } from '../../../../functions/domain/provisioning-request.ts';
import { analyzeTemplate } from '../../../../functions/domain/provisioning-template.ts';
import { validate } from '../../../../functions/domain/validation.ts';
import { shippedTemplates } from '../../../../templates/index.ts';

/**
 * The pure decisions that say what rollback and deprovisioning remove: which template issues the certificate that
 * a rollback may delete, which errors are left to the state machine's retriers rather than recorded as a device's
 * final outcome, and which deprovisioning requests are refused before anything is removed.
 */
const certificate = `arn:aws:iot:us-east-1:123456789012:cert/${'ab'.repeat(32)}`;
const otherCertificate = `arn:aws:iot:us-east-1:123456789012:cert/${'cd'.repeat(32)}`;

function parsedProvisioning(request: unknown) {
  const result = validate(provisioningRequestSchema, request);
  if (!result.ok) throw new Error(`expected a valid request: ${JSON.stringify(result.errors)}`);
  return result.value;
}

function parsedDeprovisioning(request: unknown) {
  const result = validate(deprovisioningRequestSchema, request);
  if (!result.ok) throw new Error(`expected a valid request: ${JSON.stringify(result.errors)}`);
  return result.value;
}

const templateWith = (resources: Record<string, unknown>) =>
  JSON.stringify({
    Parameters: { ThingName: { Type: 'String' }, CSR: { Type: 'String' }, Pem: { Type: 'String' } },
    Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' } } }, ...resources },
  });

describe('which template issues the certificate a rollback may delete', () => {
  it('the default template issues none, so a rollback never retires the certificate a device brings', () => {
    const input = toProvisioningExecutionInput(
      parsedProvisioning({ coreDeviceThingName: 'core', devices: [{ thingName: 'd', principal: certificate }] }),
      'r',
      1,
    );
    expect(input.templateIssuesCertificate).toBe(false);
    expect(input.templateName).toBe('thing-with-attributes');
  });

  it('a CSR template issues one per RegisterThing call', () => {
    const input = toProvisioningExecutionInput(
      parsedProvisioning({
        templateName: 'thing-with-certificate-from-csr',
        coreDeviceThingName: 'core',
        devices: [{ thingName: 'd', parameters: { CSR: 'x' } }],
      }),
      'r',
      1,
    );
    expect(input.templateIssuesCertificate).toBe(true);
  });

  it('a template that registers a certificate from a PEM creates a certificate but issues none', () => {
    const body = templateWith({
      certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificatePem: { Ref: 'Pem' }, Status: 'ACTIVE' } },
    });
    expect(analyzeTemplate(body)).toMatchObject({ ok: true, facts: { createsCertificate: true, issuesCertificate: false } });
    const input = toProvisioningExecutionInput(
      parsedProvisioning({
        templateBody: body,
        coreDeviceThingName: 'core',
        devices: [{ thingName: 'd', parameters: { Pem: 'p', CSR: 'c' } }],
      }),
      'r',
      1,
    );
    expect(input.templateIssuesCertificate).toBe(false);
    expect(input.templateName).toBeUndefined();
  });

  it('an inline CSR template issues one, and a template without any certificate creates none', () => {
    const csr = templateWith({
      certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateSigningRequest: { Ref: 'CSR' }, Status: 'ACTIVE' } },
    });
    expect(analyzeTemplate(csr)).toMatchObject({ ok: true, facts: { createsCertificate: true, issuesCertificate: true } });
    expect(analyzeTemplate(templateWith({}))).toMatchObject({ ok: true, facts: { createsCertificate: false, issuesCertificate: false } });
  });

  it('the shipped CSR template is the one that issues', () => {
    expect(analyzeTemplate(JSON.stringify(shippedTemplates['thing-with-certificate-from-csr']))).toMatchObject({
      ok: true,
      facts: { issuesCertificate: true },
    });
    expect(analyzeTemplate(JSON.stringify(shippedTemplates['thing-with-attributes']))).toMatchObject({
      ok: true,
      facts: { issuesCertificate: false },
    });
  });
});

describe('the provisioning execution input', () => {
  it("resolves each device's core device, keeps its own principal and parameters, and defaults the rest", () => {
    const request = parsedProvisioning({
      coreDeviceThingName: 'core',
      templateParameters: { Site: 's' },
      devices: [
        { thingName: 'a', principal: certificate, parameters: { Model: 'm' } },
        { thingName: 'b', principal: otherCertificate, coreDeviceThingName: 'other' },
      ],
    });
    expect(toProvisioningExecutionInput(request, 'req', 3)).toEqual({
      requestId: 'req',
      templateName: 'thing-with-attributes',
      templateBody: JSON.stringify(shippedTemplates['thing-with-attributes']),
      templateIssuesCertificate: false,
      templateParameters: { Site: 's' },
      thingPrincipalType: 'EXCLUSIVE_THING',
      rollbackOnFailure: true,
      pacing: { deviceConcurrency: 3 },
      devices: [
        { thingName: 'a', coreDeviceThingName: 'core', principal: certificate, parameters: { Model: 'm' } },
        { thingName: 'b', coreDeviceThingName: 'other', principal: otherCertificate, parameters: {} },
      ],
    });
  });

  it('gives a device without a principal none, and a request without shared parameters an empty set', () => {
    const request = parsedProvisioning({
      templateName: 'thing-with-certificate-from-csr',
      coreDeviceThingName: 'core',
      devices: [{ thingName: 'a', parameters: { CSR: 'x' } }],
    });
    const input = toProvisioningExecutionInput(request, 'req', 1);
    expect(input.templateParameters).toEqual({});
    expect(input.devices).toEqual([{ thingName: 'a', coreDeviceThingName: 'core', parameters: { CSR: 'x' } }]);
  });

  it("takes a request's intent without its id, pacing or derived template facts, naming a shipped template rather than quoting it", () => {
    const request = parsedProvisioning({
      requestId: 'id-1',
      coreDeviceThingName: 'core',
      devices: [{ thingName: 'a', principal: certificate }],
    });
    expect(provisioningIntent(request)).toEqual({
      templateName: 'thing-with-attributes',
      templateParameters: {},
      thingPrincipalType: 'EXCLUSIVE_THING',
      rollbackOnFailure: true,
      devices: [{ thingName: 'a', coreDeviceThingName: 'core', principal: certificate, parameters: {} }],
    });
    const inline = JSON.stringify(shippedTemplates['thing-with-attributes']);
    expect(
      provisioningIntent(
        parsedProvisioning({ templateBody: inline, coreDeviceThingName: 'core', devices: [{ thingName: 'a', principal: certificate }] }),
      ),
    ).toMatchObject({ templateBody: inline });
  });

  it("takes a deprovisioning request's intent with what it removes, without its id or batches", () => {
    const request = parsedDeprovisioning({ requestId: 'id-2', coreDeviceThingName: 'core', devices: [{ thingName: 'a' }] });
    expect(deprovisioningIntent(request)).toEqual({
      options: { detachPrincipals: true, deleteThings: true },
      devices: [{ thingName: 'a', coreDeviceThingName: 'core', status: 'PENDING' }],
      disassociate: true,
    });
  });
});

describe("a template whose thing is not the device's thing", () => {
  const withThingName = (thingName: unknown) =>
    JSON.stringify({
      Parameters: { ThingName: { Type: 'String' } },
      Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: thingName } } },
    });
  const reason = 'must name its thing {"Ref": "ThingName"}, so that the thing created is the device\'s thingName';

  it.each([
    ['a literal name', 'fixed-name'],
    ['a reference to another parameter', { Ref: 'Other' }],
    ['no name at all', undefined],
  ])('is refused when it names its thing with %s', (_, thingName) => {
    expect(analyzeTemplate(withThingName(thingName))).toEqual({ ok: false, reasons: [reason] });
  });

  it('is accepted when it names its thing {"Ref": "ThingName"}', () => {
    expect(analyzeTemplate(withThingName({ Ref: 'ThingName' }))).toMatchObject({ ok: true });
  });

  it.each([['null'], ['[]'], ['"a string"'], ['42']])('is refused when the template is %s, not an object', (body) => {
    expect(analyzeTemplate(body)).toEqual({ ok: false, reasons: ['must be a JSON object with Parameters and Resources'] });
  });

  it('is refused when it declares two things, or none, or no ThingName parameter', () => {
    const thing = { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' } } };
    expect(analyzeTemplate(JSON.stringify({ Parameters: { ThingName: {} }, Resources: { one: thing, two: thing } }))).toEqual({
      ok: false,
      reasons: ['must declare exactly one AWS::IoT::Thing resource (found 2)'],
    });
    expect(analyzeTemplate(JSON.stringify({ Resources: { none: null } }))).toEqual({
      ok: false,
      reasons: [
        'must declare exactly one AWS::IoT::Thing resource (found 0)',
        "must declare the parameter ThingName, which the workflow sets to each device's thingName",
      ],
    });
  });

  it('reads a template with null resources, parameters and attribute values without failing', () => {
    const body = JSON.stringify({
      Parameters: { ThingName: { Type: 'String' }, Bare: null },
      Resources: {
        thing: {
          Type: 'AWS::IoT::Thing',
          Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: { empty: null, literal: 'v', numeric: { Ref: 7 } } },
        },
        nothing: null,
        certificate: { Type: 'AWS::IoT::Certificate' },
      },
    });
    expect(analyzeTemplate(body)).toEqual({
      ok: true,
      facts: {
        createsCertificate: true,
        issuesCertificate: false,
        declaredParameters: ['ThingName', 'Bare'],
        attributeParameters: {},
        requiredParameters: ['Bare'],
      },
    });
  });

  it('refuses a policy only when it brings its own document', () => {
    const thing = { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' } } };
    const withResource = (resource: unknown) => JSON.stringify({ Parameters: { ThingName: {} }, Resources: { thing, other: resource } });
    expect(analyzeTemplate(withResource({ Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'existing' } }))).toMatchObject({ ok: true });
    expect(analyzeTemplate(withResource({ Type: 'AWS::IoT::Policy' }))).toMatchObject({ ok: true });
    expect(
      analyzeTemplate(withResource({ Type: 'AWS::IoT::Certificate', Properties: { PolicyDocument: '{}', CertificatePem: 'p' } })),
    ).toMatchObject({ ok: true });
  });

  it('accepts exactly as many attributes as a thing takes, and names the limit of a typed thing', () => {
    const attributes = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`a${index}`, 'v']));
    const thing = (properties: Record<string, unknown>) =>
      JSON.stringify({
        Parameters: { ThingName: {} },
        Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' }, ...properties } } },
      });
    expect(analyzeTemplate(thing({ AttributePayload: attributes(3) }))).toMatchObject({ ok: true });
    expect(analyzeTemplate(thing({ ThingTypeName: 'sensor', AttributePayload: attributes(50) }))).toMatchObject({ ok: true });
    expect(analyzeTemplate(thing({ ThingTypeName: 'sensor', AttributePayload: attributes(51) }))).toEqual({
      ok: false,
      reasons: ['gives its thing 51 attributes: a thing with a ThingTypeName takes at most 50'],
    });
  });
});

describe("which errors are left to the state machine's retriers", () => {
  const throttling = ['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded'];
  const serverErrors = [
    'InternalFailureException',
    'InternalServerException',
    'ServiceUnavailableException',
    'RequestTimeoutException',
    'ConflictingResourceUpdateException',
  ];

  it('names the throttling errors, and only those, as throttling', () => {
    for (const name of throttling) expect(isThrottlingError(name), name).toBe(true);
    for (const name of [...serverErrors, 'InvalidRequestException', 'ResourceNotFoundException', ''])
      expect(isThrottlingError(name), name).toBe(false);
  });

  it('names throttling and the 5xx errors transient, and validation and not-found errors not', () => {
    for (const name of [...throttling, ...serverErrors]) expect(isTransientError(name), name).toBe(true);
    for (const name of [
      'InvalidRequestException',
      'ResourceNotFoundException',
      'ResourceAlreadyExistsException',
      'ValidationException',
      'TransientServiceError',
      '',
    ]) {
      expect(isTransientError(name), name).toBe(false);
    }
  });

  it("lists exactly the names the ASL retriers retry besides Lambda's own", () => {
    expect([...RETRIED_ERROR_NAMES].sort()).toEqual(
      [...throttling, ...serverErrors, 'TransientServiceError', 'ThingStillHasPrincipals', 'CertificateStillAttached'].sort(),
    );
  });

  it('names its own errors as the retriers expect them', () => {
    expect(new ThingStillHasPrincipalsError('x').name).toBe('ThingStillHasPrincipals');
    expect(new CertificateStillAttachedError('x').name).toBe('CertificateStillAttached');
    expect(new TransientServiceError('x').name).toBe('TransientServiceError');
  });

  it.each([
    [{ name: '500', $metadata: { httpStatusCode: 500 } }, true],
    [{ name: '501', $metadata: { httpStatusCode: 501 } }, true],
    [{ name: '499', $metadata: { httpStatusCode: 499 } }, false],
    [{ name: 'Error', code: 'ECONNREFUSED' }, true],
    [{ name: 'Error', code: 'EPIPE' }, true],
    [{ name: 'Error', code: 'ETIMEDOUT' }, true],
    [{ name: 'Error', code: 'EAI_AGAIN' }, true],
    [{ name: 'Error', code: 'ENOTFOUND' }, true],
    [{ name: 'Error', code: 'EACCES' }, false],
    [{ name: 'Error', code: 42 }, false],
    [{ name: 'Error' }, false],
    [{ name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } }, true],
    [{ name: 'TransientServiceError', $metadata: { httpStatusCode: 503 } }, false],
    [{ name: 'ThingStillHasPrincipals' }, false],
  ])('%j is an unnamed transient failure: %s', (error, expected) => {
    expect(isUnnamedTransientFailure(error)).toBe(expected);
  });

  it.each([
    [{ name: 'ThrottlingException' }, true],
    [{ name: 'ServiceUnavailableException' }, true],
    [{ name: 'TransientServiceError' }, true],
    [{ name: 'ThingStillHasPrincipals' }, true],
    [{ name: 'CertificateStillAttached' }, true],
    [{ name: 'Error', code: 'ECONNRESET' }, true],
    [{ name: '502', $metadata: { httpStatusCode: 502 } }, true],
    [{ name: 'InvalidRequestException', $metadata: { httpStatusCode: 400 } }, false],
    [{ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } }, false],
  ])('%j escapes a task that records outcomes, to be retried: %s', (error, expected) => {
    expect(isLeftToStateMachineRetry(error)).toBe(expected);
  });
});

describe('the message a device outcome keeps', () => {
  it('takes a cause that is JSON without an errorMessage string as the message itself', () => {
    expect(messageFromCause('{"errorType":"X"}')).toBe('{"errorType":"X"}');
    expect(messageFromCause('{"errorMessage":42}')).toBe('{"errorMessage":42}');
    expect(messageFromCause(undefined)).toBe('');
    expect(messageFromCause('')).toBe('');
  });

  it('keeps a message of exactly the bound whole and cuts one character more to the bound', () => {
    const exact = 'm'.repeat(MAX_ERROR_MESSAGE_CHARS);
    expect(boundedMessage(exact)).toBe(exact);
    expect(boundedMessage(`${exact}n`)).toBe(`${'m'.repeat(MAX_ERROR_MESSAGE_CHARS - 1)}…`);
  });

  it('keeps a message whole once cutting its quoted value brings it within the bound', () => {
    const message = `Value '${'v'.repeat(100)}' at 'thingName' failed`;
    const cut = boundedMessage(message);
    expect(cut).toBe(`Value '${'v'.repeat(24)}…' at 'thingName' failed`);
    expect(cut.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
  });

  it('keeps a message within the bound whole even when it quotes a long value', () => {
    const short = `Value '${'v'.repeat(40)}' at 'thingName' failed`;
    expect(boundedMessage(short)).toBe(short);
    const exact = `Value '${'v'.repeat(40)}' at '${'t'.repeat(MAX_ERROR_MESSAGE_CHARS - 54)}'`;
    expect(exact).toHaveLength(MAX_ERROR_MESSAGE_CHARS);
    expect(boundedMessage(exact)).toBe(exact);
  });

  it('keeps a shortened message that lands exactly on the bound whole', () => {
    const prefix = `Value '${'v'.repeat(24)}…' at `;
    const tail = 't'.repeat(MAX_ERROR_MESSAGE_CHARS - prefix.length);
    expect(boundedMessage(`Value '${'v'.repeat(200)}' at ${tail}`)).toBe(`${prefix}${tail}`);
  });
});

describe('a deprovisioning request, refused before anything is removed', () => {
  const errorsOf = (request: unknown) => {
    const result = validate(deprovisioningRequestSchema, request);
    return result.ok ? [] : result.errors;
  };

  it('names a device listed twice, under the second one', () => {
    expect(errorsOf({ coreDeviceThingName: 'core', devices: [{ thingName: 'a' }, { thingName: 'b' }, { thingName: 'a' }] })).toEqual([
      { field: 'devices[2].thingName', reason: 'duplicates devices[0].thingName "a"' },
    ]);
  });

  it('reports a device whose name is not a string, or missing, as that, and not as a duplicate', () => {
    const errors = errorsOf({ coreDeviceThingName: 'core', devices: [{ thingName: 5 }, { thingName: 5 }, null] });
    expect(errors.map((error) => error.field)).toEqual(['devices[0].thingName', 'devices[1].thingName', 'devices[2]']);
    expect(errors.some((error) => error.reason.startsWith('duplicates'))).toBe(false);
  });

  it('accepts devices that are all different', () => {
    expect(errorsOf({ coreDeviceThingName: 'core', devices: [{ thingName: 'a' }, { thingName: 'b' }, { thingName: 'c' }] })).toEqual([]);
  });

  it('names each device that has no core device to be disassociated from', () => {
    expect(errorsOf({ devices: [{ thingName: 'a' }, { thingName: 'b', coreDeviceThingName: 'core' }, { thingName: 'c' }] })).toEqual([
      { field: 'devices[0].coreDeviceThingName', reason: 'is required to disassociate when the request has no coreDeviceThingName' },
      { field: 'devices[2].coreDeviceThingName', reason: 'is required to disassociate when the request has no coreDeviceThingName' },
    ]);
  });

  it('needs no core device when it does not disassociate', () => {
    expect(errorsOf({ disassociate: false, deleteThings: false, devices: [{ thingName: 'a' }] })).toEqual([]);
  });

  it('refuses to delete things whose principals it keeps', () => {
    expect(errorsOf({ coreDeviceThingName: 'core', detachPrincipals: false, devices: [{ thingName: 'a' }] })).toEqual([
      { field: 'detachPrincipals', reason: 'must be true when deleteThings is true: a thing with principals cannot be deleted' },
    ]);
    expect(errorsOf({ coreDeviceThingName: 'core', detachPrincipals: false, deleteThings: false, devices: [{ thingName: 'a' }] })).toEqual(
      [],
    );
  });

  it('refuses to delete things it leaves associated', () => {
    expect(errorsOf({ disassociate: false, devices: [{ thingName: 'a' }] })).toEqual([
      { field: 'disassociate', reason: expect.stringContaining('must be true when deleteThings is true') },
    ]);
  });

  it('defaults to removing everything: disassociate, detach and delete', () => {
    expect(parsedDeprovisioning({ coreDeviceThingName: 'core', devices: [{ thingName: 'a' }] })).toMatchObject({
      disassociate: true,
      detachPrincipals: true,
      deleteThings: true,
    });
  });
});

describe('the deprovisioning execution input', () => {
  it('plans a batch per core device when it disassociates, and none when it does not', () => {
    const request = parsedDeprovisioning({
      coreDeviceThingName: 'core',
      devices: [{ thingName: 'a' }, { thingName: 'b', coreDeviceThingName: 'other' }],
    });
    const input = toDeprovisioningExecutionInput(request, 'r');
    expect(input.devices).toEqual([
      { thingName: 'a', coreDeviceThingName: 'core', status: 'PENDING' },
      { thingName: 'b', coreDeviceThingName: 'other', status: 'PENDING' },
    ]);
    expect(input.options).toEqual({ detachPrincipals: true, deleteThings: true });
    expect(input.batches.map((batch) => [batch.coreDeviceThingName, batch.pending])).toEqual([
      ['core', ['a']],
      ['other', ['b']],
    ]);

    const kept = parsedDeprovisioning({ disassociate: false, detachPrincipals: true, deleteThings: false, devices: [{ thingName: 'a' }] });
    expect(toDeprovisioningExecutionInput(kept, 'r').batches).toEqual([]);
  });

  it('gives a device no core device when the request neither disassociates nor names one', () => {
    const request = parsedDeprovisioning({ disassociate: false, deleteThings: false, devices: [{ thingName: 'a' }] });
    expect(toDeprovisioningExecutionInput(request, 'r').devices).toEqual([{ thingName: 'a', coreDeviceThingName: '', status: 'PENDING' }]);
  });

  it('passes on what to detach and delete as the request says', () => {
    const request = parsedDeprovisioning({
      coreDeviceThingName: 'core',
      detachPrincipals: true,
      deleteThings: false,
      devices: [{ thingName: 'a' }],
    });
    expect(toDeprovisioningExecutionInput(request, 'r').options).toEqual({ detachPrincipals: true, deleteThings: false });
  });
});
