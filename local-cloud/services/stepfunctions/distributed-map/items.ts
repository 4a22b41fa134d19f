import { parse as parseCsv } from 'csv-parse/sync';
import { StatesError } from './states-error.ts';

/**
 * What a Distributed Map's ItemReader reads, once its Parameters are resolved: one object
 * (`s3:getObject`: CSV, JSON, JSONL) or a listing (`s3:listObjectsV2`).
 */
export interface ItemReaderSpec {
  resource: 'arn:aws:states:::s3:getObject' | 'arn:aws:states:::s3:listObjectsV2';
  bucket: string;
  key?: string;
  prefix?: string;
  readerConfig: {
    InputType?: 'CSV' | 'JSON' | 'JSONL';
    CSVHeaderLocation?: 'FIRST_ROW' | 'GIVEN';
    CSVHeaders?: string[];
    CSVDelimiter?: 'COMMA' | 'PIPE' | 'SEMICOLON' | 'SPACE' | 'TAB';
    MaxItems?: number;
  };
}

export interface ObjectSummary {
  key: string;
  etag: string;
  size: number;
  lastModified: Date;
}

/** The S3 calls an ItemReader and a ResultWriter make, in whatever store the local cloud keeps objects. */
export interface ObjectStore {
  /** The object's bytes as they arrive, so that a large manifest is read without being held whole. */
  get(bucket: string, key: string): Promise<AsyncIterable<Uint8Array>>;
  list(bucket: string, prefix: string): Promise<ObjectSummary[]>;
  /** Writes the object from its text in pieces, so that a large one (a ResultWriter's file) need not be held whole. */
  put(bucket: string, key: string, body: Iterable<string>): Promise<void>;
}

const DELIMITERS = { COMMA: ',', PIPE: '|', SEMICOLON: ';', SPACE: ' ', TAB: '\t' } as const;

const readerFailed = (message: string) => new StatesError('States.ItemReaderFailed', message);

/**
 * The items, in order, at most MaxItems of them, as they are read: JSON Lines an item at a time, CSV and JSON once
 * the object is read. Any failure to read or parse is States.ItemReaderFailed.
 */
export async function* readItems(spec: ItemReaderSpec, objects: ObjectStore): AsyncGenerator<unknown> {
  const max = spec.readerConfig.MaxItems && spec.readerConfig.MaxItems > 0 ? spec.readerConfig.MaxItems : Number.POSITIVE_INFINITY;
  let count = 0;
  for await (const item of allItems(spec, objects)) {
    yield item;
    count += 1;
    if (count >= max) return;
  }
}

async function* allItems(spec: ItemReaderSpec, objects: ObjectStore): AsyncGenerator<unknown> {
  if (spec.resource === 'arn:aws:states:::s3:listObjectsV2') {
    const listed = await objects.list(spec.bucket, spec.prefix ?? '').catch((error: Error) => {
      throw readerFailed(`S3 ListObjectsV2 on ${spec.bucket} failed: ${error.message}`);
    });
    for (const object of listed) {
      yield {
        Etag: object.etag,
        Key: object.key,
        LastModified: Math.floor(object.lastModified.getTime() / 1000),
        Size: object.size,
        StorageClass: 'STANDARD',
      };
    }
    return;
  }
  const where = `s3://${spec.bucket}/${spec.key ?? ''}`;
  const failedRead = (error: Error) => readerFailed(`S3 GetObject ${where} failed: ${error.message}`);
  const body = await objects.get(spec.bucket, spec.key ?? '').catch((error: Error) => {
    throw failedRead(error);
  });
  try {
    switch (spec.readerConfig.InputType) {
      case 'JSONL': {
        let lineNumber = 0;
        for await (const line of lines(body)) {
          lineNumber += 1;
          if (line.trim() !== '') yield parseJson(line, `${where} line ${lineNumber}`);
        }
        return;
      }
      case 'CSV':
        yield* parseCsvItems(await wholeText(body), spec.readerConfig, where);
        return;
      default: {
        const parsed = parseJson(await wholeText(body), where);
        if (!Array.isArray(parsed)) throw readerFailed(`${where} does not hold a JSON array`);
        yield* parsed;
      }
    }
  } catch (error) {
    throw error instanceof StatesError ? error : failedRead(error as Error);
  }
}

