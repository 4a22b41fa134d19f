import { safeParse } from 'zod/mini';
import type { $ZodIssue, $ZodType, output } from 'zod/v4/core';

export interface FieldError {
  /** Where the problem is, as a JSON path: `devices[3].thingName`. */
  field: string;
  reason: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** A JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function formatFieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`;
    return text === '' ? String(key) : `${text}.${String(key)}`;
  }, '') || '(body)';
}

/** Every violation, not only the first, each with its field and reason. */
export function validate<S extends $ZodType>(schema: S, input: unknown): Validated<output<S>> {
  const result = safeParse(schema, input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: result.error.issues.flatMap(toFieldErrors) };
}

function toFieldErrors(issue: $ZodIssue): FieldError[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ field: formatFieldPath([...issue.path, key]), reason: 'is not a known field' }));
  }
  return [{ field: formatFieldPath(issue.path), reason: issue.message }];
}
