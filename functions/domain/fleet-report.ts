import { stringify } from 'csv-stringify/sync';
import type { OutcomeError } from './fleet-outcomes.ts';
import type { DoneStatus } from './fleet-workflow.ts';
import type { RollbackReport } from './records.ts';

/** One device's line in a fleet report, whether the CLI or a server-side fleet run wrote it. */
export interface DeviceReportEntry {
  /** Position among the manifest's devices, from 0. */
  index: number;
  line?: number;
  thingName: string;
  status: DoneStatus | 'FAILED' | 'NOT_STARTED';
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

const CSV_COLUMNS = [
  'line',
  'index',
  'thingName',
  'status',
  'coreDeviceThingName',
  'requestId',
  'resumed',
  'thingArn',
  'certificateArn',
  'errorStep',
  'errorCode',
  'errorMessage',
  'rolledBack',
  'rollbackIncomplete',
] as const;

/** Failed devices by `<step> <code>`. */
export function failureCounts(devices: readonly DeviceReportEntry[]): Record<string, number> {
  const failures: Record<string, number> = {};
  for (const { error } of devices) countFailure(failures, error);
  return failures;
}

export function countFailure(failures: Record<string, number>, error: OutcomeError | undefined): void {
  if (error === undefined) return;
  const stepAndCode = `${error.step} ${error.code}`;
  failures[stepAndCode] = (failures[stepAndCode] ?? 0) + 1;
}

/** The report's CSV: one row per device, the same columns from the CLI and from a fleet run; written in parts, the header starts the first. */
export function deviceReportCsv(devices: readonly DeviceReportEntry[], { header = true } = {}): string {
  const rows = devices.map((device) => [
    device.line,
    device.index,
    device.thingName,
    device.status,
    device.coreDeviceThingName,
    device.requestId,
    device.resumed ? 'true' : 'false',
    device.thingArn,
    device.certificateArn,
    device.error?.step,
    device.error?.code,
    device.error?.message,
    device.rollback && describeUndone(device.rollback),
    device.rollback?.incomplete && `${device.rollback.incomplete.code}: ${device.rollback.incomplete.message}`,
  ]);
  return stringify(rows, { header, columns: [...CSV_COLUMNS] });
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
