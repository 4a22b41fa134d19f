import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import {
  AttachPolicyCommand,
  AttachPrincipalPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  CreateThingTypeCommand,
  DeleteThingTypeCommand,
  DeprecateThingTypeCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DescribeThingTypeCommand,
  DetachPolicyCommand,
  DetachPrincipalPolicyCommand,
  ListAttachedPoliciesCommand,
  ListCertificatesCommand,
  ListPrincipalPoliciesCommand,
  ListPrincipalThingsCommand,
  ListPrincipalThingsV2Command,
  ListTargetsForPolicyCommand,
  paginateListCertificates,
  paginateListPrincipalThings,
  paginateListTargetsForPolicy,
  RegisterCertificateCommand,
  RegisterCertificateWithoutCACommand,
  RegisterThingCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import * as x509 from '@peculiar/x509';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceCsr, SELF_SIGNED_CERTIFICATE } from '../../../support/device-certificates.ts';
import { certificateArnOf, expectAwsError, REGION, startCloud, type TestCloud, thingTemplate } from '../helpers.ts';

let t: TestCloud;
/** The local cloud's clock, which a test moves forward. */
let now = Date.parse('2026-12-01T00:00:00Z');

async function start(options: Parameters<typeof startCloud>[0] = {}) {
  now = Date.parse('2026-12-01T00:00:00Z');
  t = await startCloud({ clock: { now: () => now }, ...options });
  return t;
}

afterEach(async () => {
  await t.close();
});

async function certificate() {
  const { certificateArn, certificateId } = await t.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  return { arn: certificateArn!, id: certificateId! };
}