async function wholeText(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The text's lines (split at "\n"), decoded as the bytes arrive. */
async function* lines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of body) {
    const pieces = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = pieces.pop() ?? '';
    yield* pieces;
  }
  yield rest + decoder.decode();
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw readerFailed(`${where} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Every field a string; a short row gets "" for its missing columns and a long one loses its extra fields, as on AWS. */
function parseCsvItems(text: string, config: ItemReaderSpec['readerConfig'], where: string): Record<string, string>[] {
  let rows: string[][];
  try {
    rows = parseCsv(text, {
      delimiter: DELIMITERS[config.CSVDelimiter ?? 'COMMA'],
      relax_column_count: true,
      skip_empty_lines: true,
      bom: true,
    });
  } catch (error) {
    throw readerFailed(`${where} is not valid CSV: ${(error as Error).message}`);
  }
  const given = config.CSVHeaderLocation === 'GIVEN';
  const headers = given ? (config.CSVHeaders ?? []) : (rows[0] ?? []);
  if (headers.length === 0) throw readerFailed(`${where} has no CSV header`);
  return (given ? rows : rows.slice(1)).map((row) => Object.fromEntries(headers.map((header, index) => [header, row[index] ?? ''])));
}

export interface ItemBatcherSpec {
  MaxItemsPerBatch?: number;
  MaxInputBytesPerBatch?: number;
  BatchInput?: unknown;
}

/** A batch is at most 256 KiB: Step Functions' payload quota. */
const MAX_BATCH_BYTES = 256 * 1024;

/**
 * A child execution's input as a Map Run keeps it until the child starts: its JSON text's UTF-8 bytes, off the JS
 * heap (which V8 lets grow to a multiple of what it holds), and how many items it holds.
 */
export interface ChildInput {
  json: Buffer;
  items: number;
}

/** Each item its own child's input, as a Map without an ItemBatcher runs them. */
export async function itemInputs(items: AsyncIterable<unknown> | Iterable<unknown>): Promise<ChildInput[]> {
  const inputs: ChildInput[] = [];
  for await (const item of items) inputs.push({ json: Buffer.from(JSON.stringify(item) ?? 'null'), items: 1 });
  return inputs;
}

/**
 * Items in batches of at most MaxItemsPerBatch and at most MaxInputBytesPerBatch (the byte cap wins);
 * each child gets `{"Items": [...]}`, with `"BatchInput"` when the batcher has one. An item that alone
 * is over the byte cap cannot be batched: States.ItemReaderFailed names it.
 */
export async function batchItems(items: AsyncIterable<unknown> | Iterable<unknown>, spec: ItemBatcherSpec): Promise<ChildInput[]> {
  const maxItems = spec.MaxItemsPerBatch ?? Number.POSITIVE_INFINITY;
  const maxBytes = Math.min(spec.MaxInputBytesPerBatch ?? MAX_BATCH_BYTES, MAX_BATCH_BYTES);
  // The envelope's text split where the items go: a batch's text is what JSON.stringify makes of it.
  const empty = JSON.stringify({ ...(spec.BatchInput !== undefined && { BatchInput: spec.BatchInput }), Items: [] });
  const [opening, closing] = [empty.slice(0, -2), empty.slice(-2)];
  const emptyBytes = Buffer.byteLength(empty);
  const batches: ChildInput[] = [];
  let current: string[] = [];
  let currentBytes = emptyBytes;
  const close = () => batches.push({ json: Buffer.from(`${opening}${current.join(',')}${closing}`), items: current.length });
  let index = 0;
  for await (const item of items) {
    const json = JSON.stringify(item) ?? 'null';
    const itemBytes = Buffer.byteLength(json);
    if (emptyBytes + itemBytes > maxBytes) throw readerFailed(`item ${index} alone is over the batch's ${maxBytes} bytes`);
    if (current.length >= maxItems || currentBytes + itemBytes + (current.length > 0 ? 1 : 0) > maxBytes) {
      close();
      current = [];
      currentBytes = emptyBytes;
    }
    currentBytes += itemBytes + (current.length > 0 ? 1 : 0);
    current.push(json);
    index += 1;
  }
  if (current.length > 0) close();
  return batches;
}

/**
 * Whether the failed (and timed-out) children are more than the run tolerates: with neither threshold set,
 * one failure is too many; with both, crossing either one is.
 */
export function exceedsTolerance(failed: number, total: number, tolerated: { count?: number; percentage?: number }): boolean {
  if (failed === 0) return false;
  const overCount = failed > (tolerated.count ?? 0);
  const overPercentage = total > 0 && (failed / total) * 100 > (tolerated.percentage ?? 0);
  if (tolerated.count !== undefined && tolerated.percentage !== undefined) return overCount || overPercentage;
  if (tolerated.count !== undefined) return overCount;
  if (tolerated.percentage !== undefined) return overPercentage;
  return true;
}
