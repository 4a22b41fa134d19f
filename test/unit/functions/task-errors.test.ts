import { BatchDisassociateClientDeviceFromCoreDeviceCommand, GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import {
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeThingCommand,
  DetachThingPrincipalCommand,
  IoTClient,
  IoTServiceException,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceRecord, DeviceTaskInput } from '../../../functions/domain/records.ts';
import type { DeviceRemovalInput } from '../../../functions/tasks/removal-step.ts';
import { lambdaContext, sensorTaskInput, untilRolledBack } from '../../support/task-fixtures.ts';

/**
 * How a task reports a failed call to the state machine. A reset socket or a bare 502 cannot be
 * produced by the local cloud's HTTP server on demand, so these few cases mock the SDK client.
 */
describe('task error reporting', () => {
  const iot = mockClient(IoTClient);
  const greengrass = mockClient(GreengrassV2Client);
  let inspect: (input: DeviceTaskInput) => Promise<unknown>;
  let rollBack: (input: DeviceTaskInput) => Promise<unknown>;
  let deleteThing: (input: DeviceRemovalInput) => Promise<unknown>;

  beforeAll(async () => {
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    const context = lambdaContext(30_000);
    const inspectTask = await import('../../../functions/inspect-thing.ts');
    const rollbackTask = await import('../../../functions/roll-back-device.ts');
    const deleteTask = await import('../../../functions/delete-thing.ts');
    inspect = (input) => inspectTask.handler(input, context);
    rollBack = (input) => rollbackTask.handler(input, context);
    deleteThing = (input) => deleteTask.handler(input, context);
  });
  afterEach(() => {
    iot.reset();
    greengrass.reset();
  });

  const input = sensorTaskInput;

  it('turns a reset socket into TransientServiceError, which the state machine retries', async () => {
    iot.on(DescribeThingCommand).rejects(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    await expect(inspect(input)).rejects.toMatchObject({ name: 'TransientServiceError', message: 'Error: read ECONNRESET' });
  });

  it('turns a 5xx without an error code into TransientServiceError', async () => {
    const bare = new IoTServiceException({ name: '502', $fault: 'server', $metadata: { httpStatusCode: 502 }, message: 'Bad Gateway' });
    iot.on(DescribeThingCommand).rejects(bare);
    await expect(inspect(input)).rejects.toMatchObject({ name: 'TransientServiceError' });
  });

  it("ends a call still running near the function's deadline as TransientServiceError, which the state machine retries", async () => {
    iot.on(DescribeThingCommand).callsFake(() => new Promise(() => {}));
    const inspectTask = await import('../../../functions/inspect-thing.ts');
    await expect(inspectTask.handler(input, lambdaContext(600))).rejects.toMatchObject({ name: 'TransientServiceError' });
  });

  it('lets a named AWS error through unchanged, so Retry and Catch match its name', async () => {
    const invalid = new IoTServiceException({
      name: 'InvalidRequestException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: 'bad',
    });
    iot.on(DescribeThingCommand).rejects(invalid);
    await expect(inspect(input)).rejects.toBe(invalid);
  });

  // Rollback and removal record most errors as the device's outcome: a transient one must still reach the Retry.
  const resetSocket = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
  const registered: DeviceRecord = {
    thingName: 'sensor-1',
    coreDeviceThingName: 'core-a',
    status: 'REGISTERED',
    prior: { thingExisted: false, principalAttached: false },
    thingArn: 'arn:aws:iot:us-east-1:123456789012:thing/sensor-1',
  };

  it('lets a reset socket during a rollback go to the Retry instead of ending the rollback', async () => {
    iot.on(ListThingPrincipalsCommand).rejects(resetSocket());
    const failedAtAssociation = { ...input, device: registered, failure: { Error: 'ResourceNotFoundException', Cause: 'no core' } };
    await expect(rollBack(failedAtAssociation)).rejects.toMatchObject({ name: 'TransientServiceError' });
  });

  it('records a named rollback error in the outcome, which the state machine does not retry', async () => {
    const denied = new IoTServiceException({
      name: 'UnauthorizedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 401 },
      message: 'denied',
    });
    iot.on(ListThingPrincipalsCommand).rejects(denied);
    const failedAtAssociation = { ...input, device: registered, failure: { Error: 'ResourceNotFoundException', Cause: 'no core' } };
    await expect(untilRolledBack(rollBack, failedAtAssociation)).resolves.toMatchObject({
      outcome: { status: 'FAILED', rollback: { thingDeleted: false, incomplete: { step: 'rollback', code: 'UnauthorizedException' } } },
      pending: [],
    });
  });

  // Revoking the certificate between registration and rollback needs someone else acting mid-execution.
  it('deletes an issued certificate that was revoked meanwhile, instead of retrying its deactivation', async () => {
    const issued = `arn:aws:iot:us-east-1:123456789012:cert/${'c'.repeat(64)}`;
    const revoked = new IoTServiceException({
      name: 'CertificateStateException',
      $fault: 'client',
      $metadata: { httpStatusCode: 406 },
      message: 'revoked',
    });
    iot.on(ListThingPrincipalsCommand).resolves({ principals: [issued] });
    iot.on(UpdateCertificateCommand).rejects(revoked);
    iot.on(DetachThingPrincipalCommand).resolves({});
    iot.on(DeleteThingCommand).resolves({});
    iot.on(DeleteCertificateCommand).resolves({});
    const withIssuedCertificate = { ...registered, certificateArn: issued, certificateCreated: true };
    const failedAtAssociation = {
      ...input,
      device: withIssuedCertificate,
      failure: { Error: 'ResourceNotFoundException', Cause: 'no core' },
    };

    const { outcome } = (await untilRolledBack(rollBack, failedAtAssociation)) as { outcome: unknown };

    expect(outcome).toMatchObject({
      status: 'FAILED',
      rollback: { detachedPrincipals: [issued], thingDeleted: true, certificateDeleted: true },
    });
    expect(outcome).not.toHaveProperty('rollback.incomplete');
    // Forced: a certificate the template issued may hold the template's policy, which would refuse a plain delete.
    expect(iot.commandCalls(DeleteCertificateCommand).map((call) => call.args[0].input)).toEqual([
      { certificateId: 'c'.repeat(64), forceDelete: true },
    ]);
  });

  // The two answers of a detach, for a principal that no earlier record shows attached: only the rollback's own word counts.
  it.each([
    ['took the principal off', undefined, [`arn:aws:iot:us-east-1:123456789012:cert/${'d'.repeat(64)}`]],
    [
      'found it not attached',
      new IoTServiceException({
        name: 'ResourceNotFoundException',
        $fault: 'client',
        $metadata: { httpStatusCode: 404 },
        message: 'not attached',
      }),
      [],
    ],
  ])('reports a principal detached from a thing that existed before only when the detach %s', async (_, refusal, detached) => {
    const principal = `arn:aws:iot:us-east-1:123456789012:cert/${'d'.repeat(64)}`;
    if (refusal) iot.on(DetachThingPrincipalCommand).rejects(refusal);
    else iot.on(DetachThingPrincipalCommand).resolves({});
    const existing = {
      ...registered,
      principal,
      certificateArn: undefined,
      status: 'PENDING' as const,
      prior: { thingExisted: true, principalAttached: false },
    };
    const failedAtAttach = {
      ...input,
      spec: { ...input.spec, principal },
      device: existing,
      failure: { Error: 'InvalidRequestException', Cause: 'refused' },
    };

    const { outcome } = (await untilRolledBack(rollBack, failedAtAttach)) as {
      outcome: { rollback: { detachedPrincipals: string[]; thingDeleted: boolean } };
    };

    expect(outcome.rollback.detachedPrincipals).toEqual(detached);
    expect(outcome.rollback.thingDeleted).toBe(false);
    expect(iot.commandCalls(DeleteThingCommand)).toHaveLength(0);
  });

  // The local cloud answers no entry for an association that is not there; AWS documents no entry codes.
  it("takes a not-found entry from the rollback's disassociation as already undone, and deletes the thing", async () => {
    greengrass.on(BatchDisassociateClientDeviceFromCoreDeviceCommand).resolves({
      errorEntries: [{ thingName: 'sensor-1', code: 'ResourceNotFoundException', message: 'not associated' }],
    });
    iot.on(ListThingPrincipalsCommand).resolves({ principals: [] });
    iot.on(DeleteThingCommand).resolves({});
    const failedAtAssociation = {
      ...input,
      device: { ...registered, error: { step: 'associate' as const, code: 'InternalServerException', message: 'lost' } },
    };

    const { outcome } = (await untilRolledBack(rollBack, failedAtAssociation)) as { outcome: unknown };

    expect(greengrass.commandCalls(BatchDisassociateClientDeviceFromCoreDeviceCommand)).toHaveLength(1);
    expect(outcome).toMatchObject({ rollback: { thingDeleted: true } });
    expect(outcome).not.toHaveProperty('rollback.incomplete');
  });

  it('lets a reset socket during deprovisioning go to the Retry instead of failing the device', async () => {
    iot.on(DeleteThingCommand).rejects(resetSocket());
    const removal = {
      device: { ...registered, status: 'PROVISIONED' as const },
      options: { detachPrincipals: true, deleteThings: true },
      correlation: input.correlation,
    };
    await expect(deleteThing(removal)).rejects.toMatchObject({ name: 'TransientServiceError' });
  });
});
