import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { isPlainObject } from '../wire/validation.ts';
import { parseFrameworkYaml } from './cloudformation-yaml-tags.ts';

/**
 * Resolves the subset of Serverless Framework variables that the project's `serverless.yml` is allowed to use
 * outside `resources:` (the contract with its author): `${self:a.b}`, `${sls:stage}`, `${opt:name}`,
 * `${param:name}`, `${env:NAME}`, `${file(./path)}` (optionally `${file(./path):a.b}`), each with optional
 * comma-separated fallbacks (`'literal'`, numbers, `true`/`false`/`null`, or another reference).
 */
export interface VariableSources {
  /** The whole unresolved document, for `${self:...}`. */
  document: Record<string, unknown>;
  stage: string;
  /** CLI-style options, for `${opt:...}`; `stage` is always present. */
  options: Record<string, string | undefined>;
  /** Already chosen parameters of the stage (`params.<stage>` over `params.default`). */
  params: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  /** Directory that `${file(...)}` paths are relative to. */
  baseDir: string;
}

class VariableResolutionError extends Error {
  override name = 'VariableResolutionError';
}

const MAX_DEPTH = 50;

export function resolveVariables(value: unknown, sources: VariableSources): unknown {
  return new Resolver(sources).resolveValue(value, 0);
}

class Resolver {
  private readonly sources: VariableSources;
  private readonly fileCache = new Map<string, unknown>();

  constructor(sources: VariableSources) {
    this.sources = sources;
  }

