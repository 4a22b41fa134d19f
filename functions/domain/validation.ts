import { safeParse } from 'zod/mini';
import type { $ZodIssue, $ZodRawIssue, $ZodType, output } from 'zod/v4/core';

export interface FieldError {
  /** Where the problem is, as a JSON path: `devices[3].thingName`. */
  field: string;
  reason: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** A JSON text's value, such as an execution's input; null for no text (as for `null`), undefined for a text that is not JSON. */
export function parsedJson(text: string | undefined): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text ?? 'null');
  } catch {
    // Not JSON: no value.
  }
  return value;
}

/** A JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function formatFieldPath(path: readonly PropertyKey[]): string {
  return (
    path.reduce<string>((text, key) => {
      if (typeof key === 'number') return `${text}[${key}]`;
      return text === '' ? String(key) : `${text}.${String(key)}`;
    }, '') || '(body)'
  );
}

/** Far deeper than any request goes (a device's parameter value is at depth 4), far shallower than a stack overflow. */
export const MAX_NESTING_DEPTH = 32;

/**
 * Found without recursion, because zod, JSON.stringify and the digest all recurse: a body nested thousands of
 * levels deep would overflow their stack (and an event that throws is a poison event Lambda retries).
 */
function exceedsDepth(value: unknown, maxDepth: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= maxDepth) return true;
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return false;
}

/** Every violation, not only the first, each with its field and reason. */
export function validate<S extends $ZodType>(schema: S, input: unknown): Validated<output<S>> {
  if (exceedsDepth(input, MAX_NESTING_DEPTH)) {
    return {
      ok: false,
      errors: [{ field: '(body)', reason: `nests objects and arrays more than ${MAX_NESTING_DEPTH} levels deep, which no request does` }],
    };
  }
  const result = safeParse(schema, input, { error: reasonOf });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: result.error.issues.flatMap(toFieldErrors) };
}

/** How a JSON value of each type zod expects is named to whoever sent the wrong one. */
const TYPE_NAMES: Partial<Record<string, string>> = {
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  array: 'an array',
};

/**
 * zod/mini has no messages of its own: it says "Invalid input" wherever the schema gives none. These are
 * the issues any field can raise, worded once here for the API's 400s and the CLI alike.
 */
function reasonOf(issue: $ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${TYPE_NAMES[issue.expected] ?? `a ${issue.expected}`}`;
    case 'invalid_value': {
      const values = issue.values.map(String);
      return `must be ${values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values.at(-1)}` : values[0]}`;
    }
    case 'invalid_key':
      // Stryker disable next-line StringLiteral: equivalent: a parameter's name breaks one of its bounds at most (empty, or too long)
      return `its name ${issue.issues.map((keyIssue) => keyIssue.message).join('; ')}`;
    // Stryker disable next-line ConditionalExpression: equivalent: without the default, the switch falls through to the same undefined
    default:
      return undefined;
  }
}

function toFieldErrors(issue: $ZodIssue): FieldError[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ field: formatFieldPath([...issue.path, key]), reason: 'is not a known field' }));
  }
  return [{ field: formatFieldPath(issue.path), reason: issue.message }];
}
