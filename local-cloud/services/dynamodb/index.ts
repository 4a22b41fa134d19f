import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { AttributeDefinition, KeySchemaElement, Stored, TableRecord } from '../../store.ts';
import { awsJsonProtocol } from '../../wire/aws-json.ts';
import type { LocalCloudContext } from '../../wire/context.ts';
import type { EmulatedService } from '../../wire/service.ts';
import { compileCondition } from './condition-expression.ts';
import { checkPlaceholdersUsed, type ExpressionPlaceholders } from './expression-reader.ts';
import { type AttributeValue, DynamoDbError, type Item, keyOf, requireItem } from './items.ts';
import { compileUpdate } from './update-expression.ts';

/** On-demand tables throttle with ProvisionedThroughputExceededException; server faults are 500 InternalServerError. */
const protocol = awsJsonProtocol('DynamoDB_20120810', 'InternalServerError', {
  throttled: ['ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded', 400],
  internalError: ['InternalServerError', 'Internal server error', 500],
  unavailable: ['ServiceUnavailable', 'Service unavailable', 503],
});
const MAX_TRANSACTION_ITEMS = 100;
const DEFAULT_SCAN_LIMIT = 1000;

/** A table as a stack declares it: what CreateTable takes, and what `AWS::DynamoDB::Table` properties hold. */
export interface TableDefinition {
  TableName: string;
  KeySchema: KeySchemaElement[];
  AttributeDefinitions: AttributeDefinition[];
  TimeToLiveSpecification?: { AttributeName: string; Enabled: boolean };
}

type Input = Record<string, unknown>;

function tableNotFound(name: unknown): DynamoDbError {
  return new DynamoDbError('ResourceNotFoundException', `Requested resource not found: Table: ${String(name)} not found`);
}

