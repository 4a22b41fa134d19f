import { messageFromCause } from './errors.ts';
import { DONE_STATUS_BY_ACTION } from './fleet-action.ts';
import { coreDeviceOf, type ManifestProblem, type PlannedDevice } from './fleet-manifest.ts';
import { type FinalExecutionStatus, type FleetDeviceOutcome, failedOutcome, finishRequest, type OutcomeError } from './fleet-outcomes.ts';
import { countFailure, type DeviceReportEntry } from './fleet-report.ts';
import type { FleetAction, FleetOutcome, FleetTotals } from './fleet-run-schemas.ts';
import type { DoneStatus, RequestOptions } from './fleet-workflow.ts';
import { MAX_DEVICES_PER_REQUEST } from './limits.ts';
import { deviceConcurrency, type PacingQuotas } from './pacing.ts';
import type { RequestSummary } from './records.ts';
import { requestDigest } from './request-digest.ts';
import { isRolledBack } from './summary.ts';

export type { FleetAction, FleetOutcome } from './fleet-run-schemas.ts';

/** The detail-type of the event every run ends with, its manifest valid or not (fleet-run-schemas.ts). */
export const FLEET_COMPLETION_DETAIL_TYPE = 'Fleet Run Completed';

/** The error a run fails with when its manifest is invalid (its problems are in `<run>/problems.json`). */
export const INVALID_MANIFEST = 'InvalidManifest';

/**
 * A fleet run's id names its execution and, with `-<first item>`, the request of each batch: a request id has
 * at most 80 characters, and a manifest position at most 7 digits.
 */
export const FLEET_RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,72}$/;

/** The batcher's limits: one batch is one request, so the API's limits (limits.ts) hold for it. */
export const FLEET_BATCH_LIMITS = { maxItems: MAX_DEVICES_PER_REQUEST, maxInputBytes: 200 * 1024 } as const;

/** Where a run keeps its files in the fleet bucket; each run has its own prefix, so runs never overwrite each other's. */
export function fleetRunKeys(fleetRunId: string) {
  const prefix = `fleet-runs/${fleetRunId}`;
  return {
    devices: `${prefix}/devices.jsonl`,
    problems: `${prefix}/problems.json`,
    results: `${prefix}/results`,
    reportJson: `${prefix}/report.json`,
    reportCsv: `${prefix}/report.csv`,
  };
}

/** Where a device goes in the run's JSONL: its core device (the default one for those without), then its manifest position. */
export type DeviceOrder = [coreDevice: string, index: number];

export function deviceOrder(planned: PlannedDevice, options: RequestOptions): DeviceOrder {
  return [coreDeviceOf(planned.device, options) ?? '', planned.index];
}

/**
 * The run's JSONL is ordered by core device, then manifest order: the batcher cuts consecutive lines, so a batch
 * mostly holds one core device and its association calls fill up (100 a call). Grouping needs no locale: code-unit
 * order spares every fleet function an Intl.Collator (ICU's collation data) at import, and reads the same anywhere.
 */
export function compareDeviceOrder([leftCore, leftIndex]: DeviceOrder, [rightCore, rightIndex]: DeviceOrder): number {
  if (leftCore !== rightCore) return leftCore < rightCore ? -1 : 1;
  return leftIndex - rightIndex;
}

/** The problems file of an invalid manifest, and the one-line error the run fails with. */
export function manifestProblemsReport(
  manifest: string,
  problems: readonly ManifestProblem[],
  problemCount = problems.length,
): { document: unknown; summary: string } {
  const count = `${problemCount} ${problemCount === 1 ? 'problem' : 'problems'}`;
  // Past the first problems, a manifest is more likely wrong throughout than in as many places: the count says how far.
  const listed = problemCount > problems.length ? { problemCount, listed: problems.length } : {};
  return { document: { manifest, ...listed, problems }, summary: `${manifest}: ${count}; no device was touched` };
}

/** Devices one batch works on at once, on average: enough that a batch's tail (associating, summarizing) overlaps the next batch's start. */
const LANES_PER_BATCH = 3;

/**
 * How many batches run at once. Each batch's execution sizes its own Map from the quotas and the executions
 * running (pacing.ts), dividing the account's RegisterThing lanes among them; more batches than lanes would
 * only queue executions behind one another's throttling.
 */
export function fleetBatchConcurrency(quotas: PacingQuotas): number {
  return Math.max(1, Math.ceil(deviceConcurrency(quotas) / LANES_PER_BATCH));
}

