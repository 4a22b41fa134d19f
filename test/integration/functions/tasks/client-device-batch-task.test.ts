import { describe, expect, it, vi } from 'vitest';
import type { ClientDeviceBatch } from '../../../../functions/domain/records.ts';
import { useServiceCloud } from '../../../support/service-cloud.ts';
import { lambdaContext } from '../../../support/task-fixtures.ts';

/**
 * One Batch*ClientDevice… call of a batch (tasks/client-device-batch-task.ts), with the send given here and the
 * cancel marker in the local cloud's leases table: what a cancel leaves unsent, which call errors go back to the
 * state machine's Retry, and which fail the batch's devices.
 */
describe('a client-device batch task', () => {
  const cloud = useServiceCloud();
  const batch: ClientDeviceBatch = {
    coreDeviceThingName: 'core-a',
    pending: ['sensor-1', 'sensor-2'],
    done: [],
    failed: [],
    attempt: 0,
    retryDelaySeconds: 0,
  };
  const correlation = { requestId: 'r', executionName: 'r' };
  const task = async (send: (core: string, thingNames: string[]) => Promise<never[]>) => {
    const { clientDeviceBatchTask } = await import('../../../../functions/tasks/client-device-batch-task.ts');
    return (input: object) => clientDeviceBatchTask('associate', send)({ batch, correlation, ...input } as never, lambdaContext(30_000));
  };
  const sendNothing = async () => {
    throw new Error('the batch was sent');
  };

  it("leaves every device of a cancelled request's batch unsent and not started, and sends the batch of one not cancelled", async () => {
    const { dynamodb } = await import('../../../../functions/aws/clients/dynamodb.ts');
    const { writeCancelMarker } = await import('../../../../functions/aws/device-leases.ts');
    await writeCancelMarker(dynamodb, 'provision/cancelled/0123456789abcdef', { workflow: 'provision', requestId: 'cancelled' });
    const check = await task(sendNothing);
    expect(await check({ leaseOwner: 'provision/cancelled/0123456789abcdef', checkCancellation: true })).toEqual({
      done: [],
      failed: [],
      notStarted: ['sensor-1', 'sensor-2'],
    });
    expect(await check({ leaseOwner: 'provision/running/0123456789abcdef', checkCancellation: true })).toEqual(batch);
    // Without a lease owner there is no marker to read: not even a failing read is tried.
    cloud.cloud.admin.configureFaults({ serverError: { GetItem: 1 } });
    const { logger } = await import('../../../../functions/lambda/powertools.ts');
    const warn = vi.spyOn(logger, 'warn');
    try {
      expect(await check({ checkCancellation: true })).toEqual(batch);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      cloud.cloud.admin.configureFaults({ serverError: { GetItem: 0 } });
    }
    const sent: string[][] = [];
    const send = await task(async (_core, thingNames) => {
      sent.push(thingNames);
      return [];
    });
    expect(await send({ leaseOwner: 'provision/running/0123456789abcdef' })).toEqual({ done: ['sensor-1', 'sensor-2'], failed: [] });
    expect(sent).toEqual([['sensor-1', 'sensor-2']]);
  });

  it('lets a throttled call go to the Retry, and fails every pending device with a refused call', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    await expect((await task(() => Promise.reject(throttled)))({})).rejects.toBe(throttled);
    const refused = Object.assign(new Error('no core device core-a'), { name: 'ResourceNotFoundException' });
    expect(await (await task(() => Promise.reject(refused)))({})).toEqual({
      done: [],
      failed: [
        { thingName: 'sensor-1', code: 'ResourceNotFoundException', message: 'no core device core-a' },
        { thingName: 'sensor-2', code: 'ResourceNotFoundException', message: 'no core device core-a' },
      ],
    });
  });
});
