import {
  BatchAssociateClientDeviceWithCoreDeviceCommand,
  BatchDisassociateClientDeviceFromCoreDeviceCommand,
} from '@aws-sdk/client-greengrassv2';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DetachThingPrincipalCommand,
  IoTServiceException,
  ListThingPrincipalsCommand,
  ListThingPrincipalsV2Command,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useServiceCloud } from '../../../support/service-cloud.ts';

/**
 * The IoT and Greengrass adapters that rollback and deprovisioning remove things through, called directly
 * against the local cloud with the handlers' own clients: what each removes, what it leaves, which refusals
 * count as done and which are thrown for the state machine's Retry.
 */
// The adapters' clients are built, with their endpoint, when their module is first imported: after the cloud starts.
// They are loaded afresh for each test: Stryker credits a module's top-level code (the waits between delete
// attempts) to the tests that load it, so that `npm run mutation` runs a mutant of it against these tests.
const cloud = useServiceCloud();
let iotOperations: typeof import('../../../../functions/aws/iot-operations.ts');
let greengrassOperations: typeof import('../../../../functions/aws/greengrass-operations.ts');
let handlerClients: {
  iot: typeof import('../../../../functions/aws/clients/iot.ts').iot;
  greengrass: typeof import('../../../../functions/aws/clients/greengrass.ts').greengrass;
};
beforeEach(async () => {
  vi.resetModules();
  iotOperations = await import('../../../../functions/aws/iot-operations.ts');
  greengrassOperations = await import('../../../../functions/aws/greengrass-operations.ts');
  handlerClients = {
    iot: (await import('../../../../functions/aws/clients/iot.ts')).iot,
    greengrass: (await import('../../../../functions/aws/clients/greengrass.ts')).greengrass,
  };
});
afterEach(() => {
  handlerClients.iot.destroy();
  handlerClients.greengrass.destroy();
});

const calls = (operation: string) => cloud.cloud.admin.metrics()[operation]?.calls ?? 0;
const certificateId = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);
const certificate = (arn: string) =>
  cloud.cloud.admin.state().certificates.find((candidate) => candidate.certificateId === certificateId(arn));
const COGNITO_IDENTITY = 'us-east-1:0123abcd-0123-4567-89ab-0123456789ab';