  resolveValue(value: unknown, depth: number): unknown {
    if (depth > MAX_DEPTH) {
      throw new VariableResolutionError('Variable resolution is too deep: is there a cycle of ${self:...} references?');
    }
    if (typeof value === 'string') return this.resolveString(value, depth);
    if (Array.isArray(value)) return value.map((item) => this.resolveValue(item, depth));
    if (isPlainObject(value)) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.resolveValue(item, depth)]));
    }
    return value;
  }

  private resolveString(text: string, depth: number): unknown {
    const first = findVariable(text, 0);
    if (!first) return text;
    // A string that is exactly one variable takes the variable's type (object, number, ...), as in Serverless.
    if (first.start === 0 && first.end === text.length) {
      return this.resolveValue(this.resolveExpression(first.inner, text, depth), depth + 1);
    }
    let result = '';
    let cursor = 0;
    for (let match: VariableMatch | undefined = first; match; match = findVariable(text, cursor)) {
      const resolved = this.resolveValue(this.resolveExpression(match.inner, text, depth), depth + 1);
      if (resolved !== null && typeof resolved === 'object') {
        throw new VariableResolutionError(`\${${match.inner}} resolves to an object and cannot be embedded in "${text}"`);
      }
      result += text.slice(cursor, match.start) + String(resolved);
      cursor = match.end;
    }
    return result + text.slice(cursor);
  }

  private resolveExpression(inner: string, wholeText: string, depth: number): unknown {
    for (const part of splitTopLevel(inner, ',')) {
      const value = this.resolvePart(part.trim(), depth);
      if (value !== undefined) return value;
    }
    throw new VariableResolutionError(`No value found for \${${inner}} in "${wholeText}"`);
  }

  private resolvePart(part: string, depth: number): unknown {
    const literal = parseLiteral(part);
    if (literal.matched) return literal.value;
    const nested = findVariable(part, 0);
    if (nested && nested.start === 0 && nested.end === part.length) {
      return this.resolveOptional(nested.inner, depth);
    }
    // Addresses may themselves contain variables, e.g. ${self:custom.${sls:stage}.bucket}.
    const reference = nested ? String(this.resolveString(part, depth + 1)) : part;
    return this.resolveReference(reference);
  }

  /** A fallback that is itself a variable: a missing value just means "try the next fallback". */
  private resolveOptional(inner: string, depth: number): unknown {
    for (const part of splitTopLevel(inner, ',')) {
      const value = this.resolvePart(part.trim(), depth);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  private resolveReference(reference: string): unknown {
    const fileMatch = /^file\((.+?)\)(?::(.+))?$/.exec(reference);
    if (fileMatch) return this.readFileVariable(fileMatch[1]!.trim(), fileMatch[2]);
    const separator = reference.indexOf(':');
    if (separator < 0) throw new VariableResolutionError(`Unsupported variable \${${reference}}`);
    const source = reference.slice(0, separator);
    const address = reference.slice(separator + 1).trim();
    switch (source) {
      case 'self':
        return getPath(this.sources.document, address);
      case 'sls':
        if (address === 'stage') return this.sources.stage;
        throw new VariableResolutionError(`Unsupported variable \${sls:${address}}`);
      case 'opt':
        return this.sources.options[address];
      case 'param':
        return this.sources.params[address];
      case 'env':
        return this.sources.env[address];
      default:
        throw new VariableResolutionError(
          `Unsupported variable source "${source}" in \${${reference}}; the local runner resolves self, sls, opt, param, env and file`,
        );
    }
  }

  private readFileVariable(relativePath: string, address: string | undefined): unknown {
    const path = resolve(this.sources.baseDir, relativePath.replace(/^['"]|['"]$/g, ''));
    if (!this.fileCache.has(path)) this.fileCache.set(path, readFileContent(path));
    const content = this.fileCache.get(path);
    return address === undefined ? content : getPath(content, address);
  }
}

/** The content of a `${file()}`: JSON and YAML parsed, anything else as text; undefined if there is no such file. */
function readFileContent(path: string): unknown {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  const extension = extname(path).toLowerCase();
  return extension === '.json' ? JSON.parse(text) : extension === '.yml' || extension === '.yaml' ? parseFrameworkYaml(text) : text;
}

/** What `value` includes if it is exactly `${file(./path)}`, its variables left unresolved; otherwise undefined. */
export function includedFile(value: unknown, baseDir: string): unknown {
  const path = typeof value === 'string' ? /^\$\{file\((.+?)\)\}$/.exec(value)?.[1] : undefined;
  return path === undefined ? undefined : readFileContent(resolve(baseDir, path.trim().replace(/^['"]|['"]$/g, '')));
}

interface VariableMatch {
  start: number;
  end: number;
  inner: string;
}

/** Finds the next `${...}` from `from`, honouring nested braces. */
/** `${AWS::Region}` in a Fn::Sub is CloudFormation's, not the Framework's: it is left for CloudFormation, as Serverless does. */
const CLOUDFORMATION_REFERENCE = '${AWS::';

function findVariable(text: string, from: number): VariableMatch | undefined {
  let start = text.indexOf('${', from);
  while (start >= 0 && text.startsWith(CLOUDFORMATION_REFERENCE, start)) start = text.indexOf('${', start + 2);
  if (start < 0) return undefined;
  let depth = 0;
  for (let index = start + 1; index < text.length; index++) {
    const char = text[index];
    if (char === '{') depth++;
    else if (char === '}' && --depth === 0) return { start, end: index + 1, inner: text.slice(start + 2, index) };
  }
  throw new VariableResolutionError(`Unterminated variable in "${text}"`);
}

/** Splits on `separator` outside quotes, parentheses and nested `${...}`. */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let current = '';
  for (const char of text) {
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === '{' || char === '(') {
      depth++;
    } else if (char === '}' || char === ')') {
      depth--;
    } else if (char === separator && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  parts.push(current);
  return parts;
}

function parseLiteral(part: string): { matched: boolean; value?: unknown } {
  const quoted = /^(['"])(.*)\1$/s.exec(part);
  if (quoted) return { matched: true, value: quoted[2] };
  if (part === 'true' || part === 'false') return { matched: true, value: part === 'true' };
  if (part === 'null') return { matched: true, value: null };
  if (/^-?\d+(\.\d+)?$/.test(part)) return { matched: true, value: Number(part) };
  return { matched: false };
}

function getPath(root: unknown, address: string): unknown {
  let current: unknown = root;
  for (const key of address.split('.').filter((segment) => segment !== '')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
