import { pipeline } from 'node:stream';
import { CsvError, type Options as CsvOptions, parse as parseCsvStream } from 'csv-parse';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Device, FleetRequest, FleetWorkflow, RequestOptions } from './fleet-workflow.ts';
import { EXCLUSIVE_PRINCIPAL_REASON, MAX_REQUEST_BYTES } from './limits.ts';
import { isRecord, validate } from './validation.ts';

export type ManifestFormat = 'csv' | 'json';

/** One device as written in the manifest: not yet validated, so any JSON value. */
export interface ManifestRow {
  /** Position among the manifest's devices, from 0. */
  index: number;
  /** Line where the device starts (CSV: counting the header as line 1). */
  line?: number;
  device: unknown;
  /** Why the row does not make a device (a CSV row with the wrong number of cells), for validation to report in its place. */
  problem?: string;
}

export interface Manifest {
  format: ManifestFormat;
  /** Request-level fields given by the manifest itself (JSON `{..., devices}` form). */
  defaults: Record<string, unknown>;
  rows: ManifestRow[];
}

/** Something wrong with the manifest, located as precisely as the format allows. */
export interface ManifestProblem {
  where: string;
  field?: string;
  reason: string;
}

export type ManifestParse = { ok: true; manifest: Manifest } | { ok: false; problems: ManifestProblem[] };

const CSV_PARAMETER_PREFIX = 'param.';
const CSV_DEVICE_COLUMNS = ['thingName', 'principal', 'coreDeviceThingName'] as const;

export function manifestFormatOf(path: string): ManifestFormat | undefined {
  // Stryker disable next-line OptionalChaining: equivalent: the group is not optional, so a match always has it
  const extension = /\.([^./\\]+)$/.exec(path)?.[1]?.toLowerCase();
  return extension === 'csv' || extension === 'json' ? extension : undefined;
}

export function parseManifest(text: string, format: ManifestFormat): ManifestParse {
  return format === 'csv' ? parseCsvManifest(text) : parseJsonManifest(text);
}

/** How a problem's location reads to the person who wrote the manifest. */
export function describeRow(format: ManifestFormat, row: ManifestRow): string {
  if (format === 'csv') return `line ${row.line}`;
  return row.line === undefined ? `devices[${row.index}]` : `devices[${row.index}] (line ${row.line})`;
}

/** A device field as the manifest spells it: CSV has `param.<Name>` columns where JSON has `parameters.<Name>`. */
export function describeField(format: ManifestFormat, field: string): string {
  // Stryker disable next-line Regex: equivalent without the ^: a CSV row's fields are its columns', and only parameters.<Name> holds the text
  return format === 'csv' ? field.replace(/^parameters\./, CSV_PARAMETER_PREFIX) : field;
}

/** csv-parse's options for a manifest, whether it reads text or a stream. */
const CSV_OPTIONS = {
  bom: true,
  trim: true,
  skip_empty_lines: true,
  // Each row's cell count is checked below: csv-parse would stop at the first row that is off.
  relax_column_count: true,
} as const;

/** A CSV record and the lines it spans. */
interface CsvRecord {
  cells: string[];
  line: number;
  lastLine: number;
}

/** `lines` is where the record ends; each line break inside a quoted cell moved it one line down. */
function csvRecord(cells: string[], lastLine: number): CsvRecord {
  const lineBreaksInside = cells.reduce((count, cell) => count + (cell.match(/\n/g)?.length ?? 0), 0);
  return { cells, line: lastLine - lineBreaksInside, lastLine };
}

/** csv-parse's message names the line where it gave up (for a quote never closed, the file's last): `where` names the row's first line instead. */
function csvErrorProblem(error: CsvError, rowLine: number): ManifestProblem {
  return { where: `line ${rowLine}`, reason: error.message.replace(/ (?:at|on) line \d+/g, '') };
}

function parseCsvManifest(text: string): ManifestParse {
  // csv-parse miscounts lines when a quoted field holds a CRLF; with LF only its count is exact.
  const lfText = text.replace(/\r\n/g, '\n');
  // Collected as they are read, not returned, so that they outlive a parse error: the row that failed starts after the last of them.
  const records: CsvRecord[] = [];
  try {
    parseCsv(lfText, {
      ...CSV_OPTIONS,
      on_record: (cells: string[], { lines }) => {
        records.push(csvRecord(cells, lines));
        return null;
      },
    });
  } catch (error) {
    // Stryker disable next-line ConditionalExpression: equivalent: parsing text, csv-parse throws nothing but a CsvError
    if (!(error instanceof CsvError)) throw error;
    return { ok: false, problems: [csvErrorProblem(error, firstLineAfter(lfText, records.at(-1)?.lastLine ?? 0))] };
  }
  const [header, ...body] = records;
  if (header === undefined) return { ok: false, problems: [EMPTY_CSV] };
  const problems = checkCsvHeader(header.cells);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, manifest: { format: 'csv', defaults: {}, rows: body.map((record, index) => csvRow(header.cells, record, index)) } };
}