describe('CreateKeysAndCertificate keys', () => {
  it('makes a 2048-bit RSA key pair by default, as AWS does, in PKCS#1 and SPKI PEM', async () => {
    // Unset, as a local cloud started without the setting has it.
    await start({ keyAlgorithm: undefined });
    const created = await t.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    expect(created.keyPair?.PrivateKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(created.keyPair?.PublicKey).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const privateKey = createPrivateKey(created.keyPair!.PrivateKey!);
    expect(privateKey.asymmetricKeyType).toBe('rsa');
    expect(privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const issued = new X509Certificate(created.certificatePem!);
    expect(issued.publicKey.export({ type: 'spki', format: 'pem' })).toBe(created.keyPair!.PublicKey);
    expect(issued.subject).toBe('CN=AWS IoT Certificate');
    expect(issued.validTo).toBe('Dec 31 23:59:59 2049 GMT');
  });

  it('makes EC P-256 keys when the local cloud is configured for speed', async () => {
    await start({ keyAlgorithm: 'ec-p256' });
    const created = await t.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    const privateKey = createPrivateKey(created.keyPair!.PrivateKey!);
    expect(privateKey.asymmetricKeyType).toBe('ec');
    expect(privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });
});

describe('thing types', () => {
  it('creates idempotently, refuses another configuration, describes and deprecates', async () => {
    await start();
    const properties = { thingTypeDescription: 'temperature sensors', searchableAttributes: ['model'] };
    const created = await t.iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor', thingTypeProperties: properties }));
    expect(created).toMatchObject({ thingTypeName: 'sensor', thingTypeArn: `arn:aws:iot:${REGION}:000000000000:thingtype/sensor` });
    const again = await t.iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor', thingTypeProperties: properties }));
    expect(again.thingTypeId).toBe(created.thingTypeId);
    const conflict = await expectAwsError(
      t.iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor', thingTypeProperties: { thingTypeDescription: 'other' } })),
      'ResourceAlreadyExistsException',
      409,
    );
    expect(conflict['resourceId']).toBe(created.thingTypeId);

    const described = await t.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'sensor' }));
    expect(described).toMatchObject({ thingTypeName: 'sensor', thingTypeId: created.thingTypeId, thingTypeProperties: properties });
    expect(described.thingTypeMetadata).toEqual({ deprecated: false, creationDate: new Date(now) });

    await t.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'sensor' }));
    expect((await t.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'sensor' }))).thingTypeMetadata).toEqual({
      deprecated: true,
      deprecationDate: new Date(now),
      creationDate: new Date(now),
    });
    await t.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'sensor', undoDeprecate: true }));
    expect((await t.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'sensor' }))).thingTypeMetadata?.deprecated).toBe(false);
    const unprintable = await expectAwsError(
      t.iot.send(new CreateThingTypeCommand({ thingTypeName: 'tabbed', thingTypeProperties: { thingTypeDescription: 'a\tb' } })),
      'InvalidRequestException',
      400,
    );
    expect(unprintable.message).toBe(
      "1 validation error detected: Value 'a\tb' at 'thingTypeProperties.thingTypeDescription' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{Graph}\\x20]*",
    );
    await expectAwsError(t.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'missing' })), 'ResourceNotFoundException', 404);
    await expectAwsError(t.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'missing' })), 'ResourceNotFoundException', 404);
  });

  it('deletes a thing type only once deprecated for 5 minutes and no thing has it', async () => {
    await start();
    await t.iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor' }));
    await t.iot.send(new CreateThingCommand({ thingName: 'typed', thingTypeName: 'sensor' }));
    await expectAwsError(t.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' })), 'InvalidRequestException', 400);
    await t.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'sensor' }));
    now += 5 * 60_000 - 1;
    await expectAwsError(t.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' })), 'InvalidRequestException', 400);
    now += 1;
    const inUse = await expectAwsError(t.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' })), 'InvalidRequestException', 400);
    expect(inUse.message).toContain('still has things');
    await t.iot.send(new UpdateThingCommand({ thingName: 'typed', removeThingType: true }));
    await t.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' }));
    await expectAwsError(t.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'sensor' })), 'ResourceNotFoundException', 404);
    await expectAwsError(t.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' })), 'ResourceNotFoundException', 404);
  });

  it('refuses a RegisterThing template naming a thing type that does not exist or is deprecated, creating nothing', async () => {
    await start();
    const typed = thingTemplate({}, { Properties: { ThingName: { Ref: 'ThingName' }, ThingTypeName: 'sensor' } });
    const missing = await expectAwsError(
      t.iot.send(new RegisterThingCommand({ templateBody: typed, parameters: { ThingName: 'untyped' } })),
      'ResourceRegistrationFailureException',
      400,
    );
    expect(missing.message).toBe('Thing type sensor does not exist');
    await expectAwsError(t.iot.send(new DescribeThingCommand({ thingName: 'untyped' })), 'ResourceNotFoundException', 404);

    await t.iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor' }));
    await t.iot.send(new RegisterThingCommand({ templateBody: typed, parameters: { ThingName: 'first' } }));
    expect((await t.iot.send(new DescribeThingCommand({ thingName: 'first' }))).thingTypeName).toBe('sensor');
    await t.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'sensor' }));
    await expectAwsError(
      t.iot.send(new RegisterThingCommand({ templateBody: typed, parameters: { ThingName: 'second' } })),
      'ResourceRegistrationFailureException',
      400,
    );
    // An existing thing keeps its deprecated type.
    await t.iot.send(new RegisterThingCommand({ templateBody: typed, parameters: { ThingName: 'first' } }));
  });
});

