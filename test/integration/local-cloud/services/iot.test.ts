import { X509Certificate } from 'node:crypto';
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingTypeCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DescribeThingCommand,
  DetachThingPrincipalCommand,
  ListThingPrincipalsCommand,
  ListThingPrincipalsV2Command,
  ListThingsCommand,
  paginateListThings,
  RegisterThingCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceCsr, SELF_SIGNED_CERTIFICATE } from '../../../support/device-certificates.ts';
import { ACCOUNT, certificateArnOf, expectAwsError, REGION, startCloud, type TestCloud, thingTemplate } from '../helpers.ts';

let t: TestCloud;
beforeEach(async () => {
  t = await startCloud();
});
afterEach(async () => {
  await t.close();
});

const register = (templateBody: string, parameters: Record<string, string> = {}) =>
  t.iot.send(new RegisterThingCommand({ templateBody, parameters }));

async function createCertificate(setAsActive = true) {
  const { certificateArn, certificateId } = await t.iot.send(new CreateKeysAndCertificateCommand({ setAsActive }));
  return { arn: certificateArn as string, id: certificateId as string };
}

async function createThing(thingName: string) {
  await register(thingTemplate(), { ThingName: thingName });
}

describe('RegisterThing', () => {
  it('creates a thing from parameters, defaults and intrinsic functions', async () => {
    const templateBody = JSON.stringify({
      Parameters: {
        ThingName: { Type: 'String' },
        Site: { Type: 'String', Default: 'plant-7' },
        Serial: { Type: 'String' },
      },
      Mappings: { Models: { 'plant-7': { model: 'x200' } } },
      Resources: {
        device: {
          Type: 'AWS::IoT::Thing',
          Properties: {
            ThingName: { 'Fn::Join': ['-', [{ Ref: 'ThingName' }, { 'Fn::Select': [1, { 'Fn::Split': [':', { Ref: 'Serial' }] }] }]] },
            AttributePayload: {
              site: { Ref: 'Site' },
              label: { 'Fn::Sub': '${Site}/${ThingName}' },
              model: { 'Fn::FindInMap': ['Models', { Ref: 'Site' }, 'model'] },
            },
            ThingTypeName: 'sensor',
            ThingGroups: ['fleet-a'],
          },
        },
      },
    });
    await t.iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor' }));
    const result = await register(templateBody, { ThingName: 'pump', Serial: 'sn:42' });
    expect(result.resourceArns).toEqual({ device: `arn:aws:iot:${REGION}:${ACCOUNT}:thing/pump-42` });
    expect(result.certificatePem).toBeUndefined();

    const thing = await t.iot.send(new DescribeThingCommand({ thingName: 'pump-42' }));
    expect(thing).toMatchObject({
      thingName: 'pump-42',
      defaultClientId: 'pump-42',
      thingArn: `arn:aws:iot:${REGION}:${ACCOUNT}:thing/pump-42`,
      thingTypeName: 'sensor',
      attributes: { site: 'plant-7', label: 'plant-7/pump', model: 'x200' },
      version: 1,
    });
    expect(thing.thingId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('signs a CSR with the local CA, creates a policy from a document and attaches both', async () => {
    const templateBody = thingTemplate({
      certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateSigningRequest: { Ref: 'CSR' }, Status: 'Active' } },
      policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: '{"Version":"2012-10-17","Statement":[]}' } },
    });
    const result = await register(templateBody, { ThingName: 'csr-device', CSR: await deviceCsr('fixture-device') });

    const certificatePem = result.certificatePem as string;
    const certificate = new X509Certificate(certificatePem);
    expect(certificate.subject).toBe('CN=fixture-device');
    const certificateId = certificate.fingerprint256.replaceAll(':', '').toLowerCase();
    expect(result.resourceArns).toEqual({
      thing: `arn:aws:iot:${REGION}:${ACCOUNT}:thing/csr-device`,
      certificate: certificateArnOf(certificateId),
      policy: expect.stringMatching(new RegExp(`^arn:aws:iot:${REGION}:${ACCOUNT}:policy/[0-9a-f]{64}$`)),
    });
    const principals = await t.iot.send(new ListThingPrincipalsV2Command({ thingName: 'csr-device' }));
    expect(principals.thingPrincipalObjects).toEqual([
      { principal: certificateArnOf(certificateId), thingPrincipalType: 'NON_EXCLUSIVE_THING' },
    ]);
    const { certificateDescription } = await t.iot.send(new DescribeCertificateCommand({ certificateId }));
    expect(certificateDescription).toMatchObject({ status: 'ACTIVE', certificatePem, ownedBy: ACCOUNT, certificateId });
  });

  it('registers a certificate PEM and reuses a certificate by id; an existing policy is referenced by name', async () => {
    await t.iot.send(new CreatePolicyCommand({ policyName: 'device-policy', policyDocument: '{"Statement":[]}' }));
    const byPem = await register(
      thingTemplate({
        certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificatePem: SELF_SIGNED_CERTIFICATE, Status: 'INACTIVE' } },
        policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'device-policy' } },
      }),
      { ThingName: 'pem-device' },
    );
    expect(Object.keys(byPem.resourceArns ?? {}).sort()).toEqual(['certificate', 'thing']);
    const certificateId = (byPem.resourceArns!['certificate'] as string).split('/')[1] as string;

    const byId = await register(
      thingTemplate({
        certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' } } },
      }),
      { ThingName: 'second-device', 'AWS::IoT::Certificate::Id': certificateId },
    );
    expect(byId.certificatePem).toBe(byPem.certificatePem);
    const { certificateDescription } = await t.iot.send(new DescribeCertificateCommand({ certificateId }));
    expect(certificateDescription?.status).toBe('INACTIVE');
  });

  it('reuses an existing thing unchanged when the template has no OverrideSettings', async () => {
    const withAttributes = (site: string, overrides?: Record<string, string>) =>
      thingTemplate(
        {},
        {
          Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: { site }, ThingGroups: [site] },
          ...(overrides && { OverrideSettings: overrides }),
        },
      );
    await register(withAttributes('a'), { ThingName: 'again' });
    const { thingId } = await t.iot.send(new DescribeThingCommand({ thingName: 'again' }));

    await register(withAttributes('b'), { ThingName: 'again' });
    expect(await t.iot.send(new DescribeThingCommand({ thingName: 'again' }))).toMatchObject({
      thingId,
      attributes: { site: 'a' },
      version: 1,
    });

    await register(withAttributes('b', { AttributePayload: 'DO_NOTHING' }), { ThingName: 'again' });
    expect(await t.iot.send(new DescribeThingCommand({ thingName: 'again' }))).toMatchObject({ attributes: { site: 'a' }, version: 1 });

    await register(withAttributes('b', { AttributePayload: 'MERGE' }), { ThingName: 'again' });
    expect(await t.iot.send(new DescribeThingCommand({ thingName: 'again' }))).toMatchObject({ attributes: { site: 'b' }, version: 2 });

    await register(
      JSON.stringify({
        Parameters: { ThingName: { Type: 'String' } },
        Resources: {
          thing: {
            Type: 'AWS::IoT::Thing',
            Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: { other: 'x' } },
            OverrideSettings: { AttributePayload: 'MERGE' },
          },
        },
      }),
      { ThingName: 'again' },
    );
    expect(await t.iot.send(new DescribeThingCommand({ thingName: 'again' }))).toMatchObject({
      attributes: { site: 'b', other: 'x' },
      version: 3,
    });

    await register(withAttributes('c', { AttributePayload: 'REPLACE' }), { ThingName: 'again' });
    expect(await t.iot.send(new DescribeThingCommand({ thingName: 'again' }))).toMatchObject({ attributes: { site: 'c' }, version: 4 });
  });

  it('fails with ResourceRegistrationFailureException when OverrideSettings say FAIL for an existing thing', async () => {
    const failing = thingTemplate({}, { OverrideSettings: { AttributePayload: 'FAIL' } });
    await register(failing, { ThingName: 'guarded' });
    await expectAwsError(register(failing, { ThingName: 'guarded' }), 'ResourceRegistrationFailureException', 400);
  });

  it('refuses the implicit attach when the certificate is attached exclusively elsewhere, changing nothing', async () => {
    const certificate = await createCertificate();
    await createThing('owner');
    await t.iot.send(
      new AttachThingPrincipalCommand({ thingName: 'owner', principal: certificate.arn, thingPrincipalType: 'EXCLUSIVE_THING' }),
    );
    const template = thingTemplate({ certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: certificate.id } } });
    await expectAwsError(register(template, { ThingName: 'intruder' }), 'ResourceRegistrationFailureException', 400);
    await expectAwsError(t.iot.send(new DescribeThingCommand({ thingName: 'intruder' })), 'ResourceNotFoundException', 404);
  });

  it.each([
    ['a body that is not JSON', 'not json', {}],
    ['an unknown resource type', JSON.stringify({ Resources: { x: { Type: 'AWS::S3::Bucket', Properties: {} } } }), {}],
    ['a parameter without value or default', thingTemplate(), {}],
    ['an invalid thing name', thingTemplate(), { ThingName: 'bad name' }],
    [
      'a bad CSR',
      thingTemplate({ c: { Type: 'AWS::IoT::Certificate', Properties: { CertificateSigningRequest: 'nope' } } }),
      { ThingName: 'x' },
    ],
    [
      'two things',
      JSON.stringify({
        Resources: {
          a: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'a' } },
          b: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'b' } },
        },
      }),
      {},
    ],
    ['MERGE on ThingTypeName', thingTemplate({}, { OverrideSettings: { ThingTypeName: 'MERGE' } }), { ThingName: 'x' }],
  ])('answers InvalidRequestException for %s', async (_, templateBody, parameters) => {
    await expectAwsError(register(templateBody, parameters), 'InvalidRequestException', 400);
  });

  it('refuses a PolicyDocument that CreatePolicy would refuse, creating nothing', async () => {
    for (const PolicyDocument of ['not json at all', '{}', { Version: '2012-10-17' }]) {
      const template = thingTemplate({ policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument } } });
      const error = await expectAwsError(register(template, { ThingName: 'unsafe' }), 'InvalidRequestException', 400);
      expect(error.message).toContain('PolicyDocument of resource policy');
    }
    await expectAwsError(t.iot.send(new DescribeThingCommand({ thingName: 'unsafe' })), 'ResourceNotFoundException', 404);
    expect(t.cloud.admin.state().policies).toEqual([]);
  });

  it('allows 3 attributes without a thing type and 50 with one, MERGE included', async () => {
    const attributes = (count: number, prefix = 'a') => Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, 'v']));
    const withAttributes = (AttributePayload: Record<string, string>, extra: Record<string, unknown> = {}) =>
      thingTemplate({}, { Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload, ...extra } });

    await register(withAttributes(attributes(3)), { ThingName: 'untyped' });
    const tooMany = await expectAwsError(register(withAttributes(attributes(4)), { ThingName: 'crowded' }), 'InvalidRequestException', 400);
    expect(tooMany.message).toBe('Thing crowded would have 4 attributes; a thing without a thing type can have at most 3');
    await t.iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor' }));
    await register(withAttributes(attributes(50), { ThingTypeName: 'sensor' }), { ThingName: 'typed' });
    await expectAwsError(
      register(withAttributes(attributes(51), { ThingTypeName: 'sensor' }), { ThingName: 'crowded' }),
      'InvalidRequestException',
      400,
    );
    await expectAwsError(t.iot.send(new DescribeThingCommand({ thingName: 'crowded' })), 'ResourceNotFoundException', 404);

    const merging = thingTemplate(
      {},
      {
        Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: { extra: 'v' } },
        OverrideSettings: { AttributePayload: 'MERGE' },
      },
    );
    await expectAwsError(register(merging, { ThingName: 'untyped' }), 'InvalidRequestException', 400);
    expect(await t.iot.send(new DescribeThingCommand({ thingName: 'untyped' }))).toMatchObject({ attributes: attributes(3), version: 1 });
    const replacing = thingTemplate(
      {},
      {
        Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: attributes(2, 'b') },
        OverrideSettings: { AttributePayload: 'REPLACE' },
      },
    );
    await register(replacing, { ThingName: 'untyped' });
    await register(merging, { ThingName: 'untyped' });
    expect(await t.iot.send(new DescribeThingCommand({ thingName: 'untyped' }))).toMatchObject({
      attributes: { ...attributes(2, 'b'), extra: 'v' },
      version: 3,
    });
  });

  it('fails for a certificate id or policy name that does not exist', async () => {
    const missingCertificate = thingTemplate({ c: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: 'a'.repeat(64) } } });
    await expectAwsError(register(missingCertificate, { ThingName: 'x' }), 'ResourceRegistrationFailureException', 400);
    const missingPolicy = thingTemplate({ p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'nope' } } });
    await expectAwsError(register(missingPolicy, { ThingName: 'x' }), 'ResourceRegistrationFailureException', 400);
  });

  it('enforces the templateBody and parameter length limits at their boundaries', async () => {
    const base = thingTemplate();
    const padded = (length: number) => `${base.slice(0, -1)}${' '.repeat(length - base.length)}}`;
    await expect(register(padded(10240), { ThingName: 'limit' })).resolves.toBeDefined();
    const tooLong = await expectAwsError(register(padded(10241), { ThingName: 'limit' }), 'InvalidRequestException', 400);
    expect(tooLong.message).toContain(
      "at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to 10240",
    );
    await expectAwsError(register(base, { ThingName: 'x', big: 'v'.repeat(4097) }), 'InvalidRequestException', 400);
  });
});