/** The request (and execution) of the batch whose first item is at `position` in the run's JSONL: a retried batch names it again. */
export function batchRequestId(fleetRunId: string, position: number): string {
  return `${fleetRunId}-${position}`;
}

/**
 * Whose cancel marker stops a run's batches (device-leases.ts writeCancelMarker): the run, and the digest of what it
 * was started with, so a cancel reaches this run and no other that reused its fleetRunId.
 */
export function fleetRunOwner(fleetRunId: string, requestDigest: string): string {
  return `fleet/${fleetRunId}/${requestDigest.slice(0, 16)}`;
}

/** A batch as the Map hands it to the ItemProcessor (ItemSelector, then ItemBatcher). */
export interface FleetBatch {
  BatchInput: { fleetRunId: string; action: FleetAction; options: RequestOptions; requestDigest: string };
  Items: { position: number; planned: PlannedDevice }[];
}

/**
 * What a batch's ItemProcessor answers: its request's execution and summary (none when the execution ended without
 * one), or that the run was cancelled before the batch's request started.
 */
export type BatchResult = { executionArn: string; status: FinalExecutionStatus; summary?: RequestSummary } | { cancelled: true };

/** The Map Run's result files (ResultWriter), each entry as Step Functions writes it. */
export interface MapRunResults {
  succeeded: { Input: string; Output: string }[];
  failed: { Input: string; Error?: string; Cause?: string }[];
  pending: { Input: string }[];
}

export interface FleetReportDocument {
  fleetRunId: string;
  workflow: FleetAction;
  manifest: string;
  startedAt: string;
  finishedAt: string;
  elapsedSeconds: number;
  outcome: FleetOutcome;
  totals: FleetTotals;
  failures: Record<string, number>;
  devices: DeviceReportEntry[];
}

/** A finished run's output and its completion event's detail: the outcome, the counts and where the report is. */
export interface FleetReportLocation {
  fleetRunId: string;
  action: FleetAction;
  outcome: FleetOutcome;
  totals: FleetReportDocument['totals'];
  report: { json: string; csv: string };
}

/** What a report's header says of the run, as its devices are counted. */
export type FleetReportHeader = Omit<FleetReportDocument, 'devices'>;

/** One entry of a Map Run's result files, by the file it was read from. */
export type MapRunResult =
  | { kind: 'succeeded'; entry: MapRunResults['succeeded'][number] }
  | { kind: 'failed'; entry: MapRunResults['failed'][number] }
  | { kind: 'pending'; entry: MapRunResults['pending'][number] };

/**
 * A fleet run's report, made one batch result at a time so that it can be written as it is made: one outcome per
 * device from its batch's summary (as the CLI reads a request's), FAILED at `submit` with the error of a batch whose
 * request never ran (devices held by another request, say), NOT_STARTED for a batch the Map never started, and FAILED
 * `status MissingOutcome` for a device no result file mentions (`missing`, for each device `reported` says no to).
 * It keeps only the counts and which devices it has reported.
 */
export class FleetReportTally {
  readonly #fleetRunId: string;
  readonly #action: FleetAction;
  readonly #doneStatus: DoneStatus;
  readonly #reported = new Set<number>();
  readonly #failures: Record<string, number> = {};
  #batches = { batches: 0, batchesFailed: 0, batchesNotStarted: 0 };
  #succeeded = 0;
  #notStarted = 0;
  #rolledBack = 0;
  // As a request's summary says it: devices a cancel left not started make the run CANCELLED, whatever the others did.
  #cancelled = false;

  constructor(fleetRunId: string, action: FleetAction) {
    this.#fleetRunId = fleetRunId;
    this.#action = action;
    this.#doneStatus = DONE_STATUS_BY_ACTION[action];
  }