describe('CreateThing and UpdateThing', () => {
  it('creates a thing, again with the same configuration, and refuses another or a missing thing type', async () => {
    await start();
    await t.iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor' }));
    const input = { thingName: 'pump', thingTypeName: 'sensor', attributePayload: { attributes: { model: 'x1' } } };
    const created = await t.iot.send(new CreateThingCommand(input));
    expect(created).toMatchObject({ thingName: 'pump', thingArn: `arn:aws:iot:${REGION}:000000000000:thing/pump` });
    expect((await t.iot.send(new CreateThingCommand(input))).thingId).toBe(created.thingId);
    await expectAwsError(
      t.iot.send(new CreateThingCommand({ ...input, attributePayload: { attributes: { model: 'x2' } } })),
      'ResourceAlreadyExistsException',
      409,
    );
    await expectAwsError(
      t.iot.send(new CreateThingCommand({ thingName: 'other', thingTypeName: 'missing' })),
      'ResourceNotFoundException',
      404,
    );
    const tooMany = { attributes: { a: '1', b: '2', c: '3', d: '4' } };
    await expectAwsError(
      t.iot.send(new CreateThingCommand({ thingName: 'crowded', attributePayload: tooMany })),
      'InvalidRequestException',
      400,
    );
    const invalid = await expectAwsError(t.iot.send(new CreateThingCommand({ thingName: 'bad name' })), 'InvalidRequestException', 400);
    expect(invalid.message).toBe(
      "1 validation error detected: Value 'bad name' at 'thingName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+",
    );
  });

  it('replaces or merges attributes, changes or removes the thing type and checks the expected version', async () => {
    await start();
    await t.iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor' }));
    await t.iot.send(new CreateThingCommand({ thingName: 'pump', attributePayload: { attributes: { model: 'x1', site: 'a' } } }));
    await t.iot.send(
      new UpdateThingCommand({ thingName: 'pump', attributePayload: { attributes: { site: '', serial: '7' }, merge: true } }),
    );
    expect(await t.iot.send(new DescribeThingCommand({ thingName: 'pump' }))).toMatchObject({
      attributes: { model: 'x1', serial: '7' },
      version: 2,
    });
    await t.iot.send(
      new UpdateThingCommand({
        thingName: 'pump',
        thingTypeName: 'sensor',
        attributePayload: { attributes: { only: 'this' } },
        expectedVersion: 2,
      }),
    );
    expect(await t.iot.send(new DescribeThingCommand({ thingName: 'pump' }))).toMatchObject({
      attributes: { only: 'this' },
      thingTypeName: 'sensor',
      version: 3,
    });
    await expectAwsError(t.iot.send(new UpdateThingCommand({ thingName: 'pump', expectedVersion: 2 })), 'VersionConflictException', 409);
    await expectAwsError(
      t.iot.send(new UpdateThingCommand({ thingName: 'pump', thingTypeName: 'sensor', removeThingType: true })),
      'InvalidRequestException',
      400,
    );
    await expectAwsError(
      t.iot.send(new UpdateThingCommand({ thingName: 'pump', thingTypeName: 'missing' })),
      'ResourceNotFoundException',
      404,
    );
    await expectAwsError(t.iot.send(new UpdateThingCommand({ thingName: 'nope' })), 'ResourceNotFoundException', 404);
    await t.iot.send(new UpdateThingCommand({ thingName: 'pump', removeThingType: true }));
    const described = await t.iot.send(new DescribeThingCommand({ thingName: 'pump' }));
    expect(described.thingTypeName).toBeUndefined();
    expect(described.version).toBe(4);
  });
});

describe('things of a principal', () => {
  it('lists the things a certificate is attached to across pages, with their attachment type in V2', async () => {
    await start();
    const cert = await certificate();
    for (const thingName of ['c', 'a', 'b']) {
      await t.iot.send(new CreateThingCommand({ thingName }));
      await t.iot.send(new AttachThingPrincipalCommand({ thingName, principal: cert.arn }));
    }
    const pages = [];
    for await (const page of paginateListPrincipalThings({ client: t.iot, pageSize: 2 }, { principal: cert.arn })) pages.push(page.things);
    expect(pages).toEqual([['a', 'b'], ['c']]);

    const exclusive = await certificate();
    await t.iot.send(new AttachThingPrincipalCommand({ thingName: 'a', principal: exclusive.arn, thingPrincipalType: 'EXCLUSIVE_THING' }));
    const v2 = await t.iot.send(new ListPrincipalThingsV2Command({ principal: exclusive.arn }));
    expect(v2.principalThingObjects).toEqual([{ thingName: 'a', thingPrincipalType: 'EXCLUSIVE_THING' }]);
    const filtered = await t.iot.send(new ListPrincipalThingsV2Command({ principal: cert.arn, thingPrincipalType: 'EXCLUSIVE_THING' }));
    expect(filtered.principalThingObjects).toEqual([]);

    await expectAwsError(
      t.iot.send(new ListPrincipalThingsCommand({ principal: certificateArnOf('f'.repeat(64)) })),
      'ResourceNotFoundException',
      404,
    );
    await expectAwsError(t.iot.send(new ListPrincipalThingsCommand({ principal: 'not-a-principal' })), 'InvalidRequestException', 400);
    await expectAwsError(
      t.iot.send(new ListPrincipalThingsCommand({ principal: cert.arn, maxResults: 251 })),
      'InvalidRequestException',
      400,
    );
  });
});

