import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countBatchOnce, readFleetRunCounts } from '../../../../functions/aws/fleet-run-counts.ts';
import { LEASE_TTL_SECONDS } from '../../../../functions/domain/device-leases.ts';
import { fleetRunCountsKey } from '../../../../functions/domain/fleet-run-counts.ts';
import { useServiceCloud } from '../../../support/service-cloud.ts';

/**
 * A fleet run's counter (aws/fleet-run-counts.ts) against the local cloud's DynamoDB (the stack's leases table):
 * each batch counted once however often its task runs, and read back as GET reads it.
 */
const cloud = useServiceCloud();
let dynamodb: DynamoDBClient;
beforeAll(() => {
  dynamodb = new DynamoDBClient({ ...cloud.clientConfig, maxAttempts: 1 });
});
afterAll(() => dynamodb.destroy());

const owner = 'fleet/run-1/0123456789abcdef';

describe('a fleet run counter', () => {
  it('is undefined before the first batch is counted, then adds each batch once, however often it is counted', async () => {
    expect(await readFleetRunCounts(dynamodb, owner)).toBeUndefined();
    const before = Math.floor(Date.now() / 1000);
    expect(await countBatchOnce(dynamodb, owner, 0, { succeeded: 3, failed: 1, rolledBack: 1, notStarted: 0 })).toBe(true);
    expect(await countBatchOnce(dynamodb, owner, 200, { succeeded: 0, failed: 2, rolledBack: 0, notStarted: 5 })).toBe(true);
    expect(await countBatchOnce(dynamodb, owner, 0, { succeeded: 3, failed: 1, rolledBack: 1, notStarted: 0 })).toBe(false);
    const after = Math.floor(Date.now() / 1000);

    expect(await readFleetRunCounts(dynamodb, owner)).toEqual({ succeeded: 3, failed: 3, rolledBack: 1, notStarted: 5 });
    expect(await readFleetRunCounts(dynamodb, 'fleet/run-2/0123456789abcdef')).toBeUndefined();

    const { Item } = await dynamodb.send(
      new GetItemCommand({
        TableName: process.env.DEVICE_LEASES_TABLE,
        Key: { thingName: { S: fleetRunCountsKey(owner) } },
        ConsistentRead: true,
      }),
    );
    expect(Item?.batchesCounted?.NS?.map(Number).sort((a, b) => a - b)).toEqual([0, 200]);
    // TTL removes it as it removes the run's cancel marker, long after the run.
    expect(Number(Item?.leaseExpiresAt?.N)).toBeGreaterThanOrEqual(before + LEASE_TTL_SECONDS);
    expect(Number(Item?.leaseExpiresAt?.N)).toBeLessThanOrEqual(after + LEASE_TTL_SECONDS);
  });

  it('throws a failed write under its own name rather than answering the batch counted or not', async () => {
    cloud.cloud.admin.configureFaults({ serverError: { UpdateItem: 1 } });
    await expect(countBatchOnce(dynamodb, owner, 0, { succeeded: 1, failed: 0, rolledBack: 0, notStarted: 0 })).rejects.toMatchObject({
      name: expect.stringMatching(/^(InternalFailure|ServiceUnavailable)/),
    });
  });
});
