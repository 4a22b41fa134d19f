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
  get(bucket: string, key: string): Promise<Buffer>;
  list(bucket: string, prefix: string): Promise<ObjectSummary[]>;
  /** Writes the object from its text in pieces, so that a large one (a ResultWriter's file) need not be held whole. */
  put(bucket: string, key: string, body: Iterable<string>): Promise<void>;
}

const DELIMITERS = { COMMA: ',', PIPE: '|', SEMICOLON: ';', SPACE: ' ', TAB: '\t' } as const;

const readerFailed = (message: string) => new StatesError('States.ItemReaderFailed', message);

/** The items, in order, at most MaxItems of them; any failure to read or parse is States.ItemReaderFailed. */
export async function readItems(spec: ItemReaderSpec, objects: ObjectStore): Promise<unknown[]> {
  const max = spec.readerConfig.MaxItems && spec.readerConfig.MaxItems > 0 ? spec.readerConfig.MaxItems : Number.POSITIVE_INFINITY;
  if (spec.resource === 'arn:aws:states:::s3:listObjectsV2') {
    const listed = await objects.list(spec.bucket, spec.prefix ?? '').catch((error: Error) => {
      throw readerFailed(`S3 ListObjectsV2 on ${spec.bucket} failed: ${error.message}`);
    });
    return listed.slice(0, max).map((object) => ({
      Etag: object.etag,
      Key: object.key,
      LastModified: Math.floor(object.lastModified.getTime() / 1000),
      Size: object.size,
      StorageClass: 'STANDARD',
    }));
  }
  const key = spec.key ?? '';
  const body = await objects.get(spec.bucket, key).catch((error: Error) => {
    throw readerFailed(`S3 GetObject s3://${spec.bucket}/${key} failed: ${error.message}`);
  });
  const text = body.toString('utf8');
  const items = parseItems(text, spec.readerConfig, `s3://${spec.bucket}/${key}`);
  return items.slice(0, max);
}

function parseItems(text: string, config: ItemReaderSpec['readerConfig'], where: string): unknown[] {
  switch (config.InputType) {
    case 'CSV':
      return parseCsvItems(text, config, where);
    case 'JSONL':
      return text
        .split('\n')
        .map((line, index) => [line.trim(), index + 1] as const)
        .filter(([line]) => line !== '')
        .map(([line, lineNumber]) => parseJson(line, `${where} line ${lineNumber}`));
    default: {
      const parsed = parseJson(text, where);
      if (Array.isArray(parsed)) return parsed;
      throw readerFailed(`${where} does not hold a JSON array`);
    }
  }
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
 * A child execution's input as a Map Run keeps it until the child starts: its JSON text, a fraction of the memory
 * its items take as values, and how many items it holds.
 */
export interface ChildInput {
  json: string;
  items: number;
}

/** Each item its own child's input, as a Map without an ItemBatcher runs them. */
export function itemInputs(items: Iterable<unknown>): ChildInput[] {
  return Array.from(items, (item) => ({ json: JSON.stringify(item) ?? 'null', items: 1 }));
}

/**
 * Items in batches of at most MaxItemsPerBatch and at most MaxInputBytesPerBatch (the byte cap wins);
 * each child gets `{"Items": [...]}`, with `"BatchInput"` when the batcher has one. An item that alone
 * is over the byte cap cannot be batched: States.ItemReaderFailed names it.
 */
export function batchItems(items: Iterable<unknown>, spec: ItemBatcherSpec): ChildInput[] {
  const maxItems = spec.MaxItemsPerBatch ?? Number.POSITIVE_INFINITY;
  const maxBytes = Math.min(spec.MaxInputBytesPerBatch ?? MAX_BATCH_BYTES, MAX_BATCH_BYTES);
  // The envelope's text split where the items go: a batch's text is what JSON.stringify makes of it.
  const empty = JSON.stringify({ ...(spec.BatchInput !== undefined && { BatchInput: spec.BatchInput }), Items: [] });
  const [opening, closing] = [empty.slice(0, -2), empty.slice(-2)];
  const emptyBytes = Buffer.byteLength(empty);
  const batches: ChildInput[] = [];
  let current: string[] = [];
  let currentBytes = emptyBytes;
  const close = () => batches.push({ json: `${opening}${current.join(',')}${closing}`, items: current.length });
  let index = 0;
  for (const item of items) {
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