describe('policies of principals', () => {
  it('attaches, lists both ways with markers, and detaches a policy, through the current and the deprecated calls', async () => {
    await start();
    const cert = await certificate();
    for (const policyName of ['p1', 'p2', 'p3']) {
      now += 1000;
      await t.iot.send(new CreatePolicyCommand({ policyName, policyDocument: '{"Statement":[]}' }));
      await t.iot.send(new AttachPolicyCommand({ policyName, target: cert.arn }));
    }
    await t.iot.send(new AttachPolicyCommand({ policyName: 'p1', target: cert.arn }));
    const first = await t.iot.send(new ListAttachedPoliciesCommand({ target: cert.arn, pageSize: 2 }));
    expect(first.policies).toEqual([
      { policyName: 'p1', policyArn: `arn:aws:iot:${REGION}:000000000000:policy/p1` },
      { policyName: 'p2', policyArn: `arn:aws:iot:${REGION}:000000000000:policy/p2` },
    ]);
    expect(first.nextMarker).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    const second = await t.iot.send(new ListAttachedPoliciesCommand({ target: cert.arn, pageSize: 2, marker: first.nextMarker }));
    expect(second.policies?.map((policy) => policy.policyName)).toEqual(['p3']);
    expect(second.nextMarker).toBeUndefined();

    const identity = 'eu-west-1:12345678-1234-1234-1234-123456789012';
    await t.iot.send(new AttachPrincipalPolicyCommand({ policyName: 'p2', principal: identity }));
    const targets = [];
    for await (const page of paginateListTargetsForPolicy({ client: t.iot, pageSize: 1 }, { policyName: 'p2' }))
      targets.push(...(page.targets ?? []));
    expect(targets).toEqual([cert.arn, identity]);

    // The deprecated listing takes the principal in a header and lists newest first unless asked otherwise.
    const newestFirst = await t.iot.send(new ListPrincipalPoliciesCommand({ principal: cert.arn }));
    expect(newestFirst.policies?.map((policy) => policy.policyName)).toEqual(['p3', 'p2', 'p1']);
    const oldestFirst = await t.iot.send(new ListPrincipalPoliciesCommand({ principal: cert.arn, ascendingOrder: true }));
    expect(oldestFirst.policies?.map((policy) => policy.policyName)).toEqual(['p1', 'p2', 'p3']);

    await t.iot.send(new DetachPolicyCommand({ policyName: 'p2', target: cert.arn }));
    await t.iot.send(new DetachPolicyCommand({ policyName: 'p2', target: cert.arn }));
    await t.iot.send(new DetachPrincipalPolicyCommand({ policyName: 'p2', principal: identity }));
    expect((await t.iot.send(new ListTargetsForPolicyCommand({ policyName: 'p2' }))).targets).toEqual([]);
    expect(t.cloud.admin.state().certificates.find((record) => record.certificateId === cert.id)?.policyNames).toEqual(['p1', 'p3']);
  });

  it('refuses an unknown policy or certificate, a bad marker, and an eleventh policy', async () => {
    await start();
    const cert = await certificate();
    const missing = certificateArnOf('f'.repeat(64));
    await t.iot.send(new CreatePolicyCommand({ policyName: 'p0', policyDocument: '{"Statement":[]}' }));
    await expectAwsError(t.iot.send(new AttachPolicyCommand({ policyName: 'nope', target: cert.arn })), 'ResourceNotFoundException', 404);
    await expectAwsError(t.iot.send(new AttachPolicyCommand({ policyName: 'p0', target: missing })), 'ResourceNotFoundException', 404);
    await expectAwsError(t.iot.send(new DetachPolicyCommand({ policyName: 'p0', target: missing })), 'InvalidRequestException', 400);
    await expectAwsError(
      t.iot.send(new DetachPrincipalPolicyCommand({ policyName: 'p0', principal: missing })),
      'ResourceNotFoundException',
      404,
    );
    await expectAwsError(t.iot.send(new ListTargetsForPolicyCommand({ policyName: 'nope' })), 'ResourceNotFoundException', 404);
    await expectAwsError(
      t.iot.send(new ListAttachedPoliciesCommand({ target: cert.arn, marker: 'not a marker' })),
      'InvalidRequestException',
      400,
    );
    for (let index = 0; index < 10; index++) {
      await t.iot.send(new CreatePolicyCommand({ policyName: `p${index + 1}`, policyDocument: '{"Statement":[]}' }));
      await t.iot.send(new AttachPolicyCommand({ policyName: `p${index + 1}`, target: cert.arn }));
    }
    await expectAwsError(t.iot.send(new AttachPolicyCommand({ policyName: 'p0', target: cert.arn })), 'LimitExceededException', 410);
  });
});

