import { DynamoDBClient, GetItemCommand, TransactionCanceledException, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { acquireLeases, isCancelled, releaseLeases } from '../../../../functions/aws/device-leases.ts';
import type { HolderExecution } from '../../../../functions/domain/device-leases.ts';

/**
 * What device-leases.ts makes of DynamoDB answers the local cloud never gives, since it applies each transaction
 * at once and reads consistently whatever is asked: a transaction cancelled by a concurrent one (with or without
 * its reasons), a failed condition that returns no item, and the read a cancel marker asks for. What the leases
 * do against a real table is in test/integration/functions/aws/device-leases.test.ts.
 */
const dynamodb = mockClient(DynamoDBClient);
const client = new DynamoDBClient({ region: 'us-east-1' });
const owner = 'provision/r1/digest';
const claim = { owner, holder: { workflow: 'provision' as const, requestId: 'r1' }, thingNames: ['sensor-1', 'sensor-2'] };
const running = async (): Promise<HolderExecution> => ({ status: 'RUNNING' });
const cancelled = (reasons?: { Code: string }[]) =>
  new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, ...(reasons && { CancellationReasons: reasons }) });
const transactions = () => dynamodb.commandCalls(TransactWriteItemsCommand);

beforeEach(() => {
  process.env.DEVICE_LEASES_TABLE = 'leases';
  // The wait between tries is random: none here.
  vi.spyOn(Math, 'random').mockReturnValue(0);
});
afterEach(() => {
  dynamodb.reset();
  vi.restoreAllMocks();
});

describe('taking device leases', () => {
  it('tries a transaction that concurrent ones cancel four times, then gives up with a transient error', async () => {
    dynamodb.on(TransactWriteItemsCommand).rejects(cancelled([{ Code: 'TransactionConflict' }, { Code: 'None' }]));

    await expect(acquireLeases(client, claim, running)).rejects.toMatchObject({
      name: 'TransientServiceError',
      message: 'the device leases could not be written: concurrent transactions kept cancelling them',
    });
    expect(transactions()).toHaveLength(4);
  });

  it('tries again a cancellation without reasons, or with a failed condition that names no lease, and leases the devices', async () => {
    dynamodb
      .on(TransactWriteItemsCommand)
      .rejectsOnce(cancelled())
      .rejectsOnce(cancelled([{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }]))
      .resolves({});

    expect(await acquireLeases(client, claim, running)).toEqual([]);
    expect(transactions()).toHaveLength(3);
  });
});

describe('releasing device leases', () => {
  it('tries a release that concurrent transactions cancel again, and ends once it applies', async () => {
    dynamodb
      .on(TransactWriteItemsCommand)
      .rejectsOnce(cancelled([{ Code: 'TransactionConflict' }, { Code: 'None' }]))
      .rejectsOnce(cancelled())
      .resolves({});

    await releaseLeases(client, owner, ['sensor-1', 'sensor-2']);

    expect(transactions().map((call) => call.args[0].input.TransactItems?.map((item) => item.Delete?.Key?.thingName?.S))).toEqual(
      Array(3).fill(['sensor-1', 'sensor-2']),
    );
  });

  it('gives up with a transient error when concurrent transactions cancel it four times', async () => {
    dynamodb.on(TransactWriteItemsCommand).rejects(cancelled([{ Code: 'TransactionConflict' }, { Code: 'None' }]));

    await expect(releaseLeases(client, owner, ['sensor-1', 'sensor-2'])).rejects.toMatchObject({
      name: 'TransientServiceError',
      message: 'the device leases could not be released: concurrent transactions kept cancelling them',
    });
    expect(transactions()).toHaveLength(4);
  });

  it('counts a round that drops the devices no longer the owner’s as no cancellation', async () => {
    dynamodb
      .on(TransactWriteItemsCommand)
      .rejectsOnce(cancelled([{ Code: 'TransactionConflict' }, { Code: 'None' }]))
      .rejectsOnce(cancelled([{ Code: 'TransactionConflict' }, { Code: 'None' }]))
      .rejectsOnce(cancelled([{ Code: 'TransactionConflict' }, { Code: 'None' }]))
      .rejectsOnce(cancelled([{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }]))
      .resolves({});

    await releaseLeases(client, owner, ['sensor-1', 'sensor-2']);

    expect(
      transactions()
        .at(-1)
        ?.args[0].input.TransactItems?.map((item) => item.Delete?.Key?.thingName?.S),
    ).toEqual(['sensor-2']);
  });
});

describe('cancel markers', () => {
  it('reads the marker strongly consistent, and only its key', async () => {
    dynamodb.on(GetItemCommand).resolves({});

    expect(await isCancelled(client, owner)).toBe(false);

    expect(dynamodb.commandCalls(GetItemCommand)[0]?.args[0].input).toMatchObject({
      ConsistentRead: true,
      ProjectionExpression: 'thingName',
    });
  });
});
