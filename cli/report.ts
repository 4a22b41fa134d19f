import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { RollbackReport } from '../functions/domain/records.ts';
import type { FleetRunResult, RequestRecord } from './fleet-run.ts';
import type { OutcomeError } from './outcomes.ts';
import { formatDuration, formatRate } from './progress.ts';
import type { DoneStatus, FleetWorkflow } from './workflow.ts';

interface DeviceReportEntry {
  /** Position among the manifest's devices, from 0. */
  index: number;
  line?: number;
  thingName: string;
  status: DoneStatus | 'FAILED';
  coreDeviceThingName?: string;
  /** The request that produced this outcome (a retry's id for a device retried). */
  requestId: string;
  /** Done by an earlier run, per the state file. */
  resumed?: true;
  thingArn?: string;
  certificateArn?: string;
  error?: OutcomeError;
  rollback?: RollbackReport;
}

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

const CSV_COLUMNS = [
  'line', 'index', 'thingName', 'status', 'coreDeviceThingName', 'requestId', 'resumed',
  'thingArn', 'certificateArn', 'errorStep', 'errorCode', 'errorMessage', 'rolledBack', 'rollbackIncomplete',
] as const;

export function reportPaths(prefix: string): ReportPaths {
  return { json: `${prefix}.json`, csv: `${prefix}.csv` };
}

export function buildReport(context: ReportContext, result: FleetRunResult): FleetReport {
  const devices = result.devices.map(({ planned, requestId, outcome, resumed }): DeviceReportEntry => ({
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
  }));
  const failures: Record<string, number> = {};
  for (const { error } of devices) {
    if (error === undefined) continue;
    const stepAndCode = `${error.step} ${error.code}`;
    failures[stepAndCode] = (failures[stepAndCode] ?? 0) + 1;
  }
  const elapsedSeconds = (context.finishedAt.getTime() - context.startedAt.getTime()) / 1000;
  const succeeded = devices.filter((device) => device.status === context.workflow.doneStatus).length;
  const succeededEarlier = devices.filter((device) => device.resumed).length;
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
      requestsUnfinished: result.requests.filter((request) => request.result === 'not-submitted' || request.result === 'status-unknown').length,
      devices: devices.length,
      succeeded,
      succeededEarlier,
      failed: devices.length - succeeded,
      devicesPerSecond: elapsedSeconds > 0 && settledThisRun > 0 ? settledThisRun / elapsedSeconds : undefined,
    },
    failures,
    requests: result.requests,
    devices,
  };
}

function reportCsv(report: FleetReport): string {
  const rows = report.devices.map((device) => [
    device.line, device.index, device.thingName, device.status, device.coreDeviceThingName, device.requestId, device.resumed ? 'true' : 'false',
    device.thingArn, device.certificateArn, device.error?.step, device.error?.code, device.error?.message,
    device.rollback && describeUndone(device.rollback), device.rollback?.incomplete && `${device.rollback.incomplete.code}: ${device.rollback.incomplete.message}`,
  ]);
  return stringify(rows, { header: true, columns: [...CSV_COLUMNS] });
}

/** What a failed device's rollback undid; left empty when it stopped before undoing anything. */
function describeUndone({ thingDeleted, detachedPrincipals, certificateDeleted, incomplete }: RollbackReport): string {
  const undone = [
    thingDeleted && 'thing deleted',
    detachedPrincipals.length > 0 && `detached ${detachedPrincipals.join(' ')}`,
    certificateDeleted && 'certificate deleted',
  ].filter(Boolean);
  if (undone.length > 0) return undone.join('; ');
  return incomplete ? '' : 'nothing to undo';
}

export async function writeReport(paths: ReportPaths, report: FleetReport): Promise<void> {
  await mkdir(dirname(paths.json), { recursive: true });
  await writeFile(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(paths.csv, reportCsv(report));
}

export function formatSummary(report: FleetReport, paths: ReportPaths, workflow: FleetWorkflow): string {
  const { totals } = report;
  const requestNotes = [
    totals.requestsSkipped > 0 && `${totals.requestsSkipped} skipped (${workflow.done} by an earlier run)`,
    totals.requestsUnfinished > 0 && `${totals.requestsUnfinished} without a final answer`,
  ].filter(Boolean);
  const rows: [string, string][] = [
    ['Requests', [String(totals.requests), ...requestNotes].join(', ')],
    ['Devices', `${totals.devices}: ${totals.succeeded} ${workflow.done}${totals.succeededEarlier > 0 ? ` (${totals.succeededEarlier} by an earlier run)` : ''}, ${totals.failed} failed`],
  ];
  const failures = Object.entries(report.failures).sort(([, left], [, right]) => right - left);
  for (const [index, [stepAndCode, count]] of failures.entries()) rows.push([index === 0 ? 'Failures' : '', `${String(count).padStart(6)}  ${stepAndCode}`]);
  rows.push(['Elapsed', formatDuration(report.elapsedSeconds)], ['Rate', formatRate(totals.devicesPerSecond)], ['Report', `${paths.json}, ${paths.csv}`]);
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}
