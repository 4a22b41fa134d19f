import type { Stored, TableRecord } from '../../store.ts';
import { AwsJsonError } from '../../wire/aws-json.ts';

export type AttributeValue =
  | { S: string }
  | { N: string }
  | { B: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] }
  | { L: AttributeValue[] }
  | { M: Record<string, AttributeValue> };

export type Item = Record<string, AttributeValue>;

/** DynamoDB's errors are awsJson1.0 errors; its throttling and server faults share the shape. */
export class DynamoDbError extends AwsJsonError {}

const ATTRIBUTE_TYPES = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'SS', 'NS', 'BS', 'L', 'M']);

/** Checks an item's shape as DynamoDB does before any condition: one type per value, numbers that parse. */
export function requireItem(value: unknown, member: string): Item {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DynamoDbError(
      'ValidationException',
      `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must not be null`,
    );
  }
  for (const [name, attribute] of Object.entries(value)) requireAttributeValue(attribute, `${member}.${name}`);
  return value as Item;
}

function requireAttributeValue(value: unknown, member: string): void {
  const types = typeof value === 'object' && value !== null ? Object.keys(value) : [];
  const [type] = types;
  if (types.length !== 1 || type === undefined || !ATTRIBUTE_TYPES.has(type)) {
    throw new DynamoDbError(
      'ValidationException',
      `Supplied AttributeValue at ${member} has multiple datatypes or none; it must have exactly one`,
    );
  }
  const content = (value as Record<string, unknown>)[type];
  if (type === 'N' && (typeof content !== 'string' || !Number.isFinite(Number(content)) || content.trim() === '')) {
    throw new DynamoDbError('ValidationException', `The parameter cannot be converted to a numeric value: ${String(content)}`);
  }
  if (type === 'L') for (const [index, member_] of (content as unknown[]).entries()) requireAttributeValue(member_, `${member}[${index}]`);
  if (type === 'M') for (const [name, member_] of Object.entries(content as object)) requireAttributeValue(member_, `${member}.${name}`);
}

/** The item's primary key as a string: its key attributes' values in key-schema order; the table's items are keyed by it. */
export function keyOf(table: Stored<TableRecord>, item: Item, { exact }: { exact: boolean }): string {
  if (exact && Object.keys(item).length !== table.keySchema.length) {
    throw new DynamoDbError('ValidationException', 'The provided key element does not match the schema');
  }
  for (const { AttributeName: name } of table.keySchema) {
    const value = item[name];
    const type = table.attributeDefinitions.find((definition) => definition.AttributeName === name)?.AttributeType;
    if (value === undefined || type === undefined || !(type in value)) {
      throw new DynamoDbError(
        'ValidationException',
        exact
          ? 'The provided key element does not match the schema'
          : `One or more parameter values were invalid: Missing the key ${name} in the item`,
      );
    }
  }
  return JSON.stringify(table.keySchema.map((element) => item[element.AttributeName]));
}
