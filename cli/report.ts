import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FleetRunStatus, FleetWorkflow } from '../functions/contract.ts';
import { type DeviceReportEntry, deviceReportCsv, failureCounts } from '../functions/contract.ts';
import type { FleetRunResult, RequestRecord } from './fleet-run.ts';
import { formatDuration, formatRate } from './progress.ts';

export interface FleetReport {
  workflow: FleetWorkflow['name'];
  manifest: string;
  apiUrl: string;
  startedAt: string;
  finishedAt: string;
  elapsedSeconds: number;
  totals: {
    requests: number;
    requestsSkipped: number;
    /** Requests that got no final answer: not accepted, or their status could not be read. */
    requestsUnfinished: number;
    devices: number;
    /** Provisioned (or, for a deprovisioning run, deprovisioned), by this run or an earlier one. */
    succeeded: number;
    succeededEarlier: number;
    failed: number;
    /** Devices whose request was cancelled before them (untouched; a resumed run sends them again), when there are any. */
    notStarted?: number;
    /** Devices settled by this run per second. */
    devicesPerSecond?: number;
  };
  /** Failed devices by `<step> <code>`. */
  failures: Record<string, number>;
  requests: RequestRecord[];
  devices: DeviceReportEntry[];
}

interface ReportContext {
  workflow: FleetWorkflow;
  manifest: string;
  apiUrl: string;
  startedAt: Date;
  finishedAt: Date;
}

interface ReportPaths {
  json: string;
  csv: string;
}

export function reportPaths(prefix: string): ReportPaths {
  return { json: `${prefix}.json`, csv: `${prefix}.csv` };
}

export function buildReport(context: ReportContext, result: FleetRunResult): FleetReport {
  const devices = result.devices.map(
    ({ planned, requestId, outcome, resumed }): DeviceReportEntry => ({
      index: planned.index,
      line: planned.line,
      thingName: outcome.thingName,
      status: outcome.status,
      coreDeviceThingName: outcome.coreDeviceThingName,
      requestId,
      resumed,
      thingArn: outcome.thingArn,
      certificateArn: outcome.certificateArn,
      error: outcome.error,
      rollback: outcome.rollback,
    }),
  );
  const failures = failureCounts(devices);
  const elapsedSeconds = (context.finishedAt.getTime() - context.startedAt.getTime()) / 1000;
  const succeeded = devices.filter((device) => device.status === context.workflow.doneStatus).length;
  const succeededEarlier = devices.filter((device) => device.resumed).length;
  const notStarted = devices.filter((device) => device.status === 'NOT_STARTED').length;
  const settledThisRun = devices.length - succeededEarlier;
  return {
    workflow: context.workflow.name,
    manifest: context.manifest,
    apiUrl: context.apiUrl,
    startedAt: context.startedAt.toISOString(),
    finishedAt: context.finishedAt.toISOString(),
    elapsedSeconds,
    totals: {
      requests: result.requests.length,
      requestsSkipped: result.requests.filter((request) => request.result === 'skipped').length,
      requestsUnfinished: result.requests.filter((request) => request.result === 'not-submitted' || request.result === 'status-unknown')
        .length,
      devices: devices.length,
      succeeded,
      succeededEarlier,
      failed: devices.length - succeeded - notStarted,
      ...(notStarted > 0 && { notStarted }),
      devicesPerSecond: elapsedSeconds > 0 && settledThisRun > 0 ? settledThisRun / elapsedSeconds : undefined,
    },
    failures,
    requests: result.requests,
    devices,
  };
}

export async function writeReport(paths: ReportPaths, report: FleetReport): Promise<void> {
  await mkdir(dirname(paths.json), { recursive: true });
  await writeFile(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(paths.csv, deviceReportCsv(report.devices));
}

export function formatSummary(report: FleetReport, paths: ReportPaths, workflow: FleetWorkflow): string {
  const { totals } = report;
  const requestNotes = [
    totals.requestsSkipped > 0 && `${totals.requestsSkipped} skipped (${workflow.done} by an earlier run)`,
    totals.requestsUnfinished > 0 && `${totals.requestsUnfinished} without a final answer`,
  ].filter(Boolean);
  const rows: [string, string][] = [
    ['Requests', [String(totals.requests), ...requestNotes].join(', ')],
    [
      'Devices',
      `${totals.devices}: ${totals.succeeded} ${workflow.done}${totals.succeededEarlier > 0 ? ` (${totals.succeededEarlier} by an earlier run)` : ''}, ${totals.failed} failed`,
    ],
  ];
  const failures = Object.entries(report.failures).sort(([, left], [, right]) => right - left);
  for (const [index, [stepAndCode, count]] of failures.entries())
    rows.push([index === 0 ? 'Failures' : '', `${String(count).padStart(6)}  ${stepAndCode}`]);
  rows.push(
    ['Elapsed', formatDuration(report.elapsedSeconds)],
    ['Rate', formatRate(totals.devicesPerSecond)],
    ['Report', `${paths.json}, ${paths.csv}`],
  );
  return formatRows(rows);
}

/** The summary of a fleet run the service carried out, from its final status; `paths` are where its report is. */
export function formatFleetRunSummary(status: FleetRunStatus, paths: ReportPaths, workflow: FleetWorkflow): string {
  const totals = status.totals!;
  const batchNotes = [
    totals.batchesFailed > 0 && `${totals.batchesFailed} failed`,
    totals.batchesNotStarted > 0 && `${totals.batchesNotStarted} not started`,
  ].filter(Boolean);
  const stoppedAt = status.stopDate === undefined ? Date.now() : Date.parse(status.stopDate);
  return formatRows([
    ['Fleet run', `${status.fleetRunId}: ${status.outcome}`],
    ['Batches', [String(totals.batches), ...batchNotes].join(', ')],
    [
      'Devices',
      `${totals.devices}: ${totals.succeeded} ${workflow.done}, ${totals.failed} failed${totals.rolledBack > 0 ? ` (${totals.rolledBack} rolled back)` : ''}${totals.notStarted > 0 ? `, ${totals.notStarted} not started` : ''}`,
    ],
    ['Elapsed', formatDuration((stoppedAt - Date.parse(status.startDate)) / 1000)],
    ['Rate', formatRate(totals.devicesPerSecond)],
    ['Report', `${paths.json}, ${paths.csv}`],
  ]);
}

function formatRows(rows: readonly [string, string][]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}