const EMPTY_CSV: ManifestProblem = { where: 'manifest', reason: 'is empty: expected a header row and one row per device' };

/** Problems that end the reading of a manifest: it has no rows to validate. */
export class ManifestUnreadable extends Error {
  readonly problems: ManifestProblem[];

  constructor(problems: ManifestProblem[]) {
    super(problems.map(({ where, reason }) => `${where}: ${reason}`).join('; '));
    this.problems = problems;
  }
}

/**
 * A CSV manifest's rows as its bytes arrive, parsed by the same rules as parseManifest, holding one row at a time.
 * Throws ManifestUnreadable for a header or CSV syntax problem, as parseManifest answers them.
 */
export async function* csvManifestRows(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
): AsyncGenerator<ManifestRow> {
  const nonBlank = new NonBlankLines();
  let lastRecordLine = 0;
  const options: CsvOptions<CsvRecord, string[]> = {
    ...CSV_OPTIONS,
    on_record: (cells, { lines }) => {
      lastRecordLine = lines;
      nonBlank.dropThrough(lines);
      return csvRecord(cells, lines);
    },
  };
  // csv-parse types a stream's records only with `columns`: these are what on_record makes of them.
  const parser = parseCsvStream(options as unknown as CsvOptions);
  pipeline(lfChunks(source, nonBlank), parser, () => {});
  let header: string[] | undefined;
  let index = 0;
  try {
    for await (const record of parser as AsyncIterable<CsvRecord>) {
      if (header !== undefined) {
        yield csvRow(header, record, index++);
        continue;
      }
      const problems = checkCsvHeader(record.cells);
      if (problems.length > 0) throw new ManifestUnreadable(problems);
      header = record.cells;
    }
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    throw new ManifestUnreadable([csvErrorProblem(error, nonBlank.first() ?? lastRecordLine + 1)]);
  }
  if (header === undefined) throw new ManifestUnreadable([EMPTY_CSV]);
}

/**
 * Where the lines that are not blank start, from the last complete record on: the row a CSV error stops in starts
 * at the first of them. The text is read a little ahead of the parser, so only a few lines are ever held.
 */
class NonBlankLines {
  #lines: number[] = [];
  #first = 0;

  add(line: number): void {
    this.#lines.push(line);
  }

