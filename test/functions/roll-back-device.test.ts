import { beforeAll, describe, expect, it } from 'vitest';
import type { DeviceOutcome, DeviceTaskInput } from '../../functions/domain/records.ts';
import { useServiceCloud } from '../support/service-cloud.ts';
import { sensorTaskInput } from './task-fixtures.ts';

/**
 * A rollback that finds no thing: RegisterThing created none, or the thing this execution registered was
 * deleted since by someone else (a deprovisioning request detaches a certificate but keeps it).
 */
describe('rolling back a device whose thing is not there', () => {
  const cloud = useServiceCloud();
  let rollBackDevice: (input: DeviceTaskInput) => Promise<DeviceOutcome>;
  beforeAll(async () => {
    ({ rollBackDevice } = await import('../../functions/roll-back-device.ts'));
  });

  const failedAtAttach = { Error: 'InvalidRequestException', Cause: 'refused' };
  const calls = (operation: string) => cloud.cloud.admin.metrics()[operation]?.calls ?? 0;

  it('claims nothing when RegisterThing created no thing, and deletes none', async () => {
    const deletesBefore = calls('DeleteThing');
    const outcome = await rollBackDevice({
      ...sensorTaskInput,
      device: { thingName: 'sensor-1', coreDeviceThingName: 'core-a', status: 'PENDING', prior: { thingExisted: false, principalAttached: false } },
      failure: failedAtAttach,
    });

    expect(outcome.rollback).toEqual({ detachedPrincipals: [], thingDeleted: false, certificateDeleted: false });
    expect(calls('DeleteThing')).toBe(deletesBefore);
  });

  it('still deletes the certificate it issued when the thing was deleted by another request', async () => {
    const certificateArn = await cloud.createCertificate();
    const outcome = await rollBackDevice({
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
    });

    expect(outcome.rollback).toMatchObject({ thingDeleted: true, certificateDeleted: true });
    expect(cloud.cloud.admin.state().certificates).toEqual([]);
  });
});
