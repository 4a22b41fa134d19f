import { AttachThingPrincipalCommand, RegisterThingCommand } from '@aws-sdk/client-iot';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../../functions/domain/records.ts';
import { shippedTemplates } from '../../../templates/index.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';
import { sensorTaskInput, untilRolledBack } from '../../support/task-fixtures.ts';

/**
 * A rollback that finds no thing: RegisterThing created none, or the thing this execution registered was
 * deleted since by someone else (a deprovisioning request detaches a certificate but keeps it).
 */
// One cloud for the file: the function's clients are built, with their endpoint, when its module is first imported.
const cloud = useServiceCloud();
let rollBackDevice: typeof import('../../../functions/roll-back-device.ts').rollBackDevice;
beforeAll(async () => {
  ({ rollBackDevice } = await import('../../../functions/roll-back-device.ts'));
});

describe('rolling back a device whose thing is not there', () => {
  const failedAtAttach = { Error: 'InvalidRequestException', Cause: 'refused' };
  const calls = (operation: string) => cloud.cloud.admin.metrics()[operation]?.calls ?? 0;

  it('claims nothing when RegisterThing created no thing, and deletes none', async () => {
    const deletesBefore = calls('DeleteThing');
    const { outcome, pending } = await rollBackDevice({
      ...sensorTaskInput,
      device: {
        thingName: 'sensor-1',
        coreDeviceThingName: 'core-a',
        status: 'PENDING',
        prior: { thingExisted: false, principalAttached: false },
      },
      failure: failedAtAttach,
    });

    expect(outcome.rollback).toEqual({ detachedPrincipals: [], thingDeleted: false, certificateDeleted: false });
    expect(pending).toEqual([]);
    expect(calls('DeleteThing')).toBe(deletesBefore);
  });

  it('still deletes the certificate it issued when the thing was deleted by another request, and claims no delete of the thing', async () => {
    const certificateArn = await cloud.createCertificate();
    const { outcome } = (await untilRolledBack(rollBackDevice, {
      ...sensorTaskInput,
      templateIssuesCertificate: true,
      device: {
        thingName: 'sensor-1',
        coreDeviceThingName: 'core-a',
        status: 'REGISTERED',
        prior: { thingExisted: false, principalAttached: false },
        thingArn: 'arn:aws:iot:us-east-1:000000000000:thing/sensor-1',
        certificateArn,
        certificateCreated: true,
      },
      failure: failedAtAttach,
    })) as Awaited<ReturnType<typeof rollBackDevice>>;

    // The thing was not this rollback's to delete: it claims the certificate only.
    expect(outcome.rollback).toMatchObject({ thingDeleted: false, certificateDeleted: true });
    expect(cloud.cloud.admin.state().certificates).toEqual([]);
  });
});

/**
 * The calls of a rollback are made one after another; those still to make stay in the execution's state, so that
 * a failed call is retried on its own.
 */
