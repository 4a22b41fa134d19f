import { compareDecimals } from './condition-expression.ts';
import { type ExpressionPlaceholders, ExpressionReader } from './expression-reader.ts';
import { type AttributeValue, DynamoDbError, type Item } from './items.ts';

/**
 * DynamoDB's update-expression language as far as the service uses it: `SET name = :value, …` and `ADD name :value, …`
 * (a number added, or members added to a set; a missing attribute starts from nothing), each clause at most once,
 * top-level names or `#name` placeholders. REMOVE, DELETE, SET's functions and arithmetic, and nested paths are
 * refused with a ValidationException that says so, never silently misread.
 */
type Action = { kind: 'SET' | 'ADD'; name: string; value: AttributeValue };

const CLAUSES = ['SET', 'ADD', 'REMOVE', 'DELETE'];

/** Parses once; the placeholders it uses go into `used` (checkPlaceholdersUsed). The update returns the new item. */
export function compileUpdate(expression: string, placeholders: ExpressionPlaceholders, used: Set<string>): (item: Item) => Item {
  const reader = new ExpressionReader('UpdateExpression', expression, placeholders, used);
  const actions: Action[] = [];
  const seen = new Set<string>();
  while (!reader.ended) {
    const clause = reader.next().toUpperCase();
    if (!CLAUSES.includes(clause)) throw reader.invalid(`Syntax error; token: "${clause}"`);
    if (clause === 'REMOVE' || clause === 'DELETE') throw reader.invalid(`${clause} is not emulated by the local cloud`);
    if (seen.has(clause)) throw reader.invalid(`The "${clause}" section can only be used once in an update expression`);
    seen.add(clause);
    for (;;) {
      const name = reader.attributeName();
      if (clause === 'SET') reader.expect('=');
      if (!reader.isValue())
        throw reader.invalid(`only a :value placeholder is emulated as the operand of ${clause}; got "${reader.peek() ?? ''}"`);
      actions.push({ kind: clause as Action['kind'], name, value: reader.value() });
      if (reader.peek() !== ',') break;
      reader.skip(1);
    }
  }
  const names = actions.map(({ name }) => name);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice)
    throw reader.invalid(
      `Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [${twice}], path two: [${twice}]`,
    );
  return (item) => {
    const updated = { ...item };
    for (const { kind, name, value } of actions) updated[name] = kind === 'SET' ? value : added(updated[name], value);
    return updated;
  };
}

function incorrectOperand(): DynamoDbError {
  return new DynamoDbError('ValidationException', 'An operand in the update expression has an incorrect data type');
}

/** ADD: a number to a number, or the members of a set to a set of the same type; to a missing attribute, the value itself. */
function added(current: AttributeValue | undefined, value: AttributeValue): AttributeValue {
  if ('N' in value) {
    if (current === undefined) return value;
    if (!('N' in current)) throw incorrectOperand();
    const sum = Number(current.N) + Number(value.N);
    if (!Number.isSafeInteger(sum) || !Number.isInteger(Number(current.N)) || !Number.isInteger(Number(value.N))) {
      throw new DynamoDbError('ValidationException', 'ADD of numbers other than integers below 2^53 is not emulated by the local cloud');
    }
    return { N: String(sum) };
  }
  if ('NS' in value) {
    if (current !== undefined && !('NS' in current)) throw incorrectOperand();
    const members = current?.NS ?? [];
    return { NS: [...members, ...value.NS.filter((member) => !members.some((existing) => compareDecimals(existing, member) === 0))] };
  }
  if ('SS' in value) {
    if (current !== undefined && !('SS' in current)) throw incorrectOperand();
    return { SS: [...new Set([...(current?.SS ?? []), ...value.SS])] };
  }
  if ('BS' in value) throw new DynamoDbError('ValidationException', 'ADD of a binary set is not emulated by the local cloud');
  throw incorrectOperand();
}