  /** The lines of a batch's devices, except those an earlier result already reported. */
  batch(result: MapRunResult): DeviceReportEntry[] {
    const batch = JSON.parse(result.entry.Input) as FleetBatch;
    // Stryker disable next-line OptionalChaining: equivalent: the Map hands over no batch without items
    const requestId = batchRequestId(this.#fleetRunId, batch.Items[0]?.position ?? 0);
    const sent = batch.Items.map(({ planned }) => ({
      thingName: planned.device.thingName,
      coreDeviceThingName: coreDeviceOf(planned.device, batch.BatchInput.options),
    }));
    this.#batches.batches++;
    let outcomes: FleetDeviceOutcome[];
    if (result.kind === 'succeeded') {
      const output = JSON.parse(result.entry.Output) as BatchResult;
      if ('cancelled' in output || output.summary?.status === 'CANCELLED') this.#cancelled = true;
      outcomes =
        'cancelled' in output
          ? sent.map(notStartedOutcome)
          : finishRequest(requestId, output.status, output.summary, sent, this.#doneStatus).devices;
    } else if (result.kind === 'failed') {
      this.#batches.batchesFailed++;
      const error: OutcomeError = {
        step: 'submit',
        code: result.entry.Error ?? 'BatchFailed',
        message: messageFromCause(result.entry.Cause) || 'the batch failed without a cause',
      };
      outcomes = sent.map((device) => failedOutcome(device, error));
    } else {
      this.#batches.batchesNotStarted++;
      outcomes = sent.map(notStartedOutcome);
    }
    return batch.Items.flatMap(({ planned }, position) =>
      this.#reported.has(planned.index) ? [] : [this.#entry(planned, requestId, outcomes[position]!)],
    );
  }

  reported(index: number): boolean {
    return this.#reported.has(index);
  }

  /** The line of a device no result file mentions. */
  missing(planned: PlannedDevice): DeviceReportEntry {
    const error = { step: 'status', code: 'MissingOutcome', message: 'no batch result of the run mentions this device' } as const;
    return this.#entry(
      planned,
      '',
      failedOutcome({ thingName: planned.device.thingName, coreDeviceThingName: planned.device.coreDeviceThingName }, error),
    );
  }

  header(context: { manifest: string; startedAt: Date; finishedAt: Date }): FleetReportHeader {
    const devices = this.#reported.size;
    const elapsedSeconds = (context.finishedAt.getTime() - context.startedAt.getTime()) / 1000;
    const succeeded = this.#succeeded;
    return {
      fleetRunId: this.#fleetRunId,
      workflow: this.#action,
      manifest: context.manifest,
      startedAt: context.startedAt.toISOString(),
      finishedAt: context.finishedAt.toISOString(),
      elapsedSeconds,
      outcome: this.#cancelled ? 'CANCELLED' : succeeded === devices ? 'SUCCEEDED' : succeeded === 0 ? 'FAILED' : 'PARTIAL',
      totals: {
        ...this.#batches,
        devices,
        succeeded,
        failed: devices - succeeded - this.#notStarted,
        rolledBack: this.#rolledBack,
        notStarted: this.#notStarted,
        ...(elapsedSeconds > 0 && { devicesPerSecond: (devices - this.#notStarted) / elapsedSeconds }),
      },
      failures: { ...this.#failures },
    };
  }

  #entry(planned: PlannedDevice, requestId: string, outcome: FleetDeviceOutcome): DeviceReportEntry {
    this.#reported.add(planned.index);
    if (outcome.status === this.#doneStatus) this.#succeeded++;
    if (outcome.status === 'NOT_STARTED') this.#notStarted++;
    countFailure(this.#failures, outcome.error);
    const entry: DeviceReportEntry = {
      index: planned.index,
      line: planned.line,
      thingName: planned.device.thingName,
      status: outcome.status,
      coreDeviceThingName: outcome.coreDeviceThingName,
      requestId,
      thingArn: outcome.thingArn,
      certificateArn: outcome.certificateArn,
      error: outcome.error,
      rollback: outcome.rollback,
    };
    if (isRolledBack(entry)) this.#rolledBack++;
    return entry;
  }
}

const notStartedOutcome = (device: { thingName: string; coreDeviceThingName: string | undefined }): FleetDeviceOutcome => ({
  ...device,
  status: 'NOT_STARTED',
});

/** `s3://<bucket>/<key>`, as a fleet run names its manifest. */
export function parseS3Uri(uri: string): { bucket: string; key: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  return match ? { bucket: match[1]!, key: match[2]! } : undefined;
}

/**
 * The run an uploaded manifest starts, named by the object's bucket, key and version (or, unversioned, its ETag):
 * a duplicate delivery of its event, or the same bytes uploaded again, reach the same run; new bytes start a new one.
 */
export function uploadedManifestRunId(object: { bucket: string; key: string; versionId?: string; etag?: string }): string {
  // Stryker disable next-line StringLiteral: equivalent: an S3 object-created event always names the ETag
  const version = object.versionId ?? object.etag ?? '';
  return `s3-${requestDigest({ bucket: object.bucket, key: object.key, version }).slice(0, 40)}`;
}
