import { messageFromCause } from './errors.ts';
import { coreDeviceOf, type ManifestProblem, type PlannedDevice } from './fleet-manifest.ts';
import { failedOutcome, finishRequest, type FinalExecutionStatus, type FleetDeviceOutcome, type OutcomeError } from './fleet-outcomes.ts';
import { type DeviceReportEntry, failureCounts } from './fleet-report.ts';
import type { FleetAction, FleetOutcome, FleetTotals } from './fleet-run-schemas.ts';
import { DEPROVISIONING, type FleetWorkflow, PROVISIONING, type RequestOptions } from './fleet-workflow.ts';
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

export const FLEET_WORKFLOWS: Record<FleetAction, FleetWorkflow> = { provision: PROVISIONING, deprovision: DEPROVISIONING };

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

/**
 * The validated devices as the run's JSONL, ordered by core device (then manifest order): the batcher cuts
 * consecutive lines, so a batch mostly holds one core device and its association calls fill up (100 a call).
 */
export function normalizedManifest(devices: readonly PlannedDevice[], options: RequestOptions): { jsonl: string; coreDevices: number } {
  const coreOf = (planned: PlannedDevice) => coreDeviceOf(planned.device, options) ?? '';
  const sorted = [...devices].sort((left, right) => coreOf(left).localeCompare(coreOf(right)) || left.index - right.index);
  return { jsonl: sorted.map((planned) => `${JSON.stringify(planned)}\n`).join(''), coreDevices: new Set(sorted.map(coreOf)).size };
}

/** The problems file of an invalid manifest, and the one-line error the run fails with. */
export function manifestProblemsReport(manifest: string, problems: readonly ManifestProblem[]): { document: unknown; summary: string } {
  const count = `${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}`;
  return { document: { manifest, problems }, summary: `${manifest}: ${count}; no device was touched` };
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

interface ReportContext {
  fleetRunId: string;
  action: FleetAction;
  manifest: string;
  startedAt: Date;
  finishedAt: Date;
  /** Every device of the run's JSONL: the report holds each exactly once, whatever the result files say. */
  devices: readonly PlannedDevice[];
}

/**
 * One outcome per device of the run: from its batch's summary (as the CLI reads a request's), FAILED at `submit`
 * with the error of a batch whose request never ran (devices held by another request, say), NOT_STARTED for a
 * batch the Map never started, and FAILED `status MissingOutcome` for a device no result file mentions.
 */
export function buildFleetReport(context: ReportContext, results: MapRunResults): FleetReportDocument {
  const workflow = FLEET_WORKFLOWS[context.action];
  const outcomes = new Map<number, { requestId: string; outcome: FleetDeviceOutcome }>();
  const record = (batch: FleetBatch, outcomeOf: (requestId: string, sent: { thingName: string; coreDeviceThingName: string | undefined }[]) => FleetDeviceOutcome[]) => {
    const requestId = batchRequestId(context.fleetRunId, batch.Items[0]?.position ?? 0);
    const sent = batch.Items.map(({ planned }) => ({ thingName: planned.device.thingName, coreDeviceThingName: coreDeviceOf(planned.device, batch.BatchInput.options) }));
    const deviceOutcomes = outcomeOf(requestId, sent);
    batch.Items.forEach(({ planned }, position) => outcomes.set(planned.index, { requestId, outcome: deviceOutcomes[position]! }));
  };
  // As a request's summary says it: devices a cancel left not started make the run CANCELLED, whatever the others did.
  let cancelled = false;
  for (const entry of results.succeeded) {
    const result = JSON.parse(entry.Output) as BatchResult;
    if ('cancelled' in result || result.summary?.status === 'CANCELLED') cancelled = true;
    record(JSON.parse(entry.Input) as FleetBatch, (requestId, sent) =>
      'cancelled' in result ? sent.map(notStartedOutcome) : finishRequest(requestId, result.status, result.summary, sent, workflow.doneStatus).devices,
    );
  }
  for (const entry of results.failed) {
    const error: OutcomeError = { step: 'submit', code: entry.Error ?? 'BatchFailed', message: messageFromCause(entry.Cause) || 'the batch failed without a cause' };
    record(JSON.parse(entry.Input) as FleetBatch, (_, sent) => sent.map((device) => failedOutcome(device, error)));
  }
  for (const entry of results.pending) {
    record(JSON.parse(entry.Input) as FleetBatch, (_, sent) => sent.map(notStartedOutcome));
  }

  const devices = [...context.devices]
    .sort((left, right) => left.index - right.index)
    .map((planned): DeviceReportEntry => {
      const found = outcomes.get(planned.index);
      const { requestId, outcome } = found ?? {
        requestId: '',
        outcome: failedOutcome(
          { thingName: planned.device.thingName, coreDeviceThingName: planned.device.coreDeviceThingName },
          { step: 'status', code: 'MissingOutcome', message: 'no batch result of the run mentions this device' },
        ),
      };
      return {
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
    });
  const succeeded = devices.filter((device) => device.status === workflow.doneStatus).length;
  const notStarted = devices.filter((device) => device.status === 'NOT_STARTED').length;
  const elapsedSeconds = (context.finishedAt.getTime() - context.startedAt.getTime()) / 1000;
  return {
    fleetRunId: context.fleetRunId,
    workflow: context.action,
    manifest: context.manifest,
    startedAt: context.startedAt.toISOString(),
    finishedAt: context.finishedAt.toISOString(),
    elapsedSeconds,
    outcome: cancelled ? 'CANCELLED' : succeeded === devices.length ? 'SUCCEEDED' : succeeded === 0 ? 'FAILED' : 'PARTIAL',
    totals: {
      batches: results.succeeded.length + results.failed.length + results.pending.length,
      batchesFailed: results.failed.length,
      batchesNotStarted: results.pending.length,
      devices: devices.length,
      succeeded,
      failed: devices.length - succeeded - notStarted,
      rolledBack: devices.filter(isRolledBack).length,
      notStarted,
      ...(elapsedSeconds > 0 && { devicesPerSecond: (devices.length - notStarted) / elapsedSeconds }),
    },
    failures: failureCounts(devices),
    devices,
  };
}

const notStartedOutcome = (device: { thingName: string; coreDeviceThingName: string | undefined }): FleetDeviceOutcome => ({ ...device, status: 'NOT_STARTED' });

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
  const version = object.versionId ?? object.etag ?? '';
  return `s3-${requestDigest({ bucket: object.bucket, key: object.key, version }).slice(0, 40)}`;
}