describe('certificates from CSRs and registered certificates', () => {
  it('signs a new certificate for every CreateCertificateFromCsr, even for the same CSR, and refuses a weak or bad one', async () => {
    await start();
    const csr = await deviceCsr('device-1');
    const first = await t.iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr, setAsActive: true }));
    const second = await t.iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr }));
    expect(first.certificateId).not.toBe(second.certificateId);
    expect(new X509Certificate(first.certificatePem!).subject).toBe('CN=device-1');
    expect(first.certificateArn).toBe(certificateArnOf(first.certificateId!));
    const statuses = [first, second].map(
      async ({ certificateId }) => (await t.iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status,
    );
    expect(await Promise.all(statuses)).toEqual(['ACTIVE', 'INACTIVE']);

    await expectAwsError(
      t.iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: 'not a csr' })),
      'InvalidRequestException',
      400,
    );
    const rsa1024 = await webcrypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 1024 },
      true,
      ['sign', 'verify'],
    );
    const weak = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=weak',
      keys: rsa1024,
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5' },
    });
    const refused = await expectAwsError(
      t.iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: weak.toString('pem') })),
      'InvalidRequestException',
      400,
    );
    expect(refused.message).toContain('at least 2048 bits');
  });

  it('registers a certificate with its CA or without one, once', async () => {
    await start();
    await expectAwsError(
      t.iot.send(new RegisterCertificateCommand({ certificatePem: SELF_SIGNED_CERTIFICATE })),
      'CertificateValidationException',
      400,
    );
    const withCa = await t.iot.send(
      new RegisterCertificateCommand({
        certificatePem: SELF_SIGNED_CERTIFICATE,
        caCertificatePem: SELF_SIGNED_CERTIFICATE,
        status: 'ACTIVE',
      }),
    );
    const { certificateDescription } = await t.iot.send(new DescribeCertificateCommand({ certificateId: withCa.certificateId }));
    expect(certificateDescription).toMatchObject({ status: 'ACTIVE', certificateMode: 'DEFAULT', caCertificateId: withCa.certificateId });
    await expectAwsError(
      t.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: SELF_SIGNED_CERTIFICATE })),
      'ResourceAlreadyExistsException',
      409,
    );

    const created = await t.iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: await deviceCsr('device-2') }));
    await expectAwsError(
      t.iot.send(new RegisterCertificateCommand({ certificatePem: created.certificatePem })),
      'ResourceAlreadyExistsException',
      409,
    );
    await expectAwsError(
      t.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: 'garbage' })),
      'CertificateValidationException',
      400,
    );
  });

  it('registers a certificate without a CA in SNI_ONLY mode and lists certificates newest first, with markers', async () => {
    await start();
    const registered = await t.iot.send(
      new RegisterCertificateWithoutCACommand({ certificatePem: SELF_SIGNED_CERTIFICATE, status: 'ACTIVE' }),
    );
    expect(
      (await t.iot.send(new DescribeCertificateCommand({ certificateId: registered.certificateId }))).certificateDescription,
    ).toMatchObject({
      certificateMode: 'SNI_ONLY',
      status: 'ACTIVE',
    });
    now += 1000;
    const later = await certificate();
    const listed = [];
    for await (const page of paginateListCertificates({ client: t.iot, pageSize: 1 }, {})) listed.push(...(page.certificates ?? []));
    expect(listed.map((item) => [item.certificateId, item.certificateMode])).toEqual([
      [later.id, 'DEFAULT'],
      [registered.certificateId, 'SNI_ONLY'],
    ]);
    const ascending = await t.iot.send(new ListCertificatesCommand({ ascendingOrder: true }));
    expect(ascending.certificates?.map((item) => item.certificateId)).toEqual([registered.certificateId, later.id]);
    expect(ascending.certificates?.[0]).toMatchObject({ status: 'ACTIVE', creationDate: new Date(now - 1000) });
  });
});

