import pLimit, { type LimitFunction } from 'p-limit';
import {
  coreDeviceOf,
  type DeviceResult,
  type FinalExecutionStatus,
  type FinishedRequest,
  type FleetDeviceOutcome,
  failedOutcome,
  finishRequest,
  type OutcomeError,
  type PlannedDevice,
  requestBody,
} from '../functions/contract.ts';
import { type ApiFailure, type FleetApi, type PollSchedule, waitUntilFinished } from './api-client.ts';
import type { FleetPlan, RequestChunk } from './plan.ts';
import type { ProgressReporter } from './progress.ts';
import { type ChunkResumption, type ResumeState, resumeChunk } from './resume.ts';

/** What became of one chunk in this run. */
export interface RequestRecord {
  chunk: number;
  requestId: string;
  /** 0 for the chunk's first request, n for its n-th retry of failed devices. */
  attempt: number;
  devices: number;
  /** `skipped`: an earlier run was done with every device of the chunk. */
  result: 'skipped' | 'finished' | 'not-submitted' | 'status-unknown';
  executionArn?: string;
  executionStatus?: FinalExecutionStatus;
  failure?: ApiFailure;
}

export interface FleetRunResult {
  requests: RequestRecord[];
  /** One per device of the manifest, in manifest order. */
  devices: DeviceResult[];
}

export interface FleetRunDependencies {
  api: FleetApi;
  state: ResumeState;
  /** Devices the state records as done that a later run of the other workflow undid: they are sent again. */
  undone?: ReadonlySet<string>;
  recordFinished(finished: FinishedRequest): Promise<void>;
  startProgress(totalDevices: number, alreadyDone: number): ProgressReporter;
  concurrency: number;
  pollBackoff?: PollSchedule;
  /** Aborted: no further request is sent, waiting stops, and the run ends with FleetRunInterrupted. */
  interrupt?: AbortSignal;
}

/** The run was interrupted: requests already sent go on in the service, and a re-run resumes them. */
export class FleetRunInterrupted extends Error {
  constructor() {
    super('the fleet run was interrupted');
  }
}

/**
 * Nothing answers at the API's URL: every request would fail alike, so the run stops at the first one rather than
 * failing the whole fleet device by device. Requests already sent go on in the service; a re-run resumes them.
 */
export class FleetApiUnreachable extends Error {
  readonly failure: ApiFailure;
  constructor(failure: ApiFailure) {
    super(failure.message);
    this.failure = failure;
  }
}

interface ChunkWork {
  chunk: RequestChunk;
  resumption: ChunkResumption;
}

export function resumePlan(plan: FleetPlan, state: ResumeState, undone?: ReadonlySet<string>): ChunkWork[] {
  return plan.chunks.map((chunk) => ({ chunk, resumption: resumeChunk(chunk, state, plan.workflow.doneStatus, undone) }));
}

/** Sends every request still needed, `concurrency` at a time, and waits for each execution to end. */
export async function runFleet(plan: FleetPlan, dependencies: FleetRunDependencies): Promise<FleetRunResult> {
  const work = resumePlan(plan, dependencies.state, dependencies.undone);
  const devices: DeviceResult[] = work.flatMap(({ resumption }) => resumption.alreadyDone);
  const requests: RequestRecord[] = [];
  const totalDevices = plan.chunks.reduce((count, chunk) => count + chunk.devices.length, 0);
  const progress = dependencies.startProgress(totalDevices, devices.length);
  // Requests run concurrently but are submitted one after another: the service sizes a request's pacing by
  // the requests already running (functions/domain/pacing.ts), so each must be running before the next is sized.
  const submitInTurn = pLimit(1);
  const inFlight = pLimit(dependencies.concurrency);

  const { interrupt } = dependencies;
  let unreachable: ApiFailure | undefined;
  const stopOnUnreachable = new AbortController();
  const stopped = interrupt ? AbortSignal.any([interrupt, stopOnUnreachable.signal]) : stopOnUnreachable.signal;
  try {
    await inFlight.map(work, async ({ chunk, resumption }) => {
      if (stopped.aborted) return;
      if (resumption.next === undefined) {
        requests.push({ chunk: chunk.index, requestId: chunk.requestId, attempt: 0, devices: chunk.devices.length, result: 'skipped' });
        return;
      }
      const { record, outcomes } = await sendRequest(
        plan,
        resumption.next,
        { ...dependencies, interrupt: stopped },
        submitInTurn,
        progress,
      );
      if (record.failure?.code === 'Unreachable') {
        unreachable ??= record.failure;
        stopOnUnreachable.abort();
        return;
      }
      requests.push({ chunk: chunk.index, ...record });
      const results = resumption.next.devices.map((planned, position) => ({
        planned,
        requestId: record.requestId,
        outcome: outcomes[position]!,
      }));
      devices.push(...results);
      const failed = results.filter(({ outcome }) => outcome.status === 'FAILED').length;
      progress.settle(results.length - failed, failed, record.requestId);
    });
  } catch (error) {
    if (interrupt?.aborted) throw new FleetRunInterrupted();
    throw unreachable ? new FleetApiUnreachable(unreachable) : error;
  } finally {
    progress.stop(unreachable === undefined);
  }
  if (interrupt?.aborted) throw new FleetRunInterrupted();
  if (unreachable) throw new FleetApiUnreachable(unreachable);
  return {
    requests: requests.sort((left, right) => left.chunk - right.chunk),
    devices: devices.sort((left, right) => left.planned.index - right.planned.index),
  };
}

