import { BlockList, isIP } from 'node:net';
import { isPlainObject } from '../../wire/validation.ts';

/**
 * EventBridge's event-pattern language on event buses (the EventBridge user guide, "Event patterns" and
 * "Comparison operators"): a pattern mirrors the event's structure; its leaves are arrays whose elements
 * are ORed, its fields ANDed; `$or` ORs whole sub-patterns. An event value that is an array matches when
 * any of its elements does, and arrays of objects are walked through (`detail.items.name` reaches every
 * item's name). No maintained npm package implements the language (AWS's own matcher, event-ruler, is
 * Java), so it is written here against the guide's examples.
 */
export type CompiledPattern = (event: unknown) => boolean;

/** A pattern the language does not accept; the service answers it as InvalidEventPatternException. */
export class InvalidPatternError extends Error {}

/** AWS accepts numbers in numeric matching only within ±5.0e9. */
const NUMERIC_LIMIT = 5e9;
const NUMERIC_OPERATORS = new Set(['=', '<', '<=', '>', '>=']);

/** Parses and checks a pattern (a JSON string, as PutRule and TestEventPattern take it) once. */
export function compilePattern(text: string): CompiledPattern {
  let pattern: unknown;
  try {
    pattern = JSON.parse(text);
  } catch {
    throw new InvalidPatternError('the pattern is not valid JSON');
  }
  if (!isPlainObject(pattern)) throw new InvalidPatternError('the pattern must be a JSON object');
  const compiled = compileObject(pattern, '');
  return (event) => compiled([event]);
}

type Values = unknown[];

/** Every value at `key` of the nodes, arrays flattened: the multiset a leaf's matchers are tested against. */
function valuesAt(nodes: Values, key: string): Values {
  const values: Values = [];
  for (const node of nodes) {
    if (!isPlainObject(node) || !Object.hasOwn(node, key)) continue;
    const value = node[key];
    if (Array.isArray(value)) values.push(...value.flat(Infinity));
    else values.push(value);
  }
  return values;
}

function compileObject(pattern: Record<string, unknown>, path: string): (nodes: Values) => boolean {
  const fields = Object.entries(pattern).map(([key, value]): ((nodes: Values) => boolean) => {
    const at = path === '' ? key : `${path}.${key}`;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2 || !value.every(isPlainObject)) {
        throw new InvalidPatternError(`"$or" at ${path || 'the top level'} must be an array of at least two objects`);
      }
      const branches = value.map((branch) => compileObject(branch, path));
      return (nodes) => branches.some((branch) => branch(nodes));
    }
    if (isPlainObject(value)) {
      const nested = compileObject(value, at);
      return (nodes) => nested(valuesAt(nodes, key));
    }
    if (!Array.isArray(value)) throw new InvalidPatternError(`"${at}" must be an object or an array`);
    const leaf = compileLeaf(value, at);
    return (nodes) => leaf(nodes, key);
  });
  return (nodes) => fields.every((field) => field(nodes));
}

type LeafMatcher = (nodes: Values, key: string) => boolean;
type ValueMatcher = (value: unknown) => boolean;

function compileLeaf(elements: unknown[], path: string): LeafMatcher {
  const matchers = elements.map((element) => compileElement(element, path));
  return (nodes, key) => matchers.some((matcher) => matcher(nodes, key));
}

function compileElement(element: unknown, path: string): LeafMatcher {
  if (!isPlainObject(element)) {
    if (Array.isArray(element)) throw new InvalidPatternError(`"${path}" must not hold nested arrays`);
    return anyValue(equalTo(element));
  }
  const keys = Object.keys(element);
  const [operator] = keys;
  if (keys.length !== 1 || operator === undefined) throw new InvalidPatternError(`a matcher of "${path}" must have exactly one operator`);
  const operand = element[operator];
  switch (operator) {
    case 'exists': {
      if (typeof operand !== 'boolean') throw new InvalidPatternError(`"exists" of "${path}" must be true or false`);
      // Leaves only: a key that holds an object is a branch, which `exists: true` does not match.
      return (nodes, key) => valuesAt(nodes, key).some((value) => !isPlainObject(value)) === operand;
    }
    case 'anything-but':
      return anyValue(anythingBut(operand, path));
    case 'numeric':
      return anyValue(numeric(operand, path));
    case 'cidr':
      return anyValue(cidr(operand, path));
    default:
      return anyValue(stringMatcher(operator, operand, path));
  }
}

/** A leaf matches when any value at it does; objects are branches, never leaf values. */
function anyValue(matcher: ValueMatcher): LeafMatcher {
  return (nodes, key) => valuesAt(nodes, key).some((value) => !isPlainObject(value) && matcher(value));
}

function equalTo(expected: unknown): ValueMatcher {
  if (typeof expected === 'number') return (value) => typeof value === 'number' && value === expected;
  if (typeof expected === 'string' || typeof expected === 'boolean' || expected === null) return (value) => value === expected;
  throw new InvalidPatternError(`unsupported value ${JSON.stringify(expected)}`);
}

