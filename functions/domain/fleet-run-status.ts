import { messageFromCause } from './errors.ts';
import { type FleetReportLocation, INVALID_MANIFEST } from './fleet-run.ts';
import type { FleetRunStatus } from './fleet-run-schemas.ts';

/** What `GET /fleet-runs/{fleetRunId}` reads of DescribeExecution. */
interface ExecutionFacts {
  name?: string;
  executionArn?: string;
  status?: string;
  startDate?: Date;
  stopDate?: Date;
  input?: string;
  output?: string;
  error?: string;
  cause?: string;
}

/** What it reads of DescribeMapRun: counts of devices (items) and of batches (child executions). */
interface MapRunFacts {
  itemCounts?: Partial<Record<'total' | 'succeeded' | 'failed' | 'timedOut' | 'aborted' | 'running' | 'pending', number>>;
  executionCounts?: Partial<Record<'total' | 'succeeded' | 'failed' | 'timedOut' | 'aborted' | 'running' | 'pending', number>>;
}

const ended = (counts: MapRunFacts['itemCounts'] = {}) => (counts.succeeded ?? 0) + (counts.failed ?? 0) + (counts.timedOut ?? 0) + (counts.aborted ?? 0);

/**
 * A fleet run's status from its execution and its Map Run. The rate counts devices whose batch has ended since the
 * run started; the ETA assumes the remaining devices go at that rate (none before the first batch ends).
 */
export function fleetRunProgress(execution: ExecutionFacts, mapRun: MapRunFacts | undefined, now: Date, problemsLocation: string, cancelled = false): FleetRunStatus {
  const input = JSON.parse(execution.input ?? '{}') as { action?: string; manifest?: string };
  const startDate = execution.startDate ?? now;
  const view: FleetRunStatus = {
    fleetRunId: execution.name ?? '',
    executionArn: execution.executionArn ?? '',
    executionStatus: execution.status as FleetRunStatus['executionStatus'],
    ...(input.action && { action: input.action }),
    ...(input.manifest && { manifest: input.manifest }),
    startDate: startDate.toISOString(),
    ...(execution.stopDate && { stopDate: execution.stopDate.toISOString() }),
    ...(cancelled && { cancelled: true as const }),
  };
  if (mapRun) {
    const total = mapRun.itemCounts?.total ?? 0;
    const done = ended(mapRun.itemCounts);
    view.devices = { total, done };
    view.batches = { total: mapRun.executionCounts?.total ?? 0, done: ended(mapRun.executionCounts), failed: mapRun.executionCounts?.failed ?? 0 };
    const seconds = ((execution.stopDate ?? now).getTime() - startDate.getTime()) / 1000;
    if (done > 0 && seconds > 0) {
      view.devicesPerSecond = done / seconds;
      if (execution.status === 'RUNNING') view.etaSeconds = Math.ceil((total - done) / view.devicesPerSecond);
    }
  }
  if (execution.status === 'SUCCEEDED' && execution.output) {
    const { outcome, totals, report } = JSON.parse(execution.output) as FleetReportLocation;
    Object.assign(view, { outcome, totals, report });
  }
  if (execution.error) {
    // The message is cut to a summary's length; the problems file has every problem with its line.
    view.error = { code: execution.error, message: messageFromCause(execution.cause), ...(execution.error === INVALID_MANIFEST && { problems: problemsLocation }) };
  }
  return view;
}
