import { isDeepStrictEqual } from 'node:util';
import { type ExpressionPlaceholders, ExpressionReader } from './expression-reader.ts';
import type { AttributeValue, Item } from './items.ts';

/**
 * DynamoDB's condition-expression language: comparators, BETWEEN, IN, the functions attribute_exists,
 * attribute_not_exists, attribute_type, begins_with, contains and size, AND/OR/NOT and parentheses
 * (precedence NOT, AND, OR), over top-level attribute names or `#name` placeholders and `:value`
 * placeholders. Nested paths (`a.b`, `a[0]`) and the reserved-word check are not emulated: they are
 * refused with a ValidationException that says so, never silently misread.
 */
type Operand = { kind: 'path'; name: string } | { kind: 'value'; value: AttributeValue } | { kind: 'size'; name: string };
type Condition =
  | { kind: 'and' | 'or'; left: Condition; right: Condition }
  | { kind: 'not'; operand: Condition }
  | { kind: 'compare'; operator: string; left: Operand; right: Operand }
  | { kind: 'between'; operand: Operand; low: Operand; high: Operand }
  | { kind: 'in'; operand: Operand; candidates: Operand[] }
  | { kind: 'function'; name: string; path: string; argument?: Operand };

const COMPARATORS = new Set(['=', '<>', '<', '<=', '>', '>=']);
const FUNCTIONS_OF_ONE_PATH = new Set(['attribute_exists', 'attribute_not_exists']);
const FUNCTIONS_OF_PATH_AND_OPERAND = new Set(['attribute_type', 'begins_with', 'contains']);

/**
 * Parses once and returns the evaluator. The placeholders it uses go into `used`: the caller checks them with
 * checkPlaceholdersUsed once the request's other expressions (an update's) have been read too.
 */
