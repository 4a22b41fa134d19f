import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalCloud, type LocalCloud } from '../../../../local-cloud/server.ts';
import { ACCOUNT, expectAwsError, REGION } from '../helpers.ts';

const LEASES = {
  TableName: 'leases',
  KeySchema: [{ AttributeName: 'thingName', KeyType: 'HASH' as const }],
  AttributeDefinitions: [{ AttributeName: 'thingName', AttributeType: 'S' as const }],
};

let cloud: LocalCloud;
let dynamodb: DynamoDBClient;

async function start(options: Parameters<typeof createLocalCloud>[0] = {}) {
  cloud = await createLocalCloud({ faults: { quotas: false }, ...options });
  dynamodb = new DynamoDBClient({
    endpoint: cloud.url,
    region: REGION,
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}
beforeEach(() => start({ tables: [LEASES] }));
afterEach(async () => {
  dynamodb.destroy();
  await cloud.close();
});

const lease = (thingName: string, owner: string, expiresAt = 2_000) => ({
  thingName: { S: thingName },
  owner: { S: owner },
  expiresAt: { N: String(expiresAt) },
});
const FREE_EXPIRED_OR_MINE = {
  ConditionExpression: 'attribute_not_exists(thingName) OR expiresAt < :now OR #owner = :me',
  ExpressionAttributeNames: { '#owner': 'owner' },
};
const leasePut = (thingName: string, owner: string, now = 1_000) => ({
  Put: {
    TableName: 'leases',
    Item: lease(thingName, owner),
    ...FREE_EXPIRED_OR_MINE,
    ExpressionAttributeValues: { ':now': { N: String(now) }, ':me': { S: owner } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  },
});
const items = async () => (await dynamodb.send(new ScanCommand({ TableName: 'leases' }))).Items;

describe('DynamoDB tables', () => {
  it('a table given at start is there, described as AWS describes an on-demand table', async () => {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: 'leases' }));
    expect(Table).toMatchObject({
      TableName: 'leases',
      TableStatus: 'ACTIVE',
      TableArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/leases`,
      KeySchema: LEASES.KeySchema,
      BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
      ItemCount: 0,
    });
    expect((await dynamodb.send(new ListTablesCommand({}))).TableNames).toEqual(['leases']);
  });

  it('CreateTable refuses an existing name, and an unknown table is ResourceNotFoundException', async () => {
    await expectAwsError(
      dynamodb.send(new CreateTableCommand({ ...LEASES, BillingMode: 'PAY_PER_REQUEST' })),
      'ResourceInUseException',
      400,
    );
    await expectAwsError(
      dynamodb.send(new GetItemCommand({ TableName: 'missing', Key: { thingName: { S: 'a' } } })),
      'ResourceNotFoundException',
      400,
    );
  });

  it('time to live is described as it was set', async () => {
    expect((await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: 'leases' }))).TimeToLiveDescription).toEqual({
      TimeToLiveStatus: 'DISABLED',
    });
    await dynamodb.send(
      new UpdateTimeToLiveCommand({ TableName: 'leases', TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } }),
    );
    expect((await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: 'leases' }))).TimeToLiveDescription).toEqual({
      TimeToLiveStatus: 'ENABLED',
      AttributeName: 'expiresAt',
    });
  });

  it('tables and items survive a restart on the same state database', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'dynamodb-state-'));
    try {
      await cloud.close();
      await start({ stateDatabase: join(directory, 'state.sqlite') });
      await dynamodb.send(new CreateTableCommand({ ...LEASES, BillingMode: 'PAY_PER_REQUEST' }));
      await dynamodb.send(new PutItemCommand({ TableName: 'leases', Item: lease('kept', 'a') }));
      await cloud.close();
      await start({ stateDatabase: join(directory, 'state.sqlite') });
      expect((await dynamodb.send(new GetItemCommand({ TableName: 'leases', Key: { thingName: { S: 'kept' } } }))).Item).toEqual(
        lease('kept', 'a'),
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('DynamoDB items and condition expressions', () => {
  it('PutItem with a condition: written where it holds, ConditionalCheckFailedException with the old item where not', async () => {
    const put = (owner: string, now: number) =>
      dynamodb.send(
        new PutItemCommand({
          TableName: 'leases',
          Item: lease('sensor', owner),
          ...FREE_EXPIRED_OR_MINE,
          ExpressionAttributeValues: { ':now': { N: String(now) }, ':me': { S: owner } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    await put('a', 1_000);
    await put('a', 1_000);
    const refused = await expectAwsError(put('b', 1_000), 'ConditionalCheckFailedException', 400);
    expect(refused.Item).toEqual(lease('sensor', 'a'));
    await put('b', 2_001);
    expect((await dynamodb.send(new GetItemCommand({ TableName: 'leases', Key: { thingName: { S: 'sensor' } } }))).Item).toEqual(
      lease('sensor', 'b'),
    );
  });

  it('DeleteItem with a condition deletes only where it holds', async () => {
    await dynamodb.send(new PutItemCommand({ TableName: 'leases', Item: lease('sensor', 'a') }));
    const deleteAs = (owner: string) =>
      dynamodb.send(
        new DeleteItemCommand({
          TableName: 'leases',
          Key: { thingName: { S: 'sensor' } },
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':me': { S: owner } },
        }),
      );
    await expectAwsError(deleteAs('b'), 'ConditionalCheckFailedException', 400);
    expect(await items()).toHaveLength(1);
    await deleteAs('a');
    expect(await items()).toEqual([]);
  });

  it.each([
    ['BETWEEN', 'expiresAt BETWEEN :low AND :high', { ':low': { N: '1000' }, ':high': { N: '2000' } }, true],
    ['BETWEEN outside', 'expiresAt BETWEEN :low AND :high', { ':low': { N: '2001' }, ':high': { N: '3000' } }, false],
    ['IN', '#owner IN (:x, :y)', { ':x': { S: 'z' }, ':y': { S: 'a' } }, true],
    ['NOT binds tighter than AND', 'NOT #owner = :a AND #owner = :b', { ':a': { S: 'a' }, ':b': { S: 'b' } }, false],
    ['AND binds tighter than OR', '#owner = :b AND #owner = :b OR #owner = :a', { ':a': { S: 'a' }, ':b': { S: 'b' } }, true],
    ['parentheses', 'NOT (#owner = :x OR #owner = :y)', { ':x': { S: 'b' }, ':y': { S: 'a' } }, false],
    ['begins_with', 'begins_with(thingName, :prefix)', { ':prefix': { S: 'sen' } }, true],
    ['contains', 'contains(#owner, :part)', { ':part': { S: 'x' } }, false],
    ['size', 'size(thingName) = :six', { ':six': { N: '6' } }, true],
    ['attribute_type', 'attribute_type(expiresAt, :n)', { ':n': { S: 'N' } }, true],
    ['numbers compare as numbers', 'expiresAt > :nine', { ':nine': { N: '999' } }, true],
    ['values of different types are never ordered', 'expiresAt > :text', { ':text': { S: '1' } }, false],
    ['numbers equal by value, not by spelling', 'expiresAt = :same', { ':same': { N: '2.0E3' } }, true],
    [
      'numbers beyond a double still order',
      ':big > :bigger',
      { ':big': { N: '12345678901234567890123456789012345678' }, ':bigger': { N: '12345678901234567890123456789012345679' } },
      false,
    ],
    [
      'negative numbers order below zero and below each other',
      ':minusTen < :minusOne',
      { ':minusTen': { N: '-10' }, ':minusOne': { N: '-1' } },
      true,
    ],
    ['<> holds for a missing attribute', 'missing <> :any', { ':any': { S: 'x' } }, true],
    ['= never holds for a missing attribute', 'missing = :any', { ':any': { S: 'x' } }, false],
  ])('%s', async (_, ConditionExpression, values, holds) => {
    await dynamodb.send(new PutItemCommand({ TableName: 'leases', Item: lease('sensor', 'a') }));
    const names = ConditionExpression.includes('#owner') ? { ExpressionAttributeNames: { '#owner': 'owner' } } : {};
    const call = dynamodb.send(
      new PutItemCommand({
        TableName: 'leases',
        Item: lease('sensor', 'c'),
        ConditionExpression,
        ...names,
        ExpressionAttributeValues: values,
      }),
    );
    if (holds) await call;
    else await expectAwsError(call, 'ConditionalCheckFailedException', 400);
  });

  it.each([
    ['an undefined value placeholder', 'thingName = :missing', {}, /attribute value used in expression is not defined/],
    [
      'an unused value placeholder',
      'attribute_exists(thingName)',
      { ExpressionAttributeValues: { ':unused': { S: 'x' } } },
      /unused in expressions: keys: \{:unused\}/,
    ],
    [
      'a nested path, not emulated',
      'a.b = :v',
      { ExpressionAttributeValues: { ':v': { S: 'x' } } },
      /nested attribute paths are not emulated/,
    ],
    ['a syntax error', 'thingName = = :v', { ExpressionAttributeValues: { ':v': { S: 'x' } } }, /Syntax error/],
  ])('a condition with %s is a ValidationException', async (_, ConditionExpression, placeholders, message) => {
    const error = await expectAwsError(
      dynamodb.send(new PutItemCommand({ TableName: 'leases', Item: lease('sensor', 'a'), ConditionExpression, ...placeholders })),
      'ValidationException',
      400,
    );
    expect(error.message).toMatch(message);
    expect(await items()).toEqual([]);
  });

  it('an item without its key, or a number that does not parse, is a ValidationException', async () => {
    await expectAwsError(
      dynamodb.send(new PutItemCommand({ TableName: 'leases', Item: { owner: { S: 'a' } } })),
      'ValidationException',
      400,
    );
    await expectAwsError(
      dynamodb.send(new PutItemCommand({ TableName: 'leases', Item: { thingName: { S: 'a' }, expiresAt: { N: 'soon' } } })),
      'ValidationException',
      400,
    );
  });

  it('Scan pages with LastEvaluatedKey', async () => {
    for (const name of ['c', 'a', 'b']) await dynamodb.send(new PutItemCommand({ TableName: 'leases', Item: lease(name, 'x') }));
    const first = await dynamodb.send(new ScanCommand({ TableName: 'leases', Limit: 2 }));
    expect(first.Items?.map((item) => item.thingName?.S)).toEqual(['a', 'b']);
    expect(first.LastEvaluatedKey).toEqual({ thingName: { S: 'b' } });
    const second = await dynamodb.send(new ScanCommand({ TableName: 'leases', Limit: 2, ExclusiveStartKey: first.LastEvaluatedKey }));
    expect(second.Items?.map((item) => item.thingName?.S)).toEqual(['c']);
    expect(second.LastEvaluatedKey).toBeUndefined();
  });
});

describe('DynamoDB UpdateItem', () => {
  const counter = { thingName: { S: 'counts#run' } };
  const countBatch = (position: number, devices: number) =>
    dynamodb.send(
      new UpdateItemCommand({
        TableName: 'leases',
        Key: counter,
        UpdateExpression: 'ADD #devices :devices, #batches :position SET #expiresAt = :expiresAt',
        ConditionExpression: 'NOT contains(#batches, :positionNumber)',
        ExpressionAttributeNames: { '#devices': 'devices', '#batches': 'batches', '#expiresAt': 'expiresAt' },
        ExpressionAttributeValues: {
          ':devices': { N: String(devices) },
          ':position': { NS: [String(position)] },
          ':positionNumber': { N: String(position) },
          ':expiresAt': { N: '2000' },
        },
        ReturnValues: 'ALL_NEW',
      }),
    );

  it('ADD creates the item from its key and adds numbers and set members; its condition keeps a repeated update out', async () => {
    expect((await countBatch(0, 200)).Attributes).toEqual({
      ...counter,
      devices: { N: '200' },
      batches: { NS: ['0'] },
      expiresAt: { N: '2000' },
    });
    await countBatch(200, 50);
    const repeated = await expectAwsError(countBatch(200, 50), 'ConditionalCheckFailedException', 400);
    expect(repeated.message).toBe('The conditional request failed');
    const { Item } = await dynamodb.send(new GetItemCommand({ TableName: 'leases', Key: counter }));
    expect(Item).toEqual({ ...counter, devices: { N: '250' }, batches: { NS: ['0', '200'] }, expiresAt: { N: '2000' } });
  });

  it.each([
    ['an unused placeholder', 'ADD devices :one', { ':one': { N: '1' }, ':two': { N: '2' } }, /unused in expressions: keys: \{:two\}/],
    ['REMOVE, not emulated', 'REMOVE devices', {}, /REMOVE is not emulated/],
    ['SET arithmetic, not emulated', 'SET devices = devices + :one', { ':one': { N: '1' } }, /only a :value placeholder/],
    ['a clause twice', 'ADD devices :one ADD batches :one', { ':one': { N: '1' } }, /can only be used once/],
    ['the key updated', 'SET thingName = :other', { ':other': { S: 'other' } }, /Cannot update attribute thingName/],
  ])('an update with %s is a ValidationException, and nothing is written', async (_, UpdateExpression, values, message) => {
    const error = await expectAwsError(
      dynamodb.send(
        new UpdateItemCommand({
          TableName: 'leases',
          Key: counter,
          UpdateExpression,
          ...(Object.keys(values).length > 0 && { ExpressionAttributeValues: values }),
        }),
      ),
      'ValidationException',
      400,
    );
    expect(error.message).toMatch(message);
    expect(await items()).toEqual([]);
  });

  it('ADD of a number to a string is a ValidationException', async () => {
    await dynamodb.send(new PutItemCommand({ TableName: 'leases', Item: { ...counter, devices: { S: 'many' } } }));
    await expectAwsError(
      dynamodb.send(
        new UpdateItemCommand({
          TableName: 'leases',
          Key: counter,
          UpdateExpression: 'ADD devices :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
        }),
      ),
      'ValidationException',
      400,
    );
  });
});

describe('DynamoDB TransactWriteItems', () => {
  it('applies every action when every condition holds', async () => {
    await dynamodb.send(new PutItemCommand({ TableName: 'leases', Item: lease('gone', 'a') }));
    await dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [leasePut('one', 'a'), leasePut('two', 'a'), { Delete: { TableName: 'leases', Key: { thingName: { S: 'gone' } } } }],
      }),
    );
    expect((await items())?.map((item) => item.thingName?.S)).toEqual(['one', 'two']);
  });

  it('applies nothing when one condition fails, with one cancellation reason per action in order', async () => {
    await dynamodb.send(new PutItemCommand({ TableName: 'leases', Item: lease('two', 'b') }));
    const error = await expectAwsError(
      dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [leasePut('one', 'a'), leasePut('two', 'a'), leasePut('three', 'a')] })),
      'TransactionCanceledException',
      400,
    );
    expect(error.CancellationReasons).toEqual([
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: lease('two', 'b') },
      { Code: 'None' },
    ]);
    expect(error.message).toContain('[None, ConditionalCheckFailed, None]');
    expect((await items())?.map((item) => item.thingName?.S)).toEqual(['two']);
  });

  it('refuses two actions on one item, more than 100 actions, and Update (not emulated)', async () => {
    await expectAwsError(
      dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [leasePut('one', 'a'), leasePut('one', 'b')] })),
      'ValidationException',
      400,
    );
    const many = Array.from({ length: 101 }, (_, index) => leasePut(`device-${index}`, 'a'));
    await expectAwsError(dynamodb.send(new TransactWriteItemsCommand({ TransactItems: many })), 'ValidationException', 400);
    const update = {
      Update: {
        TableName: 'leases',
        Key: { thingName: { S: 'one' } },
        UpdateExpression: 'SET #owner = :me',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':me': { S: 'a' } },
      },
    };
    await expectAwsError(dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [update] })), 'ValidationException', 400);
    expect(await items()).toEqual([]);
  });

  it('an injected throttle is ProvisionedThroughputExceededException, and a server fault a 500', async () => {
    cloud.admin.configureFaults({ throttle: { TransactWriteItems: 1 } });
    await expectAwsError(
      dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [leasePut('one', 'a')] })),
      'ProvisionedThroughputExceededException',
      400,
    );
    cloud.admin.configureFaults({ throttle: { TransactWriteItems: 0 }, serverError: { TransactWriteItems: 1 } });
    const error = await dynamodb
      .send(new TransactWriteItemsCommand({ TransactItems: [leasePut('one', 'a')] }))
      .catch((caught: { $metadata: { httpStatusCode: number } }) => caught);
    expect((error as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBeGreaterThanOrEqual(500);
    expect(await items()).toEqual([]);
  });
});
