import { DynamoDBClient, GetItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, ExecutionDoesNotExist, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FleetBatch } from '../../../functions/domain/fleet-run.ts';

/**
 * A cancel that lands while PrepareBatch leases a batch's devices: the local cloud cannot place a write between two
 * reads of one invocation, so the SDK clients are mocked. The marker is read before the leases and again after.
 */
describe('preparing a batch of a fleet run that is being cancelled', () => {
  const dynamodb = mockClient(DynamoDBClient);
  const sfn = mockClient(SFNClient);
  let prepare: (batch: FleetBatch) => Promise<unknown>;
  const batch: FleetBatch = {
    BatchInput: {
      fleetRunId: 'run',
      action: 'provision',
      options: { coreDeviceThingName: 'core-1' } as FleetBatch['BatchInput']['options'],
      requestDigest: 'ab'.repeat(32),
    },
    Items: ['d-1', 'd-2'].map((thingName, position) => ({
      position: 200 + position,
      planned: {
        index: position,
        line: position + 2,
        where: `line ${position + 2}`,
        device: { thingName, principal: `arn:aws:iot:us-east-1:000000000000:cert/${String(position).repeat(64)}` },
      },
    })),
  };
  const marker = { Item: { thingName: { S: `cancel#fleet/run/${'ab'.repeat(8)}` } } };

  beforeAll(async () => {
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    process.env.PROVISION_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:provision';
    process.env.DEVICE_LEASES_TABLE = 'leases';
    ({ prepareFleetBatch: prepare } = await import('../../../functions/prepare-fleet-batch.ts'));
  });
  beforeEach(() => {
    dynamodb.on(TransactWriteItemsCommand).resolves({});
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'no such execution', $metadata: {} }));
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
  });
  afterEach(() => {
    dynamodb.reset();
    sfn.reset();
  });

  const transactions = () => dynamodb.commandCalls(TransactWriteItemsCommand).map((call) => call.args[0].input.TransactItems ?? []);

  it('starts the batch request when the run has not been cancelled, reading the run’s marker before and after leasing', async () => {
    dynamodb.on(GetItemCommand).resolves({});
    expect(await prepare(batch)).toMatchObject({ start: { Name: 'run-200' } });
    expect(dynamodb.commandCalls(GetItemCommand).map((call) => call.args[0].input.Key)).toEqual([marker.Item, marker.Item]);
    expect(transactions().map((items) => items.map((item) => Object.keys(item)[0]))).toEqual([['Put', 'Put']]);
  });

  it('leases nothing and starts nothing once the run is cancelled', async () => {
    dynamodb.on(GetItemCommand).resolves(marker);
    expect(await prepare(batch)).toEqual({ finished: { cancelled: true } });
    expect(transactions()).toEqual([]);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toEqual([]);
  });

  it('releases the leases it just took, and starts nothing, when the cancel lands while it leases', async () => {
    dynamodb.on(GetItemCommand).resolvesOnce({}).resolves(marker);
    expect(await prepare(batch)).toEqual({ finished: { cancelled: true } });
    const [leased, released] = transactions();
    expect(leased!.map((item) => item.Put?.Item?.thingName?.S)).toEqual(['d-1', 'd-2']);
    const owner = leased![0]!.Put!.Item!.leaseOwner!.S;
    expect(released!.map((item) => [item.Delete?.Key?.thingName?.S, item.Delete?.ExpressionAttributeValues?.[':me']?.S])).toEqual([
      ['d-1', owner],
      ['d-2', owner],
    ]);
  });
});
