/**
 * Input validation driven by small constraint tables hand-written from the service models
 * (Smithy `length`, `pattern`, `range`, `enum`, `required`). Every violation is collected so the
 * error lists them all, as AWS's "N validation errors detected" messages do.
 */

export interface StringShape {
  type: 'string';
  min?: number;
  max?: number;
  /** A limit on the UTF-8 size, for members whose model states their length in bytes. */
  maxBytes?: number;
  /** The model's pattern as written; it must match the whole value, as AWS applies model patterns. */
  pattern?: string;
  enum?: readonly string[];
  /** Sensitive members' values are left out of the messages, as AWS leaves them out. */
  sensitive?: boolean;
}

export interface IntegerShape {
  type: 'integer';
  min?: number;
  max?: number;
}

export interface BooleanShape {
  type: 'boolean';
}

export interface ListShape {
  type: 'list';
  min?: number;
  max?: number;
  member: Shape;
}

export interface MapShape {
  type: 'map';
  min?: number;
  max?: number;
  key: StringShape;
  value: Shape;
}

export interface StructureShape {
  type: 'structure';
  required?: readonly string[];
  members: Readonly<Record<string, Shape>>;
}

export type Shape = StringShape | IntegerShape | BooleanShape | ListShape | MapShape | StructureShape;

export interface Violation {
  /** Member path, e.g. `entries.3.member.thingName`, in the style of AWS validation messages. */
  path: string;
  message: string;
}

export function validate(value: unknown, shape: Shape, path = ''): Violation[] {
  const violations: Violation[] = [];
  check(value, shape, path, violations);
  return violations;
}

/** The message AWS (Coral) services put in a validation error for a list of violations. */
export function describeViolations(violations: readonly Violation[]): string {
  const count = violations.length;
  const noun = count === 1 ? 'error' : 'errors';
  return `${count} validation ${noun} detected: ${violations.map((v) => v.message).join('; ')}`;
}

/** `input` when it satisfies `shape`; otherwise throws the service's own error for the violations. */
export function requireValid(
  input: unknown,
  shape: StructureShape,
  invalid: (violations: readonly Violation[]) => Error,
): Record<string, unknown> {
  const violations = validate(input, shape);
  if (violations.length > 0) throw invalid(violations);
  return input as Record<string, unknown>;
}

function check(value: unknown, shape: Shape, path: string, out: Violation[]): void {
  if (value === undefined || value === null) return;
  switch (shape.type) {
    case 'string':
      checkString(value, shape, path, out);
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        out.push(violation(value, path, 'Member must be an integer'));
        return;
      }
      if (shape.min !== undefined && value < shape.min) {
        out.push(violation(value, path, `Member must have value greater than or equal to ${shape.min}`));
      }
      if (shape.max !== undefined && value > shape.max) {
        out.push(violation(value, path, `Member must have value less than or equal to ${shape.max}`));
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') out.push(violation(value, path, 'Member must be a boolean'));
      return;
    case 'list':
      if (!Array.isArray(value)) {
        out.push(violation(value, path, 'Member must be a list'));
        return;
      }
      checkCount(value.length, value, shape, path, out);
      value.forEach((item, index) => {
        check(item, shape.member, `${path}.${index + 1}.member`, out);
      });
      return;
    case 'map': {
      if (!isPlainObject(value)) return void out.push(violation(value, path, 'Member must be a map'));
      const entries = Object.entries(value);
      checkCount(entries.length, value, shape, path, out);
      for (const [key, item] of entries) {
        check(key, shape.key, `${path}.key`, out);
        check(item, shape.value, `${path}.${key}.value`, out);
      }
      return;
    }
    case 'structure': {
      if (!isPlainObject(value)) return void out.push(violation(value, path, 'Member must be a structure'));
      for (const name of shape.required ?? []) {
        if (value[name] === undefined || value[name] === null) {
          out.push(violation(null, join(path, name), 'Member must not be null'));
        }
      }
      for (const [name, memberShape] of Object.entries(shape.members)) {
        check(value[name], memberShape, join(path, name), out);
      }
    }
  }
}

function checkString(value: unknown, shape: StringShape, path: string, out: Violation[]): void {
  if (typeof value !== 'string') return void out.push(violation(value, path, 'Member must be a string'));
  const shown = shape.sensitive ? undefined : value;
  if (shape.min !== undefined || shape.max !== undefined) {
    const length = codePointLength(value);
    if (shape.min !== undefined && length < shape.min) {
      out.push(violation(shown, path, `Member must have length greater than or equal to ${shape.min}`));
    }
    if (shape.max !== undefined && length > shape.max) {
      out.push(violation(shown, path, `Member must have length less than or equal to ${shape.max}`));
    }
  }
  if (shape.maxBytes !== undefined && Buffer.byteLength(value) > shape.maxBytes) {
    out.push(violation(shown, path, `Member must have size less than or equal to ${shape.maxBytes} bytes in UTF-8 encoding`));
  }
  if (shape.pattern !== undefined && !wholeMatch(shape.pattern).test(value)) {
    out.push(violation(shown, path, `Member must satisfy regular expression pattern: ${shape.pattern}`));
  }
  if (shape.enum && !shape.enum.includes(value)) {
    out.push(violation(shown, path, `Member must satisfy enum value set: [${shape.enum.join(', ')}]`));
  }
}

function checkCount(count: number, value: unknown, shape: ListShape | MapShape, path: string, out: Violation[]): void {
  if (shape.min !== undefined && count < shape.min) {
    out.push(violation(value, path, `Member must have length greater than or equal to ${shape.min}`));
  }
  if (shape.max !== undefined && count > shape.max) {
    out.push(violation(value, path, `Member must have length less than or equal to ${shape.max}`));
  }
}

/** Smithy lengths count Unicode code points; UTF-16 length is only an upper bound. */
function codePointLength(value: string): number {
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < value.length) i++;
    length++;
  }
  return length;
}

const compiledPatterns = new Map<string, RegExp>();

/**
 * The model's pattern anchored at both ends, compiled once. Models write Java regular expressions: their
 * POSIX class `\p{Graph}` (the visible ASCII characters, as in IoT's ThingTypeDescription) has no JavaScript
 * name and becomes its range.
 */
function wholeMatch(pattern: string): RegExp {
  let compiled = compiledPatterns.get(pattern);
  if (!compiled) {
    compiled = new RegExp(`^(?:${pattern.replaceAll('\\p{Graph}', '\\x21-\\x7E')})$`, 'u');
    compiledPatterns.set(pattern, compiled);
  }
  return compiled;
}

/** Coral's wording: `Value 'x' at …`, `Value null at …` for a missing member, `Value at …` for a sensitive one. */
function violation(value: unknown, path: string, constraint: string): Violation {
  const shown = value === undefined ? '' : value === null ? ' null' : ` '${typeof value === 'string' ? value : JSON.stringify(value)}'`;
  return { path, message: `Value${shown} at '${path}' failed to satisfy constraint: ${constraint}` };
}

function join(path: string, member: string): string {
  return path === '' ? member : `${path}.${member}`;
}

/** A JSON object (not an array, not null): what a request body, a template or a YAML mapping must be. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