  dropThrough(line: number): void {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: past the end the next line is undefined, and undefined <= line is false
    while (this.#first < this.#lines.length && this.#lines[this.#first]! <= line) this.#first++;
    // Stryker disable next-line ConditionalExpression,EqualityOperator,BlockStatement: equivalent: when to compact changes only the memory held
    if (this.#first > 1024) {
      this.#lines = this.#lines.slice(this.#first);
      this.#first = 0;
    }
  }

  /** The first line not dropped: after the last record, since each record drops the lines through its own. */
  first(): number | undefined {
    return this.#lines[this.#first];
  }
}

/** The text with CRLF made LF, as parseCsvManifest makes it, noting each line that is not blank. */
async function* lfChunks(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  nonBlank: NonBlankLines,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let line = 1;
  let lineHasText = false;
  let heldCarriageReturn = '';
  const text = (chunk: string): string => {
    let lf = (heldCarriageReturn + chunk).replace(/\r\n/g, '\n');
    // A CR that ends the chunk may start a CRLF the next one ends.
    heldCarriageReturn = lf.endsWith('\r') ? '\r' : '';
    if (heldCarriageReturn !== '') lf = lf.slice(0, -1);
    let start = 0;
    for (let end = lf.indexOf('\n'); end >= 0; start = end + 1, end = lf.indexOf('\n', start)) {
      if (lineHasText || /\S/.test(lf.slice(start, end))) nonBlank.add(line);
      line++;
      lineHasText = false;
    }
    lineHasText ||= /\S/.test(lf.slice(start));
    return lf;
  };
  for await (const chunk of source) yield text(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
  const last = text(decoder.decode()) + heldCarriageReturn;
  if (lineHasText) nonBlank.add(line);
  yield last;
}

function csvRow(header: string[], { cells, line }: CsvRecord, index: number): ManifestRow {
  const device: Record<string, unknown> = {};
  const parameters: Record<string, string> = {};
  header.forEach((column, position) => {
    const cell = cells[position] ?? '';
    if (column === 'thingName') device.thingName = cell;
    // An empty optional cell means "not given", so that the request's default applies.
    else if (cell === '') return;
    else if (column.startsWith(CSV_PARAMETER_PREFIX)) parameters[column.slice(CSV_PARAMETER_PREFIX.length)] = cell;
    else device[column] = cell;
  });
  if (Object.keys(parameters).length > 0) device.parameters = parameters;
  const problem =
    cells.length === header.length
      ? undefined
      : `has ${cells.length} ${cells.length === 1 ? 'cell' : 'cells'}; the header has ${header.length} columns`;
  return { index, line, device, problem };
}

/** The first line after `line` that is not blank: blank lines between rows belong to none. */
function firstLineAfter(text: string, line: number): number {
  const lines = text.split('\n');
  let next = line + 1;
  // Stryker disable next-line OptionalChaining: equivalent: the row that failed is a line that is not blank, so the scan stops there
  while (lines[next - 1]?.trim() === '') next++;
  return next;
}

function checkCsvHeader(columns: string[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const problem = (reason: string) => problems.push({ where: 'line 1', reason });
  if (!columns.includes('thingName')) problem('has no thingName column');
  const seen = new Set<string>();
  for (const column of columns) {
    if (seen.has(column)) problem(`names the column "${column}" twice`);
    seen.add(column);
    const known =
      (CSV_DEVICE_COLUMNS as readonly string[]).includes(column) ||
      (column.startsWith(CSV_PARAMETER_PREFIX) && column.length > CSV_PARAMETER_PREFIX.length);
    if (!known) problem(`has an unknown column "${column}": expected ${CSV_DEVICE_COLUMNS.join(', ')} or ${CSV_PARAMETER_PREFIX}<Name>`);
  }
  return problems;
}

function parseJsonManifest(text: string): ManifestParse {
  let content: unknown;
  try {
    content = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [{ where: 'manifest', reason: `is not valid JSON: ${(error as Error).message}` }] };
  }
  let devices: unknown[];
  let defaults: Record<string, unknown> = {};
  if (Array.isArray(content)) devices = content;
  else if (isRecord(content) && Array.isArray(content.devices)) {
    ({ devices, ...defaults } = content as Record<string, unknown> & { devices: unknown[] });
  } else return { ok: false, problems: [{ where: 'manifest', reason: 'must be an array of devices or an object with a "devices" array' }] };

  const lines = jsonDeviceLines(text);
  return {
    ok: true,
    manifest: { format: 'json', defaults, rows: devices.map((device, index) => ({ index, line: lines[index], device })) },
  };
}

/**
 * The line where each device of a JSON manifest starts. JSON.parse keeps no positions, so the text, already known
 * to be JSON, is scanned once more for the devices' list: only nesting, strings and line breaks matter. Not a JSON
 * syntax-tree library: the one with positions (momoa, 28 KiB) took validateManifest's bundle past 400 KiB.
 */
function jsonDeviceLines(text: string): number[] {
  // Stryker disable next-line ArrayDeclaration: equivalent: the devices' list, which a manifest that parsed has, starts it afresh
  let lines: number[] = [];
  let line = 1;
  const open: string[] = [];
  // The last string read directly in a root object: before a value, that value's key.
  let rootKey: string | undefined;
  // How deep the devices' list is: its items start at this depth. Lines counted past its end are never read.
  // Stryker disable next-line UnaryOperator: equivalent: items counted before the devices' list are dropped when it starts
  let devicesDepth = -1;
  // Stryker disable next-line BooleanLiteral: equivalent: a line counted before the devices' list is dropped when it starts
  let itemNext = false;
  // Stryker disable next-line EqualityOperator: equivalent: one step past the end reads undefined, which is none of the characters looked for
  for (let at = 0; at < text.length; at++) {
    const char = text[at]!;
    if (char === '\n') line++;
    if (char === ' ' || char === '\t' || char === '\r' || char === '\n') continue;
    if (itemNext) lines.push(line);
    itemNext = false;
    if (char === '"') {
      const end = closingQuote(text, at);
      // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent: whatever deeper strings set, a value directly in the root object follows its key
      if (open.length === 1 && open[0] === '{') rootKey = JSON.parse(text.slice(at, end + 1)) as string;
      at = end;
    } else if (char === '[' || char === '{') {
      open.push(char);
      // JSON.parse keeps the last of duplicate keys: so does this.
      if (char === '[' && (open.length === 1 || (open.length === 2 && open[0] === '{' && rootKey === 'devices'))) {
        devicesDepth = open.length;
        lines = [];
        itemNext = true;
      }
    } else if (char === ']' || char === '}') open.pop();
    else if (char === ',' && open.length === devicesDepth) itemNext = true;
  }
  return lines;
}

/** Where the string starting at `start` ends: the next quote not escaped (JSON strings hold no raw line break). */
function closingQuote(text: string, start: number): number {
  for (let quote = text.indexOf('"', start + 1); ; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
}

/** A validated device and where the manifest lists it. */
export interface PlannedDevice {
  index: number;
  line?: number;
  /** `line 7` or `devices[5] (line 23)`: how messages point at this device. */
  where: string;
  device: Device;
}

export interface ValidManifest {
  workflow: FleetWorkflow;
  options: RequestOptions;
  devices: PlannedDevice[];
}

/** Space kept for the longest request id (REQUEST_ID_PATTERN allows 80 characters) when measuring a body. */
const REQUEST_ID_PLACEHOLDER = 'x'.repeat(80);

/**
 * Validates each device with the API's own schema, as the only device of a request carrying the manifest's
 * request-level fields: problems then point at one manifest row. The checks across devices, duplicate
 * thing names and exclusive principals, are made here over the whole manifest, since the API only sees
 * one request at a time.
 */
export function validateManifest(
  manifest: Manifest,
  requestFields: Record<string, unknown>,
  workflow: FleetWorkflow,
): { ok: true; value: ValidManifest } | { ok: false; problems: ManifestProblem[] } {
  const validator = new ManifestValidator(manifest.format, requestFields, workflow);
  const devices: PlannedDevice[] = [];
  for (const row of manifest.rows) {
    const planned = validator.check(row);
    // Stryker disable next-line ConditionalExpression: equivalent: check answers undefined only for a row with a problem, and then the result is not ok
    if (planned !== undefined) devices.push(planned);
  }
  const result = validator.result();
  return result.ok ? { ok: true, value: { workflow, options: result.options, devices } } : { ok: false, problems: result.problems };
}

export type ManifestValidation =
  | { ok: true; options: RequestOptions; deviceCount: number }
  | { ok: false; problems: ManifestProblem[]; problemCount: number };

/**
 * validateManifest one row at a time, for a manifest read as it arrives: it keeps only what the checks across rows
 * need (each thing name, and each exclusive principal, with where it was first seen) and, past `maxProblems`,
 * counts problems without keeping them.
 */
export class ManifestValidator {
  readonly #format: ManifestFormat;
  readonly #workflow: FleetWorkflow;
  readonly #fields: Record<string, unknown>;
  readonly #maxProblems: number;
  readonly #manifestProblems: ManifestProblem[];
  // Every row repeats a problem of a request-level field: report it once.
  readonly #requestProblems = new Map<string, ManifestProblem>();
  readonly #deviceProblems: ManifestProblem[] = [];
  #deviceProblemCount = 0;
  #anyRows = false;
  #validDevices = 0;
  #options: RequestOptions | undefined;
  readonly #firstRowByName = new Map<string, string>();
  readonly #firstRowByPrincipal = new Map<string, string>();

  constructor(format: ManifestFormat, requestFields: Record<string, unknown>, workflow: FleetWorkflow, maxProblems = Infinity) {
    this.#format = format;
    this.#workflow = workflow;
    this.#maxProblems = maxProblems;
    const { requestId, ...fields } = requestFields;
    this.#fields = fields;
    this.#manifestProblems =
      requestId === undefined
        ? []
        : [
            {
              where: 'manifest',
              field: 'requestId',
              reason: 'is set for each request the fleet is split into (by iot-provision or a fleet run) and must not be given',
            },
          ];
  }

  /** The request-level fields, validated with the first valid row. */
  get options(): RequestOptions | undefined {
    return this.#options;
  }

  /** Whether every row so far is valid: once one is not, the run will not start, and its devices need not be kept. */
  get valid(): boolean {
    return this.#manifestProblems.length + this.#requestProblems.size + this.#deviceProblemCount === 0;
  }

  /** The row as a planned device, or undefined when it has a problem (kept for result()). */
  check(row: ManifestRow): PlannedDevice | undefined {
    this.#anyRows = true;
    const where = describeRow(this.#format, row);
    const problemCount = this.#deviceProblemCount;
    const problem = (found: ManifestProblem) => {
      if (this.#deviceProblemCount++ < this.#maxProblems) this.#deviceProblems.push(found);
    };
    if (row.problem !== undefined) {
      problem({ where, reason: row.problem });
      return undefined;
    }
    const thingName = (row.device as { thingName?: unknown } | null)?.thingName;
    if (typeof thingName === 'string' && thingName !== '') {
      const earlier = this.#firstRowByName.get(thingName);
      if (earlier === undefined) this.#firstRowByName.set(thingName, where);
      else problem({ where, field: 'thingName', reason: `duplicates ${earlier} ("${thingName}")` });
    }
    const result = validate(this.#workflow.schema, {
      ...this.#workflow.requestFields(this.#fields),
      devices: [this.#workflow.requestDevice(row.device)],
    });
    if (!result.ok) {
      for (const { field, reason } of result.errors) {
        // Stryker disable next-line Regex: equivalent without the $: the optional group, greedy, takes the rest of the field
        const deviceField = /^devices\[0\](?:\.(.+))?$/.exec(field);
        if (deviceField) problem({ where, field: deviceField[1] && describeField(this.#format, deviceField[1]), reason });
        else this.#requestProblems.set(`${field}\n${reason}`, { where: 'request options', field, reason });
      }
      return undefined;
    }
    const {
      devices: [validDevice],
      ...requestOptions
    } = result.value;
    const device: Device = validDevice!;
    this.#options ??= requestOptions;
    const options = this.#options;
    // Whether a principal is exclusive is a request option with a default: the validated options know.
    if (device.principal !== undefined && 'thingPrincipalType' in options && options.thingPrincipalType === 'EXCLUSIVE_THING') {
      const earlier = this.#firstRowByPrincipal.get(device.principal);
      if (earlier === undefined) this.#firstRowByPrincipal.set(device.principal, where);
      else problem({ where, field: 'principal', reason: `duplicates ${earlier}: ${EXCLUSIVE_PRINCIPAL_REASON}` });
    }
    const bytes = requestBytes(requestOptions, [device]);
    if (bytes > MAX_REQUEST_BYTES) {
      problem({ where, reason: `makes a request of ${bytes} bytes on its own; a request must stay within ${MAX_REQUEST_BYTES}` });
    }
    if (this.#deviceProblemCount !== problemCount) return undefined;
    this.#validDevices++;
    return { index: row.index, line: row.line, where, device };
  }

  /** The problems in the order validateManifest lists them: the manifest's, the request options', then each row's. */
  result(): ManifestValidation {
    if (!this.#anyRows) return { ok: false, problems: [{ where: 'manifest', reason: 'lists no devices' }], problemCount: 1 };
    const problems = [...this.#manifestProblems, ...this.#requestProblems.values(), ...this.#deviceProblems];
    const problemCount = this.#manifestProblems.length + this.#requestProblems.size + this.#deviceProblemCount;
    // Stryker disable next-line ConditionalExpression: equivalent: with rows and no problem, the first row set the options
    if (problemCount > 0 || this.#options === undefined) return { ok: false, problems, problemCount };
    return { ok: true, options: this.#options, deviceCount: this.#validDevices };
  }
}

export function requestBody(requestId: string, options: RequestOptions, devices: readonly Device[]): FleetRequest {
  return { requestId, ...options, devices: [...devices] } as FleetRequest;
}

/** The size of a request body holding these devices, with room for the longest request id. */
export function requestBytes(options: RequestOptions, devices: readonly Device[]): number {
  return Buffer.byteLength(JSON.stringify(requestBody(REQUEST_ID_PLACEHOLDER, options, devices)));
}

/**
 * Validation guarantees one of the two, except for a deprovisioning request that does not disassociate:
 * its devices need no core device.
 */
export function coreDeviceOf(device: Device, options: RequestOptions): string | undefined {
  return device.coreDeviceThingName ?? options.coreDeviceThingName;
}

/**
 * A manifest's request-level fields overridden by a run's (the CLI's flags, a fleet run's options); an undefined
 * override leaves the manifest's. A template given by the run replaces the manifest's whichever way the manifest
 * named it; template parameters are merged.
 */
export function withRequestOverrides(
  manifestDefaults: Record<string, unknown>,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  const fields = { ...manifestDefaults };
  const given = Object.entries(overrides).filter(([, value]) => value !== undefined);
  if (given.some(([name]) => name === 'templateName' || name === 'templateBody')) {
    delete fields.templateName;
    delete fields.templateBody;
  }
  for (const [name, value] of given) {
    const inherited = fields.templateParameters;
    fields[name] = name === 'templateParameters' && isRecord(inherited) && isRecord(value) ? { ...inherited, ...value } : value;
  }
  return fields;
}
