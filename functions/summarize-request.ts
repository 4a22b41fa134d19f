import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { taskHandler } from './commons/middleware.ts';
import { logger, metrics } from './commons/powertools.ts';
import type { DeviceRecord, RequestSummary } from './domain/records.ts';
import { summarize } from './domain/summary.ts';

export async function summarizeRequest(input: { requestId: string; devices: DeviceRecord[]; rolledBack?: DeviceRecord[] }): Promise<RequestSummary> {
  const summary = summarize(input.requestId, input.devices, input.rolledBack);
  metrics.addMetric('DevicesSucceeded', MetricUnit.Count, summary.counts.succeeded);
  metrics.addMetric('DevicesFailed', MetricUnit.Count, summary.counts.failed);
  metrics.addMetric('DevicesRolledBack', MetricUnit.Count, summary.counts.rolledBack);
  logger.info('request finished', { status: summary.status, counts: summary.counts });
  return summary;
}

export const handler = taskHandler('summarize', summarizeRequest);