describe('certificates', () => {
  it('creates keys and a certificate, describes, updates and deletes it', async () => {
    const created = await t.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    expect(created.certificateId).toMatch(/^[0-9a-f]{64}$/);
    expect(created.certificateArn).toBe(certificateArnOf(created.certificateId as string));
    expect(created.keyPair?.PrivateKey).toContain('PRIVATE KEY');
    expect(created.keyPair?.PublicKey).toContain('BEGIN PUBLIC KEY');
    const certificateId = created.certificateId as string;

    const described = await t.iot.send(new DescribeCertificateCommand({ certificateId }));
    expect(described.certificateDescription?.status).toBe('ACTIVE');
    expect(described.certificateDescription?.creationDate).toBeInstanceOf(Date);

    await expectAwsError(t.iot.send(new DeleteCertificateCommand({ certificateId })), 'CertificateStateException', 406);
    await t.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
    await t.iot.send(new DeleteCertificateCommand({ certificateId }));
    await expectAwsError(t.iot.send(new DescribeCertificateCommand({ certificateId })), 'ResourceNotFoundException', 404);
  });

  it('creates an inactive certificate unless setAsActive', async () => {
    const { id } = await createCertificate(false);
    const { certificateDescription } = await t.iot.send(new DescribeCertificateCommand({ certificateId: id }));
    expect(certificateDescription?.status).toBe('INACTIVE');
  });

  it('refuses to delete a certificate attached to a thing, internal statuses, and leaving REVOKED', async () => {
    const { id, arn } = await createCertificate(false);
    await createThing('holder');
    await t.iot.send(new AttachThingPrincipalCommand({ thingName: 'holder', principal: arn }));
    await expectAwsError(t.iot.send(new DeleteCertificateCommand({ certificateId: id })), 'DeleteConflictException', 409);
    await expectAwsError(
      t.iot.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'PENDING_TRANSFER' })),
      'InvalidRequestException',
      400,
    );
    await t.iot.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'REVOKED' }));
    await expectAwsError(
      t.iot.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'ACTIVE' })),
      'CertificateStateException',
      406,
    );
  });

  it('validates the certificate id length at 63 and 65 characters', async () => {
    await expectAwsError(t.iot.send(new DescribeCertificateCommand({ certificateId: 'a'.repeat(63) })), 'InvalidRequestException', 400);
    await expectAwsError(t.iot.send(new DescribeCertificateCommand({ certificateId: 'a'.repeat(65) })), 'InvalidRequestException', 400);
    await expectAwsError(t.iot.send(new DescribeCertificateCommand({ certificateId: 'a'.repeat(64) })), 'ResourceNotFoundException', 404);
  });

  it('answers ResourceAlreadyExistsException and MalformedPolicyException from CreatePolicy', async () => {
    const document = '{"Statement":[]}';
    await t.iot.send(new CreatePolicyCommand({ policyName: 'p', policyDocument: document }));
    const exists = await expectAwsError(
      t.iot.send(new CreatePolicyCommand({ policyName: 'p', policyDocument: document })),
      'ResourceAlreadyExistsException',
      409,
    );
    expect(exists['resourceId']).toBe('p');
    for (const malformed of ['nope', '[]', '{}']) {
      await expectAwsError(
        t.iot.send(new CreatePolicyCommand({ policyName: 'q', policyDocument: malformed })),
        'MalformedPolicyException',
        400,
      );
    }
    // The document is checked before the name is looked up.
    await expectAwsError(t.iot.send(new CreatePolicyCommand({ policyName: 'p', policyDocument: '{}' })), 'MalformedPolicyException', 400);
  });
});

