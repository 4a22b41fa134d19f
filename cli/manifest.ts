import { parse as parseCsv, CsvError } from 'csv-parse/sync';
import { LineCounter, isSeq, parseDocument } from 'yaml';
import { isRecord } from '../functions/domain/validation.ts';

type ManifestFormat = 'csv' | 'json';

/** One device as written in the manifest: not yet validated, so any JSON value. */
interface ManifestRow {
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
  return format === 'csv' ? field.replace(/^parameters\./, CSV_PARAMETER_PREFIX) : field;
}

function parseCsvManifest(text: string): ManifestParse {
  // csv-parse miscounts lines when a quoted field holds a CRLF; with LF only its count is exact.
  const lfText = text.replace(/\r\n/g, '\n');
  // Collected as they are read, not returned, so that they outlive a parse error: the row that failed starts after the last of them.
  const records: { cells: string[]; line: number; lastLine: number }[] = [];
  try {
    parseCsv(lfText, {
      bom: true,
      trim: true,
      skip_empty_lines: true,
      // Each row's cell count is checked below: csv-parse would stop at the first row that is off.
      relax_column_count: true,
      on_record: (cells: string[], { lines: lastLine }) => {
        // `lines` is where the record ends; each line break inside a quoted cell moved it one line down.
        const lineBreaksInside = cells.reduce((count, cell) => count + (cell.match(/\n/g)?.length ?? 0), 0);
        records.push({ cells, line: lastLine - lineBreaksInside, lastLine });
        return null;
      },
    });
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    // csv-parse's message names the line where it gave up (for a quote never closed, the file's last): `where` names the row's first line instead.
    const where = `line ${firstLineAfter(lfText, records.at(-1)?.lastLine ?? 0)}`;
    return { ok: false, problems: [{ where, reason: error.message.replace(/ (?:at|on) line \d+/g, '') }] };
  }
  const [header, ...body] = records;
  if (header === undefined) return { ok: false, problems: [{ where: 'manifest', reason: 'is empty: expected a header row and one row per device' }] };

  const problems = checkCsvHeader(header.cells);
  if (problems.length > 0) return { ok: false, problems };

  const rows = body.map(({ cells, line }, index): ManifestRow => {
    const device: Record<string, unknown> = {};
    const parameters: Record<string, string> = {};
    header.cells.forEach((column, position) => {
      const cell = cells[position] ?? '';
      if (column === 'thingName') device.thingName = cell;
      // An empty optional cell means "not given", so that the request's default applies.
      else if (cell === '') return;
      else if (column.startsWith(CSV_PARAMETER_PREFIX)) parameters[column.slice(CSV_PARAMETER_PREFIX.length)] = cell;
      else device[column] = cell;
    });
    if (Object.keys(parameters).length > 0) device.parameters = parameters;
    const problem = cells.length === header.cells.length ? undefined : `has ${cells.length} ${cells.length === 1 ? 'cell' : 'cells'}; the header has ${header.cells.length} columns`;
    return { index, line, device, problem };
  });
  return { ok: true, manifest: { format: 'csv', defaults: {}, rows } };
}

/** The first line after `line` that is not blank: blank lines between rows belong to none. */
function firstLineAfter(text: string, line: number): number {
  const lines = text.split('\n');
  let next = line + 1;
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
    const known = (CSV_DEVICE_COLUMNS as readonly string[]).includes(column) || (column.startsWith(CSV_PARAMETER_PREFIX) && column.length > CSV_PARAMETER_PREFIX.length);
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
  return { ok: true, manifest: { format: 'json', defaults, rows: devices.map((device, index) => ({ index, line: lines[index], device })) } };
}

/**
 * The line where each device of a JSON manifest starts. JSON.parse keeps no positions; YAML is a superset of
 * JSON and its parser does, so it reads the same text a second time only to locate the devices.
 */
function jsonDeviceLines(text: string): (number | undefined)[] {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: false });
  if (document.errors.length > 0) return [];
  const list = isSeq(document.contents) ? document.contents : document.get('devices', true);
  if (!isSeq(list)) return [];
  return list.items.map((item) => {
    const offset = (item as { range?: [number, number, number] }).range?.[0];
    return offset === undefined ? undefined : lineCounter.linePos(offset).line;
  });
}
