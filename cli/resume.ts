import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DeviceResult, FinishedRequest } from './outcomes.ts';
import type { PlannedDevice, RequestChunk } from './plan.ts';
import type { DoneStatus } from './workflow.ts';

/** Finished requests by id, as recorded by earlier runs with the same report prefix. */
export type ResumeState = Map<string, FinishedRequest>;

interface ResumeStateFile {
  version: 1;
  requests: Record<string, FinishedRequest>;
}

/** What is left of a chunk once earlier runs are taken into account. */
export interface ChunkResumption {
  /** Devices an earlier run was done with (provisioned, or deprovisioned): they are not sent again. */
  alreadyDone: DeviceResult[];
  /** The request still to send, if any device is not done yet. */
  next?: { requestId: string; attempt: number; devices: PlannedDevice[] };
}

export function stateFilePath(reportPrefix: string): string {
  return `${reportPrefix}.state.json`;
}

/**
 * A chunk's first request carries all its devices under the chunk's id; once it has finished with failures,
 * attempt n re-sends only the devices not yet done as `<id>-r<n>`. The id must be new because the
 * API ties an id to one body (a different body is a 409) and to one execution (the same body would only
 * return the finished one); being derived, not random, it still lets an interrupted retry be resumed.
 */
function attemptRequestId(chunkRequestId: string, attempt: number): string {
  return attempt === 0 ? chunkRequestId : `${chunkRequestId}-r${attempt}`;
}

export function resumeChunk(chunk: RequestChunk, state: ResumeState, doneStatus: DoneStatus): ChunkResumption {
  const latest = new Map<string, Pick<DeviceResult, 'requestId' | 'outcome'>>();
  let attempt = 0;
  for (let finished = state.get(chunk.requestId); finished; finished = state.get(attemptRequestId(chunk.requestId, attempt))) {
    for (const outcome of finished.devices) latest.set(outcome.thingName, { requestId: finished.requestId, outcome });
    attempt += 1;
  }
  const alreadyDone: DeviceResult[] = [];
  const pending: PlannedDevice[] = [];
  for (const planned of chunk.devices) {
    const last = latest.get(planned.device.thingName);
    if (last?.outcome.status === doneStatus) alreadyDone.push({ planned, ...last, resumed: true });
    else pending.push(planned);
  }
  if (pending.length === 0) return { alreadyDone };
  return { alreadyDone, next: { requestId: attemptRequestId(chunk.requestId, attempt), attempt, devices: pending } };
}

export async function loadResumeState(path: string): Promise<ResumeState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  const file = JSON.parse(text) as Partial<ResumeStateFile>;
  if (file.version !== 1 || typeof file.requests !== 'object' || file.requests === null) {
    throw new Error(`${path} is not a state file of this version of iot-provision`);
  }
  return new Map(Object.entries(file.requests));
}

/**
 * Records finished requests as they come. Requests finish concurrently, so writes are queued: each writes
 * the whole state, and through a rename, so that an interrupted run leaves the previous file intact.
 *
 * A failed write is handed to `writeFailed` and does not fail the run: the outcomes are in hand and still go
 * to the report, the next write carries the whole state again, and at worst a re-run resubmits a request it
 * finds unrecorded, which the API answers with the execution that already ran.
 */
export function createStateRecorder(path: string, state: ResumeState, writeFailed: (error: Error) => void): { record(finished: FinishedRequest): Promise<void> } {
  let writing: Promise<void> = Promise.resolve();
  const write = async () => {
    const file: ResumeStateFile = { version: 1, requests: Object.fromEntries(state) };
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(`${path}.tmp`, `${JSON.stringify(file, null, 2)}\n`);
      await rename(`${path}.tmp`, path);
    } catch (error) {
      writeFailed(error as Error);
    }
  };
  return {
    record(finished) {
      state.set(finished.requestId, finished);
      writing = writing.then(write);
      return writing;
    },
  };
}