describe('DescribeEndpoint', () => {
  it('answers the account-specific host of each endpoint type and refuses an unknown type', async () => {
    await start();
    const address = async (endpointType?: string) => (await t.iot.send(new DescribeEndpointCommand({ endpointType }))).endpointAddress;
    const ats = await address('iot:Data-ATS');
    expect(ats).toMatch(new RegExp(`^[a-z0-9]{14}-ats\\.iot\\.${REGION}\\.amazonaws\\.com$`));
    const prefix = ats!.split('-ats.')[0];
    expect(await address()).toBe(`${prefix}.iot.${REGION}.amazonaws.com`);
    expect(await address('iot:CredentialProvider')).toBe(`${prefix}.credentials.iot.${REGION}.amazonaws.com`);
    expect(await address('iot:Jobs')).toBe(`${prefix}.jobs.iot.${REGION}.amazonaws.com`);
    await expectAwsError(address('iot:Nope'), 'InvalidRequestException', 400);
  });
});

describe('quotas of the added operations', () => {
  it('names every added operation with its default quota, so faults and quotas can target them', async () => {
    await start();
    const { rateLimits } = t.cloud.admin.faults();
    expect(rateLimits['CreateThing']).toEqual({ rate: 100, burst: 100 });
    expect(rateLimits['UpdateThing']).toEqual({ rate: 100, burst: 100 });
    expect(rateLimits['ListPrincipalThings']).toEqual({ rate: 10, burst: 10 });
    for (const operation of [
      'ListPrincipalThingsV2',
      'AttachPolicy',
      'DetachPolicy',
      'ListAttachedPolicies',
      'AttachPrincipalPolicy',
      'DetachPrincipalPolicy',
      'ListPrincipalPolicies',
      'ListTargetsForPolicy',
      'CreateThingType',
      'DescribeThingType',
      'DeprecateThingType',
      'DeleteThingType',
      'ListCertificates',
      'CreateCertificateFromCsr',
      'RegisterCertificate',
      'RegisterCertificateWithoutCA',
      'DescribeEndpoint',
    ]) {
      expect(rateLimits[operation], operation).toBeDefined();
    }
    t.cloud.admin.configureFaults({ quotas: true, rateLimits: { DescribeEndpoint: 1 } });
    await t.iot.send(new DescribeEndpointCommand({}));
    await expectAwsError(t.iot.send(new DescribeEndpointCommand({})), 'ThrottlingException', 400);
  });
});
