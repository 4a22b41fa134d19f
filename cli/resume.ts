import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DeviceResult, DoneStatus, FinishedRequest, FleetWorkflow, PlannedDevice } from '../functions/contract.ts';
import type { RequestChunk } from './plan.ts';

/** Finished requests by id, as recorded by earlier runs with the same report prefix. */
export type ResumeState = Map<string, FinishedRequest>;

/** A run of a manifest, from its first attempt to its last resumption: what its state file holds. */
export interface FleetRunRecord {
  /** Salts the run's request ids (see planRequests), so that a new run never reaches an old run's executions. */
  runId: string;
  state: ResumeState;
}

/** Version 1 had no runId: its runs keep the unsalted request ids they were started with. */
interface ResumeStateFile {
  version: 1 | 2;
  runId?: string;
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

/** `undone`: devices a later run of the other workflow settled, whose "done" here no longer holds (see undoneSince). */
export function resumeChunk(
  chunk: RequestChunk,
  state: ResumeState,
  doneStatus: DoneStatus,
  undone: ReadonlySet<string> = new Set(),
): ChunkResumption {
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
    if (last?.outcome.status === doneStatus && !undone.has(planned.device.thingName)) alreadyDone.push({ planned, ...last, resumed: true });
    else pending.push(planned);
  }
  if (pending.length === 0) return { alreadyDone };
  return { alreadyDone, next: { requestId: attemptRequestId(chunk.requestId, attempt), attempt, devices: pending } };
}

type WorkflowIdentity = Pick<FleetWorkflow, 'requestIdPrefix' | 'doneStatus'>;

/**
 * The devices whose last settled outcome came from the other workflow: deprovisioned after this state recorded them
 * provisioned, or the reverse. Resuming must send them again rather than report as done what the service no
 * longer holds. A state file holds the records of both workflows when both runs were given the same --report
 * (told apart by their request ids' prefixes, in the order they finished); `laterOtherRun` is the other workflow's
 * own state file when it was written after this one, all of whose records are later.
 */
export function undoneSince(
  state: ResumeState,
  workflow: WorkflowIdentity,
  other: WorkflowIdentity,
  laterOtherRun: ResumeState = new Map(),
): Set<string> {
  const settledLastByOther = new Map<string, boolean>();
  for (const finished of [...state.values(), ...laterOtherRun.values()]) {
    const byOther = finished.requestId.startsWith(other.requestIdPrefix);
    const doneStatus = byOther ? other.doneStatus : workflow.doneStatus;
    for (const device of finished.devices) if (device.status === doneStatus) settledLastByOther.set(device.thingName, byOther);
  }
  return new Set([...settledLastByOther].filter(([, byOther]) => byOther).map(([thingName]) => thingName));
}

/** The run recorded in the state file, or `undefined` when there is none yet. */
export async function loadRun(path: string): Promise<FleetRunRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    // ENOTDIR: a parent is a file, so there is no state file; writing one will fail, and say why.
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
  const file = JSON.parse(text) as Partial<ResumeStateFile>;
  const runId = file.version === 1 ? '' : file.runId;
  if (
    (file.version !== 1 && file.version !== 2) ||
    typeof runId !== 'string' ||
    typeof file.requests !== 'object' ||
    file.requests === null
  ) {
    throw new Error(`${path} is not a state file of this version of iot-provision`);
  }
  return { runId, state: new Map(Object.entries(file.requests)) };
}

export function newRun(): FleetRunRecord {
  return { runId: randomBytes(4).toString('hex'), state: new Map() };
}

/**
 * Writes the whole state file, through a rename. A new run's is written before anything is sent: a run
 * interrupted after its first request must resume under the same request ids, to reach the executions
 * already started instead of starting them again.
 */
export async function saveRun(path: string, { runId, state }: FleetRunRecord): Promise<void> {
  const file: ResumeStateFile = { version: 2, runId, requests: Object.fromEntries(state) };
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, `${JSON.stringify(file, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

/**
 * Records finished requests as they come. Requests finish concurrently, so writes are queued: each writes
 * the whole state, and through a rename, so that an interrupted run leaves the previous file intact.
 *
 * A failed write is handed to `writeFailed` and does not fail the run: the outcomes are in hand and still go
 * to the report, the next write carries the whole state again, and at worst a re-run resubmits a request it
 * finds unrecorded, which the API answers with the execution that already ran.
 */
export function createStateRecorder(
  path: string,
  run: FleetRunRecord,
  writeFailed: (error: Error) => void,
): { record(finished: FinishedRequest): Promise<void>; settled(): Promise<void> } {
  let writing: Promise<void> = Promise.resolve();
  const write = async () => {
    try {
      await saveRun(path, run);
    } catch (error) {
      writeFailed(error as Error);
    }
  };
  return {
    record(finished) {
      run.state.set(finished.requestId, finished);
      writing = writing.then(write);
      return writing;
    },
    /** Resolves once every recorded request is on disk (or its write has failed). */
    settled: () => writing,
  };
}