async function sendRequest(
  plan: FleetPlan,
  next: NonNullable<ChunkResumption['next']>,
  { api, recordFinished, pollBackoff, interrupt }: FleetRunDependencies,
  submitInTurn: LimitFunction,
  progress: ProgressReporter,
): Promise<{ record: Omit<RequestRecord, 'chunk'>; outcomes: FleetDeviceOutcome[] }> {
  const { requestId, attempt, devices } = next;
  const sent = devices.map(({ device }) => ({ thingName: device.thingName, coreDeviceThingName: coreDeviceOf(device, plan.options) }));
  const record = { requestId, attempt, devices: devices.length };

  const submitted = await submitInTurn(() => {
    // Queued before the run stopped: send nothing more.
    interrupt?.throwIfAborted();
    return api.submit(
      requestBody(
        requestId,
        plan.options,
        devices.map(({ device }) => device),
      ),
    );
  });
  if (!submitted.ok) {
    return {
      record: { ...record, result: 'not-submitted', failure: submitted.failure },
      outcomes: sent.map((device, position) => failedOutcome(device, submitError(submitted.failure, position, devices))),
    };
  }
  const executionArn = submitted.value.executionArn;
  const status = await waitUntilFinished(api, requestId, pollBackoff, interrupt, ({ finished }) => progress.running(requestId, finished));
  if (!status.ok) {
    const error: OutcomeError = {
      step: 'status',
      code: status.failure.code,
      message: `${status.failure.message} (execution ${executionArn})`,
    };
    return {
      record: { ...record, result: 'status-unknown', executionArn, failure: status.failure },
      outcomes: sent.map((device) => failedOutcome(device, error)),
    };
  }
  const { executionStatus, summary } = status.value;
  const finished = finishRequest(requestId, executionStatus, summary, sent, plan.workflow.doneStatus);
  await recordFinished(finished);
  return { record: { ...record, result: 'finished', executionArn, executionStatus: finished.executionStatus }, outcomes: finished.devices };
}

/**
 * The manifest was validated with the API's schema, so a 400 means the API and this CLI disagree (different
 * versions): give each device the errors about itself and the request, pointing at manifest lines.
 */
function submitError(failure: ApiFailure, position: number, devices: readonly PlannedDevice[]): OutcomeError {
  if (failure.heldDevices) return heldError(failure, devices[position]!.device.thingName);
  const relevant = (failure.fieldErrors ?? []).flatMap(({ field, reason }) => {
    const deviceField = /^devices\[(\d+)\]\.?(.*)$/.exec(field);
    if (deviceField === null) return [`${field}: ${reason}`];
    if (Number(deviceField[1]) !== position) return [];
    return [`${devices[position]!.where}${deviceField[2] ? ` ${deviceField[2]}` : ''}: ${reason}`];
  });
  return {
    step: 'submit',
    code: failure.code,
    message: relevant.length > 0 ? `${failure.message}: ${relevant.join('; ')}` : failure.message,
  };
}

/**
 * A device in use by another running request (a provisioning and a deprovisioning of the same fleet at once, say):
 * the API leased nothing and started nothing, and a re-run sends the request again, so each device says which
 * request holds it, or that it waits for another device of its request.
 */
function heldError(failure: ApiFailure, thingName: string): OutcomeError {
  const holder = failure.heldDevices?.find((held) => held.thingName === thingName)?.heldBy;
  const message = holder
    ? `held by the running ${holder.workflow === 'provision' ? 'provisioning' : 'deprovisioning'} request ${holder.requestId}; run again once it has finished`
    : `not sent, with the rest of its request: ${failure.message}`;
  return { step: 'submit', code: failure.code, message };
}