async function thingWith(
  thingName: string,
  attachments: Array<[principal: string, type: 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING']>,
): Promise<void> {
  await cloud.iot.send(new CreateThingCommand({ thingName }));
  for (const [principal, thingPrincipalType] of attachments)
    await cloud.iot.send(new AttachThingPrincipalCommand({ thingName, principal, thingPrincipalType }));
}

async function principalTypes(thingName: string): Promise<Record<string, string | undefined>> {
  const { thingPrincipalObjects = [] } = await cloud.iot.send(new ListThingPrincipalsV2Command({ thingName }));
  return Object.fromEntries(thingPrincipalObjects.map(({ principal, thingPrincipalType }) => [principal, thingPrincipalType]));
}

/** A refusal as the SDK raises it. */
const refusal = (name: string, httpStatusCode: number) =>
  new IoTServiceException({ name, $fault: 'client', $metadata: { httpStatusCode }, message: `${name} for the test` });

describe("listing a thing's principals", () => {
  it('answers each principal attached, [] for a thing with none, and undefined for a thing that does not exist', async () => {
    const [first, second] = [await cloud.createCertificate(), await cloud.createCertificate()];
    await thingWith('sensor-1', [
      [first, 'EXCLUSIVE_THING'],
      [second, 'NON_EXCLUSIVE_THING'],
    ]);
    await thingWith('sensor-2', []);

    expect((await iotOperations.listThingPrincipals('sensor-1'))?.sort()).toEqual([first, second].sort());
    expect(await iotOperations.listThingPrincipals('sensor-2')).toEqual([]);
    expect(await iotOperations.listThingPrincipals('sensor-3')).toBeUndefined();
  });

  it('answers each principal with the type of its attachment, and undefined for a thing that does not exist', async () => {
    const [exclusive, shared] = [await cloud.createCertificate(), await cloud.createCertificate()];
    await thingWith('sensor-1', [
      [exclusive, 'EXCLUSIVE_THING'],
      [shared, 'NON_EXCLUSIVE_THING'],
    ]);
    await thingWith('sensor-2', []);

    expect(await iotOperations.listThingPrincipalTypes('sensor-1')).toEqual(
      new Map([
        [exclusive, 'EXCLUSIVE_THING'],
        [shared, 'NON_EXCLUSIVE_THING'],
      ]),
    );
    expect(await iotOperations.listThingPrincipalTypes('sensor-2')).toEqual(new Map());
    expect(await iotOperations.listThingPrincipalTypes('sensor-3')).toBeUndefined();
  });

  it('throws any other failure of a listing, for the Retry, rather than answering a thing without principals', async () => {
    await thingWith('sensor-1', []);
    cloud.cloud.admin.configureFaults({ throttle: { ListThingPrincipals: 1, ListThingPrincipalsV2: 1 } });

    await expect(iotOperations.listThingPrincipals('sensor-1')).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(iotOperations.listThingPrincipalTypes('sensor-1')).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});

describe('giving an attachment that existed before its type back', () => {
  it('converts an attachment this execution made exclusive back to non-exclusive', async () => {
    const principal = await cloud.createCertificate();
    await thingWith('sensor-1', [[principal, 'EXCLUSIVE_THING']]);

    await iotOperations.restoreAttachmentType('sensor-1', principal, 'NON_EXCLUSIVE_THING');

    expect(await principalTypes('sensor-1')).toEqual({ [principal]: 'NON_EXCLUSIVE_THING' });
  });

  it('makes no call for an attachment that already has the type', async () => {
    const principal = await cloud.createCertificate();
    await thingWith('sensor-1', [[principal, 'NON_EXCLUSIVE_THING']]);
    const attachesBefore = calls('AttachThingPrincipal');

    await iotOperations.restoreAttachmentType('sensor-1', principal, 'NON_EXCLUSIVE_THING');

    expect(calls('AttachThingPrincipal')).toBe(attachesBefore);
    expect(await principalTypes('sensor-1')).toEqual({ [principal]: 'NON_EXCLUSIVE_THING' });
  });

  it('does not attach again a principal someone detached since, nor touch a thing that is gone', async () => {
    const principal = await cloud.createCertificate();
    await thingWith('sensor-1', []);
    const attachesBefore = calls('AttachThingPrincipal');

    await iotOperations.restoreAttachmentType('sensor-1', principal, 'NON_EXCLUSIVE_THING');
    await iotOperations.restoreAttachmentType('sensor-2', principal, 'NON_EXCLUSIVE_THING');

    expect(calls('AttachThingPrincipal')).toBe(attachesBefore);
    expect(await principalTypes('sensor-1')).toEqual({});
  });

  it('throws a failed conversion, for the Retry', async () => {
    const principal = await cloud.createCertificate();
    await thingWith('sensor-1', [[principal, 'EXCLUSIVE_THING']]);
    cloud.cloud.admin.configureFaults({ throttle: { AttachThingPrincipal: 1 } });

    await expect(iotOperations.restoreAttachmentType('sensor-1', principal, 'NON_EXCLUSIVE_THING')).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
  });
});

describe('detaching', () => {
  it('answers true for a principal it took off, and false for one that was not attached or a thing that is gone', async () => {
    const principal = await cloud.createCertificate();
    await thingWith('sensor-1', [[principal, 'EXCLUSIVE_THING']]);

    expect(await iotOperations.detachPrincipal('sensor-1', principal)).toBe(true);
    expect(await principalTypes('sensor-1')).toEqual({});
    expect(await iotOperations.detachPrincipal('sensor-1', principal)).toBe(false);
    expect(await iotOperations.detachPrincipal('sensor-2', principal)).toBe(false);
  });

  it('throws a failed detach, for the Retry', async () => {
    const principal = await cloud.createCertificate();
    await thingWith('sensor-1', [[principal, 'EXCLUSIVE_THING']]);
    cloud.cloud.admin.configureFaults({ throttle: { DetachThingPrincipal: 1 } });

    await expect(iotOperations.detachPrincipal('sensor-1', principal)).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  it('detaches every principal of a thing, certificates and others, and keeps the certificates', async () => {
    const principal = await cloud.createCertificate();
    await thingWith('sensor-1', [
      [principal, 'NON_EXCLUSIVE_THING'],
      [COGNITO_IDENTITY, 'NON_EXCLUSIVE_THING'],
    ]);

    await iotOperations.detachAllPrincipals('sensor-1');
    await iotOperations.detachAllPrincipals('sensor-2');

    expect(await principalTypes('sensor-1')).toEqual({});
    expect(certificate(principal)).toMatchObject({ status: 'ACTIVE' });
  });
});

describe('deactivating and deleting a certificate', () => {
  it('makes an active certificate INACTIVE, and takes one that is gone as done', async () => {
    const principal = await cloud.createCertificate();

    await iotOperations.deactivateCertificate(principal);
    await iotOperations.deactivateCertificate(`arn:aws:iot:us-east-1:000000000000:cert/${'f'.repeat(64)}`);

    expect(certificate(principal)).toMatchObject({ status: 'INACTIVE' });
  });

  it('takes a revoked certificate, which IoT refuses to change, as deactivated', async () => {
    const principal = await cloud.createCertificate();
    await cloud.iot.send(new UpdateCertificateCommand({ certificateId: certificateId(principal), newStatus: 'REVOKED' }));

    await iotOperations.deactivateCertificate(principal);

    expect(certificate(principal)).toMatchObject({ status: 'REVOKED' });
  });

  it('throws a failed deactivation, for the Retry', async () => {
    const principal = await cloud.createCertificate();
    cloud.cloud.admin.configureFaults({ throttle: { UpdateCertificate: 1 } });

    await expect(iotOperations.deactivateCertificate(principal)).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  it('deletes an inactive, detached certificate with its policies still attached, and takes one that is gone as done', async () => {
    const principal = await cloud.createCertificate();
    await cloud.iot.send(
      new CreatePolicyCommand({ policyName: 'sensor-policy', policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }) }),
    );
    await cloud.iot.send(new AttachPolicyCommand({ policyName: 'sensor-policy', target: principal }));
    await iotOperations.deactivateCertificate(principal);

    await iotOperations.deleteCertificate(principal);
    await iotOperations.deleteCertificate(principal);

    expect(certificate(principal)).toBeUndefined();
  });

  it('throws a certificate still active or attached as CertificateStillAttached, which the state machine retries, and keeps it', async () => {
    const active = await cloud.createCertificate();
    const attached = await cloud.createCertificate();
    await thingWith('sensor-1', [[attached, 'EXCLUSIVE_THING']]);
    await iotOperations.deactivateCertificate(attached);

    await expect(iotOperations.deleteCertificate(active)).rejects.toMatchObject({
      name: 'CertificateStillAttached',
      message: `certificate ${certificateId(active)} cannot be removed yet: Certificate must be deactivated (not ACTIVE) before deletion.`,
    });
    await expect(iotOperations.deleteCertificate(attached)).rejects.toMatchObject({
      name: 'CertificateStillAttached',
      message: `certificate ${certificateId(attached)} cannot be removed yet: Things must be detached before deletion.`,
    });
    expect(certificate(active)).toBeDefined();
    expect(certificate(attached)).toBeDefined();
  });

  it('throws any other failed delete under its own name', async () => {
    const principal = await cloud.createCertificate();
    await iotOperations.deactivateCertificate(principal);
    cloud.cloud.admin.configureFaults({ throttle: { DeleteCertificate: 1 } });

    await expect(iotOperations.deleteCertificate(principal)).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});

describe('retiring the certificates of lost CSR registrations', () => {
  async function thingWithStrays(): Promise<{ keep: string; strays: string[] }> {
    const [keep, ...strays] = [await cloud.createCertificate(), await cloud.createCertificate(), await cloud.createCertificate()];
    await thingWith('sensor-1', [
      [keep, 'NON_EXCLUSIVE_THING'],
      ...strays.map((stray) => [stray, 'NON_EXCLUSIVE_THING'] as [string, 'NON_EXCLUSIVE_THING']),
      [COGNITO_IDENTITY, 'NON_EXCLUSIVE_THING'],
    ]);
    return { keep, strays: strays as string[] };
  }

  it('detaches and deletes every certificate on the thing but the one kept, and leaves principals that are not certificates', async () => {
    const { keep, strays } = await thingWithStrays();

    expect((await iotOperations.retireCertificatesOfLostAttempts('sensor-1', keep)).sort()).toEqual([...strays].sort());

    expect(Object.keys(await principalTypes('sensor-1')).sort()).toEqual([keep, COGNITO_IDENTITY].sort());
    expect(cloud.cloud.admin.state().certificates.map((record) => record.certificateId)).toEqual([certificateId(keep)]);
    expect(certificate(keep)).toMatchObject({ status: 'ACTIVE' });
  });

  it('retires nothing on a thing that is gone', async () => {
    const keep = await cloud.createCertificate();

    expect(await iotOperations.retireCertificatesOfLostAttempts('sensor-1', keep)).toEqual([]);
    expect(certificate(keep)).toMatchObject({ status: 'ACTIVE' });
  });

  it('waits out a detachment still propagating before deleting', async () => {
    const { keep, strays } = await thingWithStrays();
    // Shorter than the waits between delete attempts add up to, longer than the first.
    cloud.cloud.admin.configureFaults({ detachPropagationMs: 400 });

    await iotOperations.retireCertificatesOfLostAttempts('sensor-1', keep);

    expect(strays.map(certificate)).toEqual([undefined, undefined]);
  });

  it('stops at a certificate whose detachment outlasts every wait, leaving it INACTIVE, and throws for the Retry', async () => {
    const { keep, strays } = await thingWithStrays();
    cloud.cloud.admin.configureFaults({ detachPropagationMs: 60_000 });

    await expect(iotOperations.retireCertificatesOfLostAttempts('sensor-1', keep)).rejects.toMatchObject({
      name: 'CertificateStillAttached',
    });
    // The first stray is deactivated and detached, the other not reached: nothing deleted.
    expect(strays.map((stray) => certificate(stray)?.status).sort()).toEqual(['ACTIVE', 'INACTIVE']);
  });
});

describe('associating client devices with a core device', () => {
  it('associates the devices and answers no error entry', async () => {
    await thingWith('sensor-1', []);

    expect(await greengrassOperations.associateWithCore('core-a', ['sensor-1'])).toEqual([]);
    expect((cloud.cloud.admin.state().associations['core-a'] ?? []).map((association) => association.thingName)).toEqual(['sensor-1']);
  });

  it('answers the entries refused', async () => {
    cloud.cloud.admin.configureFaults({ entryPermanent: { BatchAssociateClientDeviceWithCoreDevice: 1 } });

    expect(await greengrassOperations.associateWithCore('core-a', ['sensor-1'])).toEqual([
      expect.objectContaining({ thingName: 'sensor-1', code: 'InvalidRequestException' }),
    ]);
  });
});

describe('disassociating client devices from a core device', () => {
  it('removes the associations and answers no error entry', async () => {
    await thingWith('sensor-1', []);
    await cloud.greengrass.send(
      new BatchAssociateClientDeviceWithCoreDeviceCommand({ coreDeviceThingName: 'core-a', entries: [{ thingName: 'sensor-1' }] }),
    );
    const associated = () => (cloud.cloud.admin.state().associations['core-a'] ?? []).map((association) => association.thingName);
    expect(associated()).toEqual(['sensor-1']);

    expect(await greengrassOperations.disassociateFromCore('core-a', ['sensor-1'])).toEqual([]);
    expect(associated()).toEqual([]);
  });

  it('answers the entries refused', async () => {
    cloud.cloud.admin.configureFaults({ entryPermanent: { BatchDisassociateClientDeviceFromCoreDevice: 1 } });

    expect(await greengrassOperations.disassociateFromCore('core-a', ['sensor-1'])).toEqual([
      expect.objectContaining({ thingName: 'sensor-1', code: 'InvalidRequestException' }),
    ]);
  });

  it('takes a core device that does not exist as holding no association, and throws any other failure', async () => {
    expect(await greengrassOperations.disassociateFromCore('core-z', ['sensor-1'])).toEqual([]);

    cloud.cloud.admin.configureFaults({ throttle: { BatchDisassociateClientDeviceFromCoreDevice: 1 } });
    await expect(greengrassOperations.disassociateFromCore('core-a', ['sensor-1'])).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});

/**
 * Answers the local cloud never gives but AWS may: fields its model leaves optional left out, and a refusal of a
 * conversion for a principal deleted between the listing and the attach. These mock the handlers' own clients.
 */
describe('answers of AWS that the local cloud does not give', () => {
  it('takes a listing page without principals as none, an attachment without a type as NON_EXCLUSIVE_THING, and one without a principal as nothing', async () => {
    const iot = mockClient(handlerClients.iot);
    try {
      iot.on(ListThingPrincipalsCommand).resolves({});
      iot.on(ListThingPrincipalsV2Command).resolves({ thingPrincipalObjects: [{ principal: COGNITO_IDENTITY }] });
      expect(await iotOperations.listThingPrincipals('sensor-1')).toEqual([]);
      expect(await iotOperations.listThingPrincipalTypes('sensor-1')).toEqual(new Map([[COGNITO_IDENTITY, 'NON_EXCLUSIVE_THING']]));
      iot.on(ListThingPrincipalsV2Command).resolves({});
      expect(await iotOperations.listThingPrincipalTypes('sensor-1')).toEqual(new Map());
      iot
        .on(ListThingPrincipalsV2Command)
        .resolves({ thingPrincipalObjects: [{ principal: undefined, thingPrincipalType: 'EXCLUSIVE_THING' }] });
      expect(await iotOperations.listThingPrincipalTypes('sensor-1')).toEqual(new Map());
    } finally {
      iot.restore();
    }
  });

  it('takes a principal gone before its conversion as nothing to convert', async () => {
    const iot = mockClient(handlerClients.iot);
    try {
      iot
        .on(ListThingPrincipalsV2Command)
        .resolves({ thingPrincipalObjects: [{ principal: COGNITO_IDENTITY, thingPrincipalType: 'EXCLUSIVE_THING' }] });
      iot.on(AttachThingPrincipalCommand).rejects(refusal('ResourceNotFoundException', 404));
      await expect(iotOperations.restoreAttachmentType('sensor-1', COGNITO_IDENTITY, 'NON_EXCLUSIVE_THING')).resolves.toBeUndefined();
    } finally {
      iot.restore();
    }
  });

  it('does not wait and try again a delete of a detached certificate that IoT refuses for good', async () => {
    const stray = `arn:aws:iot:us-east-1:000000000000:cert/${'e'.repeat(64)}`;
    const iot = mockClient(handlerClients.iot);
    try {
      iot.on(ListThingPrincipalsCommand).resolves({ principals: [stray] });
      iot.on(UpdateCertificateCommand).resolves({});
      iot.on(DetachThingPrincipalCommand).resolves({});
      iot.on(DeleteCertificateCommand).rejects(refusal('UnauthorizedException', 401));
      await expect(iotOperations.retireCertificatesOfLostAttempts('sensor-1', 'kept')).rejects.toMatchObject({
        name: 'UnauthorizedException',
      });
      expect(iot.commandCalls(DeleteCertificateCommand)).toHaveLength(1);
    } finally {
      iot.restore();
    }
  });

  it('takes an association or a disassociation answered without error entries as none refused', async () => {
    const greengrass = mockClient(handlerClients.greengrass);
    try {
      greengrass.on(BatchAssociateClientDeviceWithCoreDeviceCommand).resolves({});
      greengrass.on(BatchDisassociateClientDeviceFromCoreDeviceCommand).resolves({});
      expect(await greengrassOperations.associateWithCore('core-a', ['sensor-1'])).toEqual([]);
      expect(await greengrassOperations.disassociateFromCore('core-a', ['sensor-1'])).toEqual([]);
    } finally {
      greengrass.restore();
    }
  });
});
