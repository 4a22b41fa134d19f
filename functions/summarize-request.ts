import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DeviceRecord, RequestSummary } from './domain/records.ts';
import { summarize } from './domain/summary.ts';
import { taskHandler } from './lambda/middleware.ts';
import { logger, metrics } from './lambda/powertools.ts';

export interface SummarizeInput {
  /** Both state machines end here: the metrics' `workflow` dimension keeps their counts apart. */
  workflow: 'provision' | 'deprovision';
  requestId: string;
  devices: DeviceRecord[];
  /** The devices that were rolled back after a failed association, each once. */
  rollbacks?: DeviceRecord[];
}

/** The request's device counts are published here and only here, once per request. */
export async function summarizeRequest(input: SummarizeInput): Promise<RequestSummary> {
  const summary = summarize(input.requestId, [...input.devices, ...(input.rollbacks ?? [])]);
  metrics.addDimension('workflow', input.workflow);
  metrics.addMetric('DevicesSucceeded', MetricUnit.Count, summary.counts.succeeded);
  metrics.addMetric('DevicesFailed', MetricUnit.Count, summary.counts.failed);
  metrics.addMetric('DevicesRolledBack', MetricUnit.Count, summary.counts.rolledBack);
  metrics.addMetric('DevicesNotStarted', MetricUnit.Count, summary.counts.notStarted ?? 0);
  // Debris someone must clean up by hand (the device's thingArn and certificateArn say what): it gets its own alarm.
  metrics.addMetric('RollbacksIncomplete', MetricUnit.Count, summary.devices.filter((device) => device.rollback?.incomplete).length);
  logger.info('request finished', { workflow: input.workflow, status: summary.status, counts: summary.counts });
  return summary;
}

export const handler = taskHandler('summarize', summarizeRequest);
