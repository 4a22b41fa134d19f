import { createHash } from 'node:crypto';
import { MAX_DEVICES_PER_REQUEST, MAX_REQUEST_BYTES } from '../functions/domain/limits.ts';
import { EXCLUSIVE_PRINCIPAL_REASON } from '../functions/domain/provisioning-request.ts';
import { validate } from '../functions/domain/validation.ts';
import { describeField, describeRow, type Manifest, type ManifestProblem } from './manifest.ts';
import type { Device, FleetRequest, FleetWorkflow, RequestOptions } from './workflow.ts';

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

export interface RequestChunk {
  index: number;
  /** The id of the chunk's first request; a retry of its failed devices derives its id from this one. */
  requestId: string;
  devices: PlannedDevice[];
}

export interface FleetPlan {
  workflow: FleetWorkflow;
  options: RequestOptions;
  chunks: RequestChunk[];
}

interface ChunkLimits {
  maxDevices: number;
  maxBytes: number;
}

export const REQUEST_LIMITS: ChunkLimits = { maxDevices: MAX_DEVICES_PER_REQUEST, maxBytes: MAX_REQUEST_BYTES };

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
    requestId === undefined ? [] : [{ where: 'manifest', field: 'requestId', reason: 'is set by iot-provision (one per request it sends) and must not be given' }];
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

/**
 * Splits the devices, in manifest order, into requests within the API's limits. Request ids hash the whole
 * validated content and the run's id, so a re-run of the same run (same manifest, options and state file)
 * sends the same ids and reaches the same executions; any change to a device or an option gives new ones
 * instead of a 409; and a new run (the state file deleted, or another --report) gives new ones instead of
 * the summaries of executions that ended long ago, when the fleet may have been removed since.
 */
export function planRequests({ workflow, options, devices }: ValidManifest, runId: string, limits: ChunkLimits = REQUEST_LIMITS): FleetPlan {
  const digest = createHash('sha256')
    // Runs recorded before run ids existed (runId '') keep the ids they were started with.
    .update(JSON.stringify({ options, devices: devices.map(({ device }) => device), ...(runId && { runId }) }))
    .digest('hex')
    .slice(0, 12);
  const emptyRequestBytes = requestBytes(options, []);
  const groups: PlannedDevice[][] = [];
  let current: PlannedDevice[] = [];
  let currentBytes = emptyRequestBytes;
  for (const planned of devices) {
    // One more byte for the comma that separates it from the previous device.
    const deviceBytes = Buffer.byteLength(JSON.stringify(planned.device)) + 1;
    if (current.length > 0 && (current.length === limits.maxDevices || currentBytes + deviceBytes > limits.maxBytes)) {
      groups.push(current);
      current = [];
      currentBytes = emptyRequestBytes;
    }
    current.push(planned);
    currentBytes += deviceBytes;
  }
  if (current.length > 0) groups.push(current);
  const requestId = (index: number) => `${workflow.requestIdPrefix}${digest}-${index}`;
  return { workflow, options, chunks: groups.map((group, index) => ({ index, requestId: requestId(index), devices: group })) };
}

export function requestBody(requestId: string, options: RequestOptions, devices: readonly Device[]): FleetRequest {
  return { requestId, ...options, devices: [...devices] } as FleetRequest;
}

/** The size of a request body holding these devices, with room for the longest request id. */
function requestBytes(options: RequestOptions, devices: readonly Device[]): number {
  return Buffer.byteLength(JSON.stringify(requestBody(REQUEST_ID_PLACEHOLDER, options, devices)));
}

/**
 * Validation guarantees one of the two, except for a deprovisioning request that does not disassociate:
 * its devices need no core device.
 */
export function coreDeviceOf(device: Device, options: RequestOptions): string | undefined {
  return device.coreDeviceThingName ?? options.coreDeviceThingName;
}