export function compileCondition(
  expression: string,
  placeholders: ExpressionPlaceholders,
  used: Set<string>,
): (item: Item | undefined) => boolean {
  const reader = new ExpressionReader('ConditionExpression', expression, placeholders, used);
  const operand = (): Operand => {
    if (reader.isValue()) return { kind: 'value', value: reader.value() };
    if (reader.peek() === 'size' && reader.peek(1) === '(') {
      reader.skip(2);
      const name = reader.attributeName();
      reader.expect(')');
      return { kind: 'size', name };
    }
    return { kind: 'path', name: reader.attributeName() };
  };
  const argumentAfterComma = (): Operand => {
    reader.expect(',');
    return operand();
  };
  const primary = (): Condition => {
    const token = reader.peek();
    if (token === '(') {
      reader.skip(1);
      const inner = or();
      reader.expect(')');
      return inner;
    }
    if (token && (FUNCTIONS_OF_ONE_PATH.has(token) || FUNCTIONS_OF_PATH_AND_OPERAND.has(token)) && reader.peek(1) === '(') {
      reader.skip(2);
      const path = reader.attributeName();
      const argument = FUNCTIONS_OF_PATH_AND_OPERAND.has(token) ? argumentAfterComma() : undefined;
      reader.expect(')');
      return { kind: 'function', name: token, path, ...(argument && { argument }) };
    }
    const left = operand();
    const following = reader.next();
    if (COMPARATORS.has(following)) return { kind: 'compare', operator: following, left, right: operand() };
    if (following.toUpperCase() === 'BETWEEN') {
      const low = operand();
      reader.expect('AND');
      return { kind: 'between', operand: left, low, high: operand() };
    }
    if (following.toUpperCase() === 'IN') {
      reader.expect('(');
      const candidates = [operand()];
      while (reader.peek() === ',') {
        reader.skip(1);
        candidates.push(operand());
      }
      reader.expect(')');
      return { kind: 'in', operand: left, candidates };
    }
    throw reader.invalid(`Syntax error; token: "${following}"`);
  };
  const not = (): Condition => {
    if (!reader.isKeyword('NOT')) return primary();
    reader.skip(1);
    return { kind: 'not', operand: not() };
  };
  const and = (): Condition => {
    let left = not();
    while (reader.isKeyword('AND')) {
      reader.skip(1);
      left = { kind: 'and', left, right: not() };
    }
    return left;
  };
  const or = (): Condition => {
    let left = and();
    while (reader.isKeyword('OR')) {
      reader.skip(1);
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };

  const condition = or();
  reader.end();
  return (item) => evaluate(condition, item ?? {});
}

function evaluate(condition: Condition, item: Item): boolean {
  switch (condition.kind) {
    case 'and':
      return evaluate(condition.left, item) && evaluate(condition.right, item);
    case 'or':
      return evaluate(condition.left, item) || evaluate(condition.right, item);
    case 'not':
      return !evaluate(condition.operand, item);
    case 'compare':
      return compare(condition.operator, operandValue(condition.left, item), operandValue(condition.right, item));
    case 'between': {
      const value = operandValue(condition.operand, item);
      return compare('>=', value, operandValue(condition.low, item)) && compare('<=', value, operandValue(condition.high, item));
    }
    case 'in': {
      const value = operandValue(condition.operand, item);
      return condition.candidates.some((candidate) => compare('=', value, operandValue(candidate, item)));
    }
    case 'function':
      return applyFunction(condition.name, item[condition.path], condition.argument && operandValue(condition.argument, item));
  }
}

function operandValue(operand: Operand, item: Item): AttributeValue | undefined {
  if (operand.kind === 'value') return operand.value;
  const value = item[operand.name];
  if (operand.kind === 'path' || value === undefined) return value;
  return { N: String(sizeOf(value)) };
}

function sizeOf(value: AttributeValue): number {
  if ('S' in value) return Buffer.byteLength(value.S, 'utf8');
  if ('B' in value) return Buffer.from(value.B, 'base64').length;
  for (const set of ['SS', 'NS', 'BS', 'L'] as const) if (set in value) return (value as Record<string, unknown[]>)[set]?.length ?? 0;
  if ('M' in value) return Object.keys(value.M).length;
  return 0;
}

/**
 * Order exists between two values of one scalar type only; `=` and `<>` compare any two values, numbers by
 * value and sets as sets. A missing attribute equals nothing, so `<>` holds for it.
 */
function compare(operator: string, left: AttributeValue | undefined, right: AttributeValue | undefined): boolean {
  if (operator === '<>') return left === undefined || right === undefined || !sameValue(left, right);
  if (left === undefined || right === undefined) return false;
  if (operator === '=') return sameValue(left, right);
  const order = scalarOrder(left, right);
  if (order === undefined) return false;
  switch (operator) {
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    default:
      return order >= 0;
  }
}

function sameValue(left: AttributeValue, right: AttributeValue): boolean {
  if ('N' in left && 'N' in right) return compareDecimals(left.N, right.N) === 0;
  if ('NS' in left && 'NS' in right) return sameMembers(left.NS, right.NS, (a, b) => compareDecimals(a, b) === 0);
  if ('SS' in left && 'SS' in right) return sameMembers(left.SS, right.SS, (a, b) => a === b);
  if ('BS' in left && 'BS' in right) return sameMembers(left.BS, right.BS, (a, b) => a === b);
  return isDeepStrictEqual(left, right);
}

function sameMembers(left: readonly string[], right: readonly string[], equal: (a: string, b: string) => boolean): boolean {
  return left.length === right.length && left.every((member) => right.some((other) => equal(member, other)));
}

/** A decimal as its sign, significant digits and the power of ten of its first one: zero has no digits. */
function parseDecimal(text: string): { sign: -1 | 0 | 1; digits: string; magnitude: number } {
  const [mantissa = '', exponent = '0'] = text.trim().toLowerCase().split('e');
  const [whole = '', fraction = ''] = mantissa.replace(/^[+-]/, '').split('.');
  const all = `${whole}${fraction}`;
  const first = all.search(/[1-9]/);
  if (first < 0) return { sign: 0, digits: '', magnitude: 0 };
  return {
    sign: mantissa.startsWith('-') ? -1 : 1,
    digits: all.slice(first).replace(/0+$/, ''),
    magnitude: whole.length - first + Number(exponent),
  };
}

/** DynamoDB numbers have up to 38 significant digits, more than a double holds: compared as decimals. */
export function compareDecimals(left: string, right: string): number {
  const a = parseDecimal(left);
  const b = parseDecimal(right);
  if (a.sign !== b.sign) return Math.sign(a.sign - b.sign);
  if (a.sign === 0) return 0;
  if (a.magnitude !== b.magnitude) return a.sign * Math.sign(a.magnitude - b.magnitude);
  const width = Math.max(a.digits.length, b.digits.length);
  const [x, y] = [a.digits.padEnd(width, '0'), b.digits.padEnd(width, '0')];
  return a.sign * (x < y ? -1 : x > y ? 1 : 0);
}

function scalarOrder(left: AttributeValue, right: AttributeValue): number | undefined {
  if ('N' in left && 'N' in right) return compareDecimals(left.N, right.N);
  if ('S' in left && 'S' in right) return left.S < right.S ? -1 : left.S > right.S ? 1 : 0;
  if ('B' in left && 'B' in right) return Buffer.compare(Buffer.from(left.B, 'base64'), Buffer.from(right.B, 'base64'));
  return undefined;
}

function applyFunction(name: string, value: AttributeValue | undefined, argument: AttributeValue | undefined): boolean {
  switch (name) {
    case 'attribute_exists':
      return value !== undefined;
    case 'attribute_not_exists':
      return value === undefined;
    case 'attribute_type':
      return value !== undefined && argument !== undefined && 'S' in argument && argument.S in value;
    case 'begins_with':
      if (value === undefined || argument === undefined) return false;
      if ('S' in value && 'S' in argument) return value.S.startsWith(argument.S);
      return (
        'B' in value &&
        'B' in argument &&
        Buffer.from(value.B, 'base64').subarray(0, Buffer.from(argument.B, 'base64').length).equals(Buffer.from(argument.B, 'base64'))
      );
    default:
      return contains(value, argument);
  }
}

function contains(value: AttributeValue | undefined, argument: AttributeValue | undefined): boolean {
  if (value === undefined || argument === undefined) return false;
  if ('S' in value) return 'S' in argument && value.S.includes(argument.S);
  if ('SS' in value) return 'S' in argument && value.SS.includes(argument.S);
  if ('NS' in value) return 'N' in argument && value.NS.some((member) => Number(member) === Number(argument.N));
  if ('L' in value) return value.L.some((member) => isDeepStrictEqual(member, argument));
  return false;
}
