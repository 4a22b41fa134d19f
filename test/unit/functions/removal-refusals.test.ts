import {
  DeleteThingCommand,
  DetachThingPrincipalCommand,
  IoTClient,
  IoTServiceException,
  ListThingPrincipalsCommand,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../../functions/domain/records.ts';
import type { DeviceRemovalInput } from '../../../functions/tasks/removal-step.ts';
import { lambdaContext } from '../../support/task-fixtures.ts';

/**
 * Deprovisioning refused for good (a role without the right, a policy that denies it): the device fails at that
 * step with the refusal, and a device that failed is never deleted afterwards. The local cloud refuses no detach or
 * delete that IAM would, so these mock the IoT client; the same records flow through the state machine unchanged.
 */
describe('a removal step that IoT refuses for good', () => {
  const iot = mockClient(IoTClient);
  let detachPrincipals: (input: DeviceRemovalInput) => Promise<DeviceRecord>;
  let deleteThing: (input: DeviceRemovalInput) => Promise<DeviceRecord>;

  beforeAll(async () => {
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    const context = lambdaContext(30_000);
    const [detachTask, deleteTask] = await Promise.all([
      import('../../../functions/detach-principals.ts'),
      import('../../../functions/delete-thing.ts'),
    ]);
    detachPrincipals = (input) => detachTask.handler(input, context) as Promise<DeviceRecord>;
    deleteThing = (input) => deleteTask.handler(input, context) as Promise<DeviceRecord>;
  });
  afterEach(() => iot.reset());

  const certificate = `arn:aws:iot:us-east-1:000000000000:cert/${'c'.repeat(64)}`;
  const denied = () =>
    new IoTServiceException({
      name: 'UnauthorizedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 401 },
      message: 'not authorized to perform iot:DetachThingPrincipal',
    });
  const removal = (device: Partial<DeviceRecord> = {}): DeviceRemovalInput => ({
    device: { thingName: 'sensor-1', coreDeviceThingName: 'core-a', status: 'PENDING', ...device },
    options: { detachPrincipals: true, deleteThings: true },
    correlation: { requestId: 'r', executionName: 'r' },
  });

  it('a refused detach fails the device at detach with the refusal, and the delete that follows leaves its thing', async () => {
    iot.on(ListThingPrincipalsCommand).resolves({ principals: [certificate] });
    iot.on(DetachThingPrincipalCommand).rejects(denied());
    iot.on(DeleteThingCommand).resolves({});

    const detached = await detachPrincipals(removal());
    expect(detached).toEqual({
      thingName: 'sensor-1',
      coreDeviceThingName: 'core-a',
      status: 'FAILED',
      error: { step: 'detach', code: 'UnauthorizedException', message: 'not authorized to perform iot:DetachThingPrincipal' },
    });

    expect(await deleteThing({ ...removal(), device: detached })).toEqual(detached);
    expect(iot.commandCalls(DeleteThingCommand)).toEqual([]);
  });

  it('a refused delete fails the device at delete with the refusal', async () => {
    iot.on(DeleteThingCommand).rejects(
      new IoTServiceException({
        name: 'UnauthorizedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 401 },
        message: 'not authorized to perform iot:DeleteThing',
      }),
    );

    expect(await deleteThing(removal())).toEqual({
      thingName: 'sensor-1',
      coreDeviceThingName: 'core-a',
      status: 'FAILED',
      error: { step: 'delete', code: 'UnauthorizedException', message: 'not authorized to perform iot:DeleteThing' },
    });
  });

  it('a device that failed at disassociation is neither detached nor deleted', async () => {
    const failed = removal({ status: 'FAILED', error: { step: 'disassociate', code: 'InvalidRequestException', message: 'refused' } });

    expect(await detachPrincipals(failed)).toEqual(failed.device);
    expect(await deleteThing(failed)).toEqual(failed.device);
    expect(iot.calls()).toEqual([]);
  });

  it('a delete whose thing still has principals is left to the Retry under ThingStillHasPrincipals', async () => {
    iot.on(DeleteThingCommand).rejects(
      new IoTServiceException({
        name: 'InvalidRequestException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'Cannot delete. Thing sensor-1 is still attached to one or more principals',
      }),
    );

    await expect(deleteThing(removal())).rejects.toMatchObject({
      name: 'ThingStillHasPrincipals',
      message: 'thing sensor-1 still has principals attached: Cannot delete. Thing sensor-1 is still attached to one or more principals',
    });
  });

  it("a refusal of another kind that mentions an attachment is the device's outcome, not retried", async () => {
    iot.on(DeleteThingCommand).rejects(
      new IoTServiceException({
        name: 'VersionConflictException',
        $fault: 'client',
        $metadata: { httpStatusCode: 409 },
        message: 'a policy still attached to the thing changed its version',
      }),
    );

    expect(await deleteThing(removal())).toMatchObject({ status: 'FAILED', error: { step: 'delete', code: 'VersionConflictException' } });
  });

  it("any other InvalidRequestException of a delete is the device's outcome, not retried", async () => {
    iot.on(DeleteThingCommand).rejects(
      new IoTServiceException({
        name: 'InvalidRequestException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'thing name is malformed',
      }),
    );

    expect(await deleteThing(removal())).toMatchObject({
      status: 'FAILED',
      error: { step: 'delete', code: 'InvalidRequestException', message: 'thing name is malformed' },
    });
  });
});