describe('thing principals', () => {
  it('attaches idempotently, lists, detaches; detaching an unknown pair is 404', async () => {
    const { arn } = await createCertificate();
    await createThing('t1');
    await t.iot.send(new AttachThingPrincipalCommand({ thingName: 't1', principal: arn }));
    await t.iot.send(new AttachThingPrincipalCommand({ thingName: 't1', principal: arn }));
    expect((await t.iot.send(new ListThingPrincipalsCommand({ thingName: 't1' }))).principals).toEqual([arn]);

    await t.iot.send(new DetachThingPrincipalCommand({ thingName: 't1', principal: arn }));
    expect((await t.iot.send(new ListThingPrincipalsCommand({ thingName: 't1' }))).principals).toEqual([]);
    await expectAwsError(
      t.iot.send(new DetachThingPrincipalCommand({ thingName: 't1', principal: arn })),
      'ResourceNotFoundException',
      404,
    );
  });

  it('enforces exclusive attachments both ways', async () => {
    const shared = await createCertificate();
    const exclusive = await createCertificate();
    await createThing('a');
    await createThing('b');
    await t.iot.send(new AttachThingPrincipalCommand({ thingName: 'a', principal: shared.arn }));
    await t.iot.send(new AttachThingPrincipalCommand({ thingName: 'b', principal: shared.arn }));
    await expectAwsError(
      t.iot.send(new AttachThingPrincipalCommand({ thingName: 'a', principal: shared.arn, thingPrincipalType: 'EXCLUSIVE_THING' })),
      'InvalidRequestException',
      400,
    );
    await t.iot.send(new AttachThingPrincipalCommand({ thingName: 'a', principal: exclusive.arn, thingPrincipalType: 'EXCLUSIVE_THING' }));
    await t.iot.send(new AttachThingPrincipalCommand({ thingName: 'a', principal: exclusive.arn, thingPrincipalType: 'EXCLUSIVE_THING' }));
    await expectAwsError(
      t.iot.send(new AttachThingPrincipalCommand({ thingName: 'b', principal: exclusive.arn })),
      'InvalidRequestException',
      400,
    );

    const exclusiveOnly = await t.iot.send(new ListThingPrincipalsV2Command({ thingName: 'a', thingPrincipalType: 'EXCLUSIVE_THING' }));
    expect(exclusiveOnly.thingPrincipalObjects).toEqual([{ principal: exclusive.arn, thingPrincipalType: 'EXCLUSIVE_THING' }]);
  });

  it('answers 404 for an unknown thing or certificate and 400 for a malformed principal', async () => {
    const { arn } = await createCertificate();
    await createThing('known');
    await expectAwsError(
      t.iot.send(new AttachThingPrincipalCommand({ thingName: 'ghost', principal: arn })),
      'ResourceNotFoundException',
      404,
    );
    await expectAwsError(
      t.iot.send(new AttachThingPrincipalCommand({ thingName: 'known', principal: certificateArnOf('b'.repeat(64)) })),
      'ResourceNotFoundException',
      404,
    );
    await expectAwsError(
      t.iot.send(new AttachThingPrincipalCommand({ thingName: 'known', principal: 'arn:aws:iot:x:1:cert/short' })),
      'InvalidRequestException',
      400,
    );
    // Another account's ARN does not name this account's certificate, even with the same id.
    const foreign = arn.replace(`:${ACCOUNT}:`, ':123456789012:');
    await expectAwsError(
      t.iot.send(new AttachThingPrincipalCommand({ thingName: 'known', principal: foreign })),
      'ResourceNotFoundException',
      404,
    );
    await t.iot.send(new AttachThingPrincipalCommand({ thingName: 'known', principal: arn }));
    await expectAwsError(
      t.iot.send(new DetachThingPrincipalCommand({ thingName: 'known', principal: foreign })),
      'ResourceNotFoundException',
      404,
    );
    expect((await t.iot.send(new ListThingPrincipalsCommand({ thingName: 'known' }))).principals).toEqual([arn]);
    await expectAwsError(t.iot.send(new ListThingPrincipalsCommand({ thingName: 'ghost' })), 'ResourceNotFoundException', 404);
  });

  it('pages principals with maxResults between 1 and 250', async () => {
    await createThing('many');
    const arns: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { arn } = await createCertificate();
      arns.push(arn);
      await t.iot.send(new AttachThingPrincipalCommand({ thingName: 'many', principal: arn }));
    }
    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await t.iot.send(new ListThingPrincipalsCommand({ thingName: 'many', maxResults: 2, nextToken }));
      expect(page.principals?.length).toBeLessThanOrEqual(2);
      seen.push(...(page.principals ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    expect(seen.sort()).toEqual(arns.sort());

    await expect(t.iot.send(new ListThingPrincipalsCommand({ thingName: 'many', maxResults: 250 }))).resolves.toBeDefined();
    await expectAwsError(t.iot.send(new ListThingPrincipalsCommand({ thingName: 'many', maxResults: 0 })), 'InvalidRequestException', 400);
    await expectAwsError(
      t.iot.send(new ListThingPrincipalsCommand({ thingName: 'many', maxResults: 251 })),
      'InvalidRequestException',
      400,
    );
    await expectAwsError(
      t.iot.send(new ListThingPrincipalsCommand({ thingName: 'many', nextToken: 'forged' })),
      'InvalidRequestException',
      400,
    );
  });
});

describe('things', () => {
  it('deletes: missing thing succeeds, attached thing refused, version conflict 409', async () => {
    await t.iot.send(new DeleteThingCommand({ thingName: 'never-existed' }));
    const { arn } = await createCertificate();
    await createThing('busy');
    await t.iot.send(new AttachThingPrincipalCommand({ thingName: 'busy', principal: arn }));
    const attached = await expectAwsError(t.iot.send(new DeleteThingCommand({ thingName: 'busy' })), 'InvalidRequestException', 400);
    expect(attached.message).toBe('Cannot delete. Thing busy is still attached to one or more principals');
    await t.iot.send(new DetachThingPrincipalCommand({ thingName: 'busy', principal: arn }));
    await expectAwsError(t.iot.send(new DeleteThingCommand({ thingName: 'busy', expectedVersion: 7 })), 'VersionConflictException', 409);
    await t.iot.send(new DeleteThingCommand({ thingName: 'busy', expectedVersion: 1 }));
    await expectAwsError(t.iot.send(new DescribeThingCommand({ thingName: 'busy' })), 'ResourceNotFoundException', 404);
  });

  it('validates thing names at 128 and 129 characters', async () => {
    await expectAwsError(t.iot.send(new DescribeThingCommand({ thingName: 'x'.repeat(128) })), 'ResourceNotFoundException', 404);
    const error = await expectAwsError(
      t.iot.send(new DescribeThingCommand({ thingName: 'x'.repeat(129) })),
      'InvalidRequestException',
      400,
    );
    expect(error.message).toContain('Member must have length less than or equal to 128');
  });

  it('lists things across pages and filters by attribute', async () => {
    for (let i = 0; i < 7; i++) {
      await register(thingTemplate({}, { Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: { parity: String(i % 2) } } }), {
        ThingName: `thing-${i}`,
      });
    }
    const names: string[] = [];
    for await (const page of paginateListThings({ client: t.iot, pageSize: 3 }, {})) {
      names.push(...(page.things ?? []).map((thing) => thing.thingName as string));
    }
    expect(names).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `thing-${i}`));
    const odd = await t.iot.send(new ListThingsCommand({ attributeName: 'parity', attributeValue: '1' }));
    expect(odd.things?.map((thing) => thing.thingName)).toEqual(['thing-1', 'thing-3', 'thing-5']);
  });
});

describe('asynchronous detach', () => {
  it('keeps a detached principal attached for the propagation delay', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    await t.close();
    t = await startCloud({ clock: { now: () => now }, faults: { detachPropagationMs: 2000 } });
    const { arn } = await createCertificate();
    await createThing('slow');
    await t.iot.send(new AttachThingPrincipalCommand({ thingName: 'slow', principal: arn }));
    await t.iot.send(new DetachThingPrincipalCommand({ thingName: 'slow', principal: arn }));

    now += 1999;
    await expectAwsError(t.iot.send(new DeleteThingCommand({ thingName: 'slow' })), 'InvalidRequestException', 400);
    expect((await t.iot.send(new ListThingPrincipalsCommand({ thingName: 'slow' }))).principals).toEqual([arn]);
    now += 1;
    await t.iot.send(new DeleteThingCommand({ thingName: 'slow' }));
  });
});