describe('rolling back a device one call at a time', () => {
  const calls = (operation: string) => cloud.cloud.admin.metrics()[operation]?.calls ?? 0;
  const failedAtAssociate = { Error: 'InvalidRequestException', Cause: 'refused' };

  async function registeredDevice(): Promise<DeviceRecord> {
    const certificateArn = await cloud.createCertificate();
    const templateBody = JSON.stringify(shippedTemplates['thing-with-attributes']);
    await cloud.iot.send(new RegisterThingCommand({ templateBody, parameters: { ThingName: 'sensor-1' } }));
    await cloud.iot.send(
      new AttachThingPrincipalCommand({ thingName: 'sensor-1', principal: certificateArn, thingPrincipalType: 'EXCLUSIVE_THING' }),
    );
    return {
      thingName: 'sensor-1',
      coreDeviceThingName: 'core-a',
      status: 'REGISTERED',
      principal: certificateArn,
      prior: { thingExisted: false, principalAttached: false },
      thingArn: 'arn:aws:iot:us-east-1:000000000000:thing/sensor-1',
      certificateArn,
    };
  }

  it('a call that fails transiently after others succeeded ends the invocation with it still to make; the next invocation makes only it', async () => {
    const device = await registeredDevice();
    cloud.cloud.admin.configureFaults({ throttle: { DeleteThing: 1 } });
    const input = {
      ...sensorTaskInput,
      spec: { ...sensorTaskInput.spec, principal: device.principal! },
      device,
      failure: failedAtAssociate,
    };

    // The listing ends its invocation, so that the calls it adds are in the state before any is made.
    const listed = await rollBackDevice(input);
    expect(listed.pending).toEqual([{ call: 'detach', principal: device.certificateArn }, { call: 'deleteThing' }]);
    const interrupted = await rollBackDevice({ ...input, rollback: listed });
    expect(interrupted.pending).toEqual([{ call: 'deleteThing' }]);
    expect(interrupted.outcome.rollback).toEqual({
      detachedPrincipals: [device.certificateArn],
      thingDeleted: false,
      certificateDeleted: false,
    });

    cloud.cloud.admin.configureFaults({ throttle: {} });
    const [listsBefore, detachesBefore] = [calls('ListThingPrincipals'), calls('DetachThingPrincipal')];
    const finished = await rollBackDevice({ ...input, rollback: interrupted });
    expect(finished).toEqual({
      outcome: expect.objectContaining({
        rollback: { detachedPrincipals: [device.certificateArn], thingDeleted: true, certificateDeleted: false },
      }),
      pending: [],
    });
    expect([calls('ListThingPrincipals'), calls('DetachThingPrincipal')]).toEqual([listsBefore, detachesBefore]);
    expect(cloud.clientThings()).toEqual([]);
  });

  it('a transient failure of the first call of an invocation is thrown, for the Retry of the state machine', async () => {
    const device = await registeredDevice();
    cloud.cloud.admin.configureFaults({ throttle: { ListThingPrincipals: 1 } });

    await expect(rollBackDevice({ ...sensorTaskInput, device, failure: failedAtAssociate })).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
  });

  it('a rollback given up on reports what the calls before the failing one undid', async () => {
    const device = await registeredDevice();
    cloud.cloud.admin.configureFaults({ throttle: { DeleteThing: 1 } });
    const listed = await rollBackDevice({ ...sensorTaskInput, device, failure: failedAtAssociate });
    const interrupted = await rollBackDevice({ ...sensorTaskInput, device, failure: failedAtAssociate, rollback: listed });

    const abandoned = await rollBackDevice({
      ...sensorTaskInput,
      device,
      failure: failedAtAssociate,
      rollback: interrupted,
      rollbackFailure: { Error: 'ThrottlingException' },
    });
    expect(abandoned.pending).toEqual([]);
    expect(abandoned.outcome).toMatchObject({
      status: 'FAILED',
      error: { step: 'associate', code: 'InvalidRequestException' },
      rollback: {
        detachedPrincipals: [device.certificateArn],
        thingDeleted: false,
        incomplete: { step: 'rollback', code: 'ThrottlingException' },
      },
    });
  });

  it('without rollbackOnFailure records the failure and removes nothing', async () => {
    const device = await registeredDevice();
    const callsBefore = ['ListThingPrincipals', 'DetachThingPrincipal', 'DeleteThing'].map(calls);

    const { outcome, pending } = await rollBackDevice({ ...sensorTaskInput, rollbackOnFailure: false, device, failure: failedAtAssociate });

    expect(outcome).toMatchObject({ status: 'FAILED', error: { step: 'associate', code: 'InvalidRequestException' } });
    expect(outcome).not.toHaveProperty('rollback');
    expect(pending).toEqual([]);
    expect(['ListThingPrincipals', 'DetachThingPrincipal', 'DeleteThing'].map(calls)).toEqual(callsBefore);
    expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual(['sensor-1']);
  });

  it("a disassociation the core device refuses stops the rollback before the thing is deleted, under the entry's code", async () => {
    const device = await registeredDevice();
    const failedAssociation = { ...device, error: { step: 'associate' as const, code: 'InternalServerException', message: 'lost' } };
    cloud.cloud.admin.configureFaults({ entryPermanent: { BatchDisassociateClientDeviceFromCoreDevice: 1 } });

    const { outcome, pending } = await untilRolledBack(rollBackDevice, {
      ...sensorTaskInput,
      device: failedAssociation,
      failure: failedAtAssociate,
    });

    expect(outcome.rollback).toMatchObject({ thingDeleted: false, incomplete: { step: 'rollback', code: 'InvalidRequestException' } });
    expect(pending).toEqual([]);
    expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual(['sensor-1']);
  });
});
