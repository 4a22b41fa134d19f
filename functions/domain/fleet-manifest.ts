import { parse as parseCsv, CsvError } from 'csv-parse/sync';
import { parse as parseJsonTree, type ValueNode } from '@humanwhocodes/momoa';
import type { Device, FleetRequest, FleetWorkflow, RequestOptions } from './fleet-workflow.ts';
import { MAX_REQUEST_BYTES } from './limits.ts';
import { EXCLUSIVE_PRINCIPAL_REASON } from './provisioning-request.ts';
import { isRecord, validate } from './validation.ts';

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
 * The line where each device of a JSON manifest starts. JSON.parse keeps no positions; momoa's syntax tree
 * does, so the text (already known to be JSON) is read a second time only to locate the devices.
 */
function jsonDeviceLines(text: string): (number | undefined)[] {
  const root = parseJsonTree(text, { mode: 'json' }).body;
  // JSON.parse keeps the last of duplicate keys: so does this.
  const list: ValueNode | undefined = root.type === 'Array' ? root : root.type === 'Object' ? root.members.findLast(({ name }) => name.type === 'String' && name.value === 'devices')?.value : undefined;
  return list?.type === 'Array' ? list.elements.map((element) => element.loc.start.line) : [];
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
  if (manifest.rows.length === 0) return { ok: false, problems: [{ where: 'manifest', reason: 'lists no devices' }] };

  const { requestId, ...fields } = requestFields;
  const manifestProblems: ManifestProblem[] =
    requestId === undefined ? [] : [{ where: 'manifest', field: 'requestId', reason: 'is set for each request the fleet is split into (by iot-provision or a fleet run) and must not be given' }];
  const deviceProblems: ManifestProblem[] = [];
  // Every row repeats a problem of a request-level field: report it once.
  const requestProblems = new Map<string, ManifestProblem>();
  const devices: PlannedDevice[] = [];
  let options: RequestOptions | undefined;
  const firstRowByName = new Map<string, string>();
  const firstRowByPrincipal = new Map<string, string>();

  for (const row of manifest.rows) {
    const where = describeRow(manifest.format, row);
    if (row.problem !== undefined) {
      deviceProblems.push({ where, reason: row.problem });
      continue;
    }
    const problemCount = deviceProblems.length;
    const thingName = (row.device as { thingName?: unknown } | null)?.thingName;
    if (typeof thingName === 'string' && thingName !== '') {
      const earlier = firstRowByName.get(thingName);
      if (earlier === undefined) firstRowByName.set(thingName, where);
      else deviceProblems.push({ where, field: 'thingName', reason: `duplicates ${earlier} ("${thingName}")` });
    }
    const result = validate(workflow.schema, { ...workflow.requestFields(fields), devices: [workflow.requestDevice(row.device)] });
    if (!result.ok) {
      for (const { field, reason } of result.errors) {
        const deviceField = /^devices\[0\](?:\.(.+))?$/.exec(field);
        if (deviceField) deviceProblems.push({ where, field: deviceField[1] && describeField(manifest.format, deviceField[1]), reason });
        else requestProblems.set(`${field}\n${reason}`, { where: 'request options', field, reason });
      }
      continue;
    }
    const { devices: [validDevice], ...requestOptions } = result.value;
    const device: Device = validDevice!;
    options ??= requestOptions;
    // Whether a principal is exclusive is a request option with a default: the validated options know.
    if (device.principal !== undefined && 'thingPrincipalType' in options && options.thingPrincipalType === 'EXCLUSIVE_THING') {
      const earlier = firstRowByPrincipal.get(device.principal);
      if (earlier === undefined) firstRowByPrincipal.set(device.principal, where);
      else deviceProblems.push({ where, field: 'principal', reason: `duplicates ${earlier}: ${EXCLUSIVE_PRINCIPAL_REASON}` });
    }
    const bytes = requestBytes(requestOptions, [device]);
    if (bytes > MAX_REQUEST_BYTES) {
      deviceProblems.push({ where, reason: `makes a request of ${bytes} bytes on its own; a request must stay within ${MAX_REQUEST_BYTES}` });
    }
    if (deviceProblems.length === problemCount) devices.push({ index: row.index, line: row.line, where, device });
  }

  const problems = [...manifestProblems, ...requestProblems.values(), ...deviceProblems];
  if (problems.length > 0 || options === undefined) return { ok: false, problems };
  return { ok: true, value: { workflow, options, devices } };
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
export function withRequestOverrides(manifestDefaults: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
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
