import { messageFromCause } from './errors.ts';
import { type FleetReportLocation, INVALID_MANIFEST } from './fleet-run.ts';
import { devicesSoFar, type FleetDeviceCounts } from './fleet-run-counts.ts';
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

/** What it reads of DescribeMapRun: the devices (items) read from the manifest, and the batches (child executions) by status. */
interface MapRunFacts {
  itemCounts?: { total?: number };
  executionCounts?: Partial<Record<'total' | 'succeeded' | 'failed' | 'timedOut' | 'aborted' | 'running' | 'pending', number>>;
}

const ended = (counts: MapRunFacts['executionCounts'] = {}) =>
  (counts.succeeded ?? 0) + (counts.failed ?? 0) + (counts.timedOut ?? 0) + (counts.aborted ?? 0);

/** What a fleet run's status is read from: its execution, its Map Run once it has one, its counter, its cancel marker. */
export interface FleetRunFacts {
  execution: ExecutionFacts;
  mapRun?: MapRunFacts | undefined;
  /** The devices of the batches counted so far (count-fleet-batch.ts); none before the first batch ends. */
  counts?: FleetDeviceCounts | undefined;
  cancelled?: boolean;
}

const NOTHING_COUNTED: FleetDeviceCounts = { succeeded: 0, failed: 0, rolledBack: 0, notStarted: 0 };

/**
 * A fleet run's status. While it runs, its devices are the Map Run's total and the batches counted so far; once its
 * report is written, the report's totals, which hold every device even where a batch could not be counted. The rate
 * counts those devices since the run started; the ETA assumes the pending ones go at that rate (none before the
 * first batch is counted).
 */
export function fleetRunProgress(
  { execution, mapRun, counts, cancelled = false }: FleetRunFacts,
  now: Date,
  problemsLocation: string,
): FleetRunStatus {
  const input = JSON.parse(execution.input ?? '{}') as { action?: string; manifest?: string };
  const startDate = execution.startDate ?? now;
  const view: FleetRunStatus = {
    // Stryker disable next-line StringLiteral: equivalent: DescribeExecution always answers the name
    fleetRunId: execution.name ?? '',
    // Stryker disable next-line StringLiteral: equivalent: DescribeExecution always answers the executionArn
    executionArn: execution.executionArn ?? '',
    executionStatus: execution.status as FleetRunStatus['executionStatus'],
    ...(input.action && { action: input.action }),
    ...(input.manifest && { manifest: input.manifest }),
    startDate: startDate.toISOString(),
    ...(execution.stopDate && { stopDate: execution.stopDate.toISOString() }),
    ...(cancelled && { cancelled: true as const }),
  };
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent: a SUCCEEDED execution, and only one, has an output
  const finished = execution.status === 'SUCCEEDED' && execution.output ? (JSON.parse(execution.output) as FleetReportLocation) : undefined;
  if (mapRun) {
    view.devices = finished
      ? devicesSoFar(finished.totals.devices, finished.totals)
      : devicesSoFar(mapRun.itemCounts?.total ?? 0, counts ?? NOTHING_COUNTED);
    view.batches = {
      total: mapRun.executionCounts?.total ?? 0,
      done: ended(mapRun.executionCounts),
      failed: mapRun.executionCounts?.failed ?? 0,
    };
    const { done, pending } = view.devices;
    const seconds = ((execution.stopDate ?? now).getTime() - startDate.getTime()) / 1000;
    if (done > 0 && seconds > 0) {
      view.devicesPerSecond = done / seconds;
      if (execution.status === 'RUNNING') view.etaSeconds = Math.ceil(pending / view.devicesPerSecond);
    }
  }
  if (finished) {
    const { outcome, totals, report } = finished;
    Object.assign(view, { outcome, totals, report });
  }
  if (execution.error) {
    // The message is cut to a summary's length; the problems file has every problem with its line.
    view.error = {
      code: execution.error,
      message: messageFromCause(execution.cause),
      ...(execution.error === INVALID_MANIFEST && { problems: problemsLocation }),
    };
  }
  return view;
}