/** `prefix`, `suffix`, `equals-ignore-case`, `wildcard`; the first two also take `{"equals-ignore-case": s}`. */
function stringMatcher(operator: string, operand: unknown, path: string): ValueMatcher {
  const ignoreCase =
    (operator === 'prefix' || operator === 'suffix') &&
    isPlainObject(operand) &&
    Object.keys(operand).length === 1 &&
    'equals-ignore-case' in operand;
  const text = ignoreCase ? (operand as Record<string, unknown>)['equals-ignore-case'] : operand;
  if (typeof text !== 'string') throw new InvalidPatternError(`"${operator}" of "${path}" must be a string`);
  const fold = (value: string) => (ignoreCase ? value.toLowerCase() : value);
  const expected = fold(text);
  const onStrings =
    (test: (value: string) => boolean): ValueMatcher =>
    (value) =>
      typeof value === 'string' && test(value);
  switch (operator) {
    case 'prefix':
      return onStrings((value) => fold(value).startsWith(expected));
    case 'suffix':
      return onStrings((value) => fold(value).endsWith(expected));
    case 'equals-ignore-case':
      return onStrings((value) => value.toLowerCase() === text.toLowerCase());
    case 'wildcard': {
      const regex = wildcardRegex(text, path);
      return onStrings((value) => regex.test(value));
    }
    default:
      throw new InvalidPatternError(`unknown operator "${operator}" at "${path}"`);
  }
}

/** `*` matches any run of characters, `\*` a star; consecutive stars are refused, as AWS refuses them. */
function wildcardRegex(text: string, path: string): RegExp {
  let source = '';
  for (let index = 0; index < text.length; index++) {
    const char = text[index] as string;
    if (char === '\\' && (text[index + 1] === '*' || text[index + 1] === '\\')) {
      source += `\\${text[++index]}`;
    } else if (char === '*') {
      if (text[index + 1] === '*') throw new InvalidPatternError(`"wildcard" of "${path}" must not have consecutive stars`);
      source += '.*';
    } else {
      source += char.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`, 's');
}

function anythingBut(operand: unknown, path: string): ValueMatcher {
  if (isPlainObject(operand)) {
    const [operator, ...others] = Object.keys(operand);
    if (operator === undefined || others.length > 0) throw new InvalidPatternError(`"anything-but" of "${path}" must have one operator`);
    const inner = operand[operator];
    const alternatives = Array.isArray(inner) ? inner : [inner];
    if (alternatives.length === 0) throw new InvalidPatternError(`"anything-but" of "${path}" must not be empty`);
    const matchers = alternatives.map((alternative) => stringMatcher(operator, alternative, path));
    // Like the positive string operators, the negations apply to strings only.
    return (value) => typeof value === 'string' && !matchers.some((matcher) => matcher(value));
  }
  const excluded = new Set<unknown>(Array.isArray(operand) ? operand : [operand]);
  const kinds = new Set([...excluded].map((item) => typeof item));
  if (kinds.size !== 1 || !(kinds.has('string') || kinds.has('number'))) {
    throw new InvalidPatternError(`"anything-but" of "${path}" must be a string, a number, a list of either, or an operator`);
  }
  return (value) => !excluded.has(value);
}

function numeric(operand: unknown, path: string): ValueMatcher {
  const invalid = () => new InvalidPatternError(`"numeric" of "${path}" must be [op, number] or [">"|">=", number, "<"|"<=", number]`);
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) throw invalid();
  const conditions: [string, number][] = [];
  for (let index = 0; index < operand.length; index += 2) {
    const [operator, bound] = [operand[index], operand[index + 1]];
    if (typeof operator !== 'string' || !NUMERIC_OPERATORS.has(operator) || typeof bound !== 'number') throw invalid();
    if (Math.abs(bound) > NUMERIC_LIMIT) throw new InvalidPatternError(`"numeric" bounds of "${path}" must be within ±${NUMERIC_LIMIT}`);
    conditions.push([operator, bound]);
  }
  if (conditions.length === 2) {
    const [[lower], [upper]] = conditions as [[string, number], [string, number]];
    if (!(lower === '>' || lower === '>=') || !(upper === '<' || upper === '<=')) throw invalid();
  }
  const holds = (value: number, [operator, bound]: [string, number]) =>
    operator === '='
      ? value === bound
      : operator === '<'
        ? value < bound
        : operator === '<='
          ? value <= bound
          : operator === '>'
            ? value > bound
            : value >= bound;
  return (value) => typeof value === 'number' && conditions.every((condition) => holds(value, condition));
}

function cidr(operand: unknown, path: string): ValueMatcher {
  const [address, bits] = typeof operand === 'string' ? operand.split('/') : [];
  const family = address === undefined ? 0 : isIP(address);
  const prefix = Number(bits);
  if (family === 0 || bits === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
    throw new InvalidPatternError(`"cidr" of "${path}" must be an IPv4 or IPv6 block such as 10.0.0.0/24`);
  }
  const block = new BlockList();
  const type = family === 4 ? 'ipv4' : 'ipv6';
  block.addSubnet(address as string, prefix, type);
  return (value) => typeof value === 'string' && isIP(value) === family && block.check(value, type);
}
