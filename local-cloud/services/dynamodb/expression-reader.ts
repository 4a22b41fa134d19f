import { type AttributeValue, DynamoDbError } from './items.ts';

/** The `#name` and `:value` placeholders of a request, shared by its condition and update expressions. */
export interface ExpressionPlaceholders {
  names?: Record<string, string>;
  values?: Record<string, AttributeValue>;
}

const TOKEN = /\s*(<>|<=|>=|[=<>(),]|[#:]?[A-Za-z0-9_]+|\S)/y;

function tokenize(expression: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expression.length) {
    const match = TOKEN.exec(expression);
    if (!match) break;
    if (match[1]) tokens.push(match[1]);
  }
  return tokens;
}

/**
 * Reads one expression's tokens, resolving placeholders and noting which it used: DynamoDB refuses a placeholder
 * that no expression of the request uses (checkPlaceholdersUsed, once every expression has been read).
 */
export class ExpressionReader {
  private readonly label: string;
  private readonly tokens: string[];
  private readonly placeholders: ExpressionPlaceholders;
  private readonly used: Set<string>;
  private position = 0;

  constructor(label: string, expression: string, placeholders: ExpressionPlaceholders, used: Set<string>) {
    this.label = label;
    this.placeholders = placeholders;
    this.used = used;
    this.tokens = tokenize(expression);
    if (this.tokens.length === 0) throw this.invalid('The expression can not be empty');
  }

  invalid(message: string): DynamoDbError {
    return new DynamoDbError('ValidationException', `Invalid ${this.label}: ${message}`);
  }

  peek(offset = 0): string | undefined {
    return this.tokens[this.position + offset];
  }

  next(): string {
    const token = this.tokens[this.position++];
    if (token === undefined) throw this.invalid('Syntax error; the expression ends too early');
    return token;
  }

  skip(count: number): void {
    this.position += count;
  }

  expect(wanted: string): void {
    const token = this.next();
    if (token.toUpperCase() !== wanted) throw this.invalid(`Syntax error; token: "${token}", expected "${wanted}"`);
  }

  isKeyword(keyword: string): boolean {
    return this.peek()?.toUpperCase() === keyword;
  }

  get ended(): boolean {
    return this.position >= this.tokens.length;
  }

  /** Fails on whatever is left: the grammar has read all it knows. */
  end(): void {
    if (!this.ended) throw this.invalid(`Syntax error; token: "${this.peek()}"`);
  }

  attributeName(): string {
    const token = this.next();
    if (this.peek() === '.' || this.peek() === '[') throw this.invalid('nested attribute paths are not emulated by the local cloud');
    if (token.startsWith('#')) {
      const name = this.placeholders.names?.[token];
      if (name === undefined)
        throw this.invalid(`An expression attribute name used in the document path is not defined; attribute name: ${token}`);
      this.used.add(token);
      return name;
    }
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(token)) throw this.invalid(`Syntax error; token: "${token}"`);
    return token;
  }

  isValue(): boolean {
    return this.peek()?.startsWith(':') ?? false;
  }

  value(): AttributeValue {
    const token = this.next();
    const value = token.startsWith(':') ? this.placeholders.values?.[token] : undefined;
    if (value === undefined)
      throw this.invalid(`An expression attribute value used in expression is not defined; attribute value: ${token}`);
    this.used.add(token);
    return value;
  }
}

/** After every expression of a request has been read: a placeholder none of them used is refused, as on AWS. */
export function checkPlaceholdersUsed(placeholders: ExpressionPlaceholders, used: ReadonlySet<string>): void {
  const unusedNames = Object.keys(placeholders.names ?? {}).filter((name) => !used.has(name));
  if (unusedNames.length > 0)
    throw new DynamoDbError(
      'ValidationException',
      `Value provided in ExpressionAttributeNames unused in expressions: keys: {${unusedNames.join(', ')}}`,
    );
  const unusedValues = Object.keys(placeholders.values ?? {}).filter((name) => !used.has(name));
  if (unusedValues.length > 0)
    throw new DynamoDbError(
      'ValidationException',
      `Value provided in ExpressionAttributeValues unused in expressions: keys: {${unusedValues.join(', ')}}`,
    );
}