function requireString(input: Input, member: string): string {
  const value = input[member];
  if (typeof value !== 'string' || value.length === 0) {
    throw new DynamoDbError(
      'ValidationException',
      `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

/** Creates a table (CreateTable, or a stack's table at start); an existing one is refused. */
export function createTable(context: LocalCloudContext, definition: TableDefinition): TableRecord {
  const { store } = context;
  if (store.state.tables.has(definition.TableName)) {
    throw new DynamoDbError('ResourceInUseException', `Table already exists: ${definition.TableName}`);
  }
  const hashKeys = definition.KeySchema.filter((element) => element.KeyType === 'HASH');
  const undefinedKey = definition.KeySchema.find(
    (element) => !definition.AttributeDefinitions.some((attribute) => attribute.AttributeName === element.AttributeName),
  );
  if (hashKeys.length !== 1 || definition.KeySchema.length > 2 || undefinedKey) {
    throw new DynamoDbError(
      'ValidationException',
      'One or more parameter values were invalid: the key schema needs one HASH key, at most one RANGE key, each in AttributeDefinitions',
    );
  }
  const table: TableRecord = {
    tableName: definition.TableName,
    tableId: randomUUID(),
    keySchema: definition.KeySchema,
    attributeDefinitions: definition.AttributeDefinitions,
    createdAt: context.clock.now(),
    ...(definition.TimeToLiveSpecification && {
      timeToLive: { attributeName: definition.TimeToLiveSpecification.AttributeName, enabled: definition.TimeToLiveSpecification.Enabled },
    }),
  };
  store.state.tables.set(table.tableName, table);
  return table;
}

/**
 * DynamoDB as the service uses it: tables, single items with condition expressions, transactions, and
 * a scan. A transaction applies all or nothing in one event-loop turn, so it never meets a concurrent
 * one: `TransactionConflict` is never answered locally. Items are not expired by TTL (AWS deletes them
 * within days, and a condition must compare the expiry itself anyway).
 */
export function createDynamoDbService(context: LocalCloudContext): EmulatedService {
  const { store } = context;
  const tableOf = (input: Input): Stored<TableRecord> => {
    const name = requireString(input, 'TableName');
    const table = store.state.tables.get(name);
    if (!table) throw tableNotFound(name);
    return table;
  };
  const itemsOf = (table: Stored<TableRecord>) => store.state.items.in(table.tableName);
  const describe = (table: Stored<TableRecord>, requestRegion: string) => ({
    TableName: table.tableName,
    TableId: table.tableId,
    TableArn: `arn:aws:dynamodb:${requestRegion}:${context.accountId}:table/${table.tableName}`,
    TableStatus: 'ACTIVE',
    KeySchema: table.keySchema,
    AttributeDefinitions: table.attributeDefinitions,
    CreationDateTime: table.createdAt / 1000,
    ItemCount: itemsOf(table).count(),
    TableSizeBytes: [...itemsOf(table).values()].reduce((size, item) => size + JSON.stringify(item).length, 0),
    BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
  });

  const operations: Record<string, (input: Input, requestRegion: string) => unknown> = {
    CreateTable: (input, requestRegion) => ({
      TableDescription: describe(createTable(context, input as unknown as TableDefinition), requestRegion),
    }),
    DescribeTable: (input, requestRegion) => ({ Table: describe(tableOf(input), requestRegion) }),
    DeleteTable(input, requestRegion) {
      const table = tableOf(input);
      itemsOf(table).clear();
      store.state.tables.delete(table.tableName);
      return { TableDescription: { ...describe(table, requestRegion), TableStatus: 'DELETING' } };
    },
    ListTables(input) {
      const names = [...store.state.tables.entries()].map(([name]) => name);
      const after = typeof input.ExclusiveStartTableName === 'string' ? input.ExclusiveStartTableName : undefined;
      const limit = typeof input.Limit === 'number' ? input.Limit : 100;
      const remaining = after === undefined ? names : names.filter((name) => name > after);
      const page = remaining.slice(0, limit);
      return { TableNames: page, ...(remaining.length > limit && { LastEvaluatedTableName: page.at(-1) }) };
    },
    UpdateTimeToLive(input) {
      const table = tableOf(input);
      const specification = input.TimeToLiveSpecification as { AttributeName?: unknown; Enabled?: unknown } | undefined;
      if (typeof specification?.AttributeName !== 'string' || typeof specification.Enabled !== 'boolean') {
        throw new DynamoDbError('ValidationException', 'TimeToLiveSpecification needs AttributeName and Enabled');
      }
      store.state.tables.set(table.tableName, {
        ...table,
        timeToLive: { attributeName: specification.AttributeName, enabled: specification.Enabled },
      });
      return { TimeToLiveSpecification: specification };
    },
    DescribeTimeToLive(input) {
      const { timeToLive } = tableOf(input);
      return {
        TimeToLiveDescription: timeToLive?.enabled
          ? { TimeToLiveStatus: 'ENABLED', AttributeName: timeToLive.attributeName }
          : { TimeToLiveStatus: 'DISABLED' },
      };
    },
    GetItem(input) {
      const table = tableOf(input);
      const item = itemsOf(table).get(keyOf(table, requireItem(input.Key, 'key'), { exact: true }));
      return item ? { Item: item } : {};
    },
    PutItem(input) {
      const table = tableOf(input);
      const item = requireItem(input.Item, 'item');
      const key = keyOf(table, item, { exact: false });
      const previous = checkCondition(table, key, input, { singleItem: true });
      itemsOf(table).set(key, item);
      return input.ReturnValues === 'ALL_OLD' && previous ? { Attributes: previous } : {};
    },
    DeleteItem(input) {
      const table = tableOf(input);
      const key = keyOf(table, requireItem(input.Key, 'key'), { exact: true });
      const previous = checkCondition(table, key, input, { singleItem: true });
      itemsOf(table).delete(key);
      return input.ReturnValues === 'ALL_OLD' && previous ? { Attributes: previous } : {};
    },
    /** The item is created from its key when missing; its key attributes cannot be updated. */
    UpdateItem(input) {
      const table = tableOf(input);
      const keyItem = requireItem(input.Key, 'key');
      const key = keyOf(table, keyItem, { exact: true });
      const expression = requireString(input, 'UpdateExpression');
      const used = new Set<string>();
      const update = compileUpdate(expression, placeholdersOf(input), used);
      const previous = checkCondition(table, key, input, { singleItem: true, used });
      const updated = update(previous ?? keyItem);
      const keyUpdated = table.keySchema.find(({ AttributeName }) => !isDeepStrictEqual(updated[AttributeName], keyItem[AttributeName]));
      if (keyUpdated)
        throw new DynamoDbError(
          'ValidationException',
          `One or more parameter values were invalid: Cannot update attribute ${keyUpdated.AttributeName}. This attribute is part of the key`,
        );
      itemsOf(table).set(key, updated);
      switch (input.ReturnValues ?? 'NONE') {
        case 'NONE':
          return {};
        case 'ALL_NEW':
          return { Attributes: updated };
        case 'ALL_OLD':
          return previous ? { Attributes: previous } : {};
        default:
          throw new DynamoDbError(
            'ValidationException',
            `ReturnValues ${String(input.ReturnValues)} is not emulated by the local cloud for UpdateItem`,
          );
      }
    },
    Scan(input) {
      const table = tableOf(input);
      const limit = typeof input.Limit === 'number' && input.Limit > 0 ? input.Limit : DEFAULT_SCAN_LIMIT;
      const after =
        input.ExclusiveStartKey === undefined
          ? undefined
          : keyOf(table, requireItem(input.ExclusiveStartKey, 'exclusiveStartKey'), { exact: true });
      const page = itemsOf(table).page(after, limit);
      const last = page.items.at(-1) as Item | undefined;
      const lastKey =
        page.lastKey !== undefined && last
          ? Object.fromEntries(table.keySchema.map(({ AttributeName }) => [AttributeName, last[AttributeName]]))
          : undefined;
      return {
        Items: page.items,
        Count: page.items.length,
        ScannedCount: page.items.length,
        ...(lastKey && { LastEvaluatedKey: lastKey }),
      };
    },
    TransactWriteItems(input) {
      const actions = prepareTransaction(input.TransactItems);
      const reasons = actions.map((action) => {
        try {
          checkCondition(action.table, action.key, action.input, { singleItem: false });
          return { Code: 'None' };
        } catch (error) {
          if (!(error instanceof ConditionFailed)) throw error;
          return { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', ...(error.item && { Item: error.item }) };
        }
      });
      if (reasons.some((reason) => reason.Code !== 'None')) {
        throw new DynamoDbError(
          'TransactionCanceledException',
          `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((reason) => reason.Code).join(', ')}]`,
          400,
          { CancellationReasons: reasons },
        );
      }
      for (const action of actions) {
        if (action.kind === 'Put') itemsOf(action.table).set(action.key, action.item as Item);
        else if (action.kind === 'Delete') itemsOf(action.table).delete(action.key);
      }
      return {};
    },
  };

  interface TransactionAction {
    kind: 'Put' | 'Delete' | 'ConditionCheck';
    table: Stored<TableRecord>;
    key: string;
    item?: Item;
    input: Input;
  }

  function prepareTransaction(transactItems: unknown): TransactionAction[] {
    if (!Array.isArray(transactItems) || transactItems.length === 0 || transactItems.length > MAX_TRANSACTION_ITEMS) {
      throw new DynamoDbError(
        'ValidationException',
        `1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TRANSACTION_ITEMS}, and greater than or equal to 1`,
      );
    }
    const seen = new Set<string>();
    return transactItems.map((entry: Record<string, Input>) => {
      const [kind, ...others] = Object.keys(entry ?? {});
      if (others.length > 0 || (kind !== 'Put' && kind !== 'Delete' && kind !== 'ConditionCheck')) {
        throw new DynamoDbError(
          'ValidationException',
          `The local cloud emulates Put, Delete and ConditionCheck in TransactWriteItems, one per entry; got ${[kind, ...others].join(', ')}`,
        );
      }
      const action = entry[kind] as Input;
      const table = tableOf(action);
      const item = kind === 'Put' ? requireItem(action.Item, 'item') : undefined;
      const key = item ? keyOf(table, item, { exact: false }) : keyOf(table, requireItem(action.Key, 'key'), { exact: true });
      if (seen.has(`${table.tableName} ${key}`)) {
        throw new DynamoDbError('ValidationException', 'Transaction request cannot include multiple operations on one item');
      }
      seen.add(`${table.tableName} ${key}`);
      return { kind, table, key, input: action, ...(item && { item }) };
    });
  }

  function placeholdersOf(input: Input): ExpressionPlaceholders {
    return {
      ...(input.ExpressionAttributeNames !== undefined && { names: input.ExpressionAttributeNames as Record<string, string> }),
      ...(input.ExpressionAttributeValues !== undefined && {
        values: requireItem(input.ExpressionAttributeValues, 'expressionAttributeValues') as Record<string, AttributeValue>,
      }),
    };
  }

  /**
   * Throws ConditionalCheckFailedException (or, within a transaction, ConditionFailed); returns the item it replaces.
   * `used` holds the placeholders an update expression of the same request used.
   */
  function checkCondition(
    table: Stored<TableRecord>,
    key: string,
    input: Input,
    { singleItem, used }: { singleItem: boolean; used?: Set<string> },
  ): Item | undefined {
    const previous = itemsOf(table).get(key) as Item | undefined;
    if (typeof input.ConditionExpression !== 'string' && used === undefined) {
      if (input.ExpressionAttributeNames || input.ExpressionAttributeValues) {
        throw new DynamoDbError(
          'ValidationException',
          'ExpressionAttributeNames and ExpressionAttributeValues can only be specified when using expressions',
        );
      }
      return previous;
    }
    const placeholders = placeholdersOf(input);
    const allUsed = used ?? new Set<string>();
    const holds =
      typeof input.ConditionExpression === 'string' ? compileCondition(input.ConditionExpression, placeholders, allUsed) : () => true;
    checkPlaceholdersUsed(placeholders, allUsed);
    if (holds(previous)) return previous;
    const returned = input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? previous : undefined;
    if (!singleItem) throw new ConditionFailed(returned);
    throw new DynamoDbError('ConditionalCheckFailedException', 'The conditional request failed', 400, returned ? { Item: returned } : {});
  }

  return {
    signingName: 'dynamodb',
    resolve(request) {
      const name = protocol.operationName(request);
      const operation = Object.hasOwn(operations, name) ? operations[name] : undefined;
      if (!operation) throw new DynamoDbError('UnknownOperationException', `The local cloud does not emulate DynamoDB ${name}`);
      return {
        name,
        run: async () => protocol.jsonResponse(operation(protocol.parseBody(request), request.region), request.requestId),
      };
    },
    encodeError: protocol.encodeError,
  };
}

class ConditionFailed extends Error {
  readonly item: Item | undefined;

  constructor(item: Item | undefined) {
    super('The conditional request failed');
    this.item = item;
  }
}
