import { createHash } from 'node:crypto';
import type { FleetWorkflow, RequestOptions } from '../functions/contract.ts';
import { MAX_DEVICES_PER_REQUEST, MAX_REQUEST_BYTES, type PlannedDevice, requestBytes, type ValidManifest } from '../functions/contract.ts';

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

/**
 * Splits the devices, in manifest order, into requests within the API's limits. Request ids hash the whole
 * validated content and the run's id, so a re-run of the same run (same manifest, options and state file)
 * sends the same ids and reaches the same executions; any change to a device or an option gives new ones
 * instead of a 409; and a new run (the state file deleted, or another --report) gives new ones instead of
 * the summaries of executions that ended long ago, when the fleet may have been removed since.
 */
export function planRequests(
  { workflow, options, devices }: ValidManifest,
  runId: string,
  limits: ChunkLimits = REQUEST_LIMITS,
): FleetPlan {
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
