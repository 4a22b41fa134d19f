import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { taskHandler } from './commons/middleware.ts';
import { logger, metrics } from './commons/powertools.ts';
import type { DeviceRecord, RequestSummary } from './domain/records.ts';
import { summarize } from './domain/summary.ts';

/** `rollbacks` holds the devices that were rolled back after a failed association, each once. */
export async function summarizeRequest(input: { requestId: string; devices: DeviceRecord[]; rollbacks?: DeviceRecord[] }): Promise<RequestSummary> {
  const summary = summarize(input.requestId, [...input.devices, ...(input.rollbacks ?? [])]);
  metrics.addMetric('DevicesSucceeded', MetricUnit.Count, summary.counts.succeeded);
  metrics.addMetric('DevicesFailed', MetricUnit.Count, summary.counts.failed);
  metrics.addMetric('DevicesRolledBack', MetricUnit.Count, summary.counts.rolledBack);
  logger.info('request finished', { status: summary.status, counts: summary.counts });
  return summary;
}

export const handler = taskHandler('summarize', summarizeRequest);
