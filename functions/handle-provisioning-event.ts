import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { EventBridgeEvent } from 'aws-lambda';
import { triggerHandler } from './commons/middleware.ts';
import { logger, metrics } from './commons/powertools.ts';
import { provisioning, type SubmitOutcome, submitRequest } from './commons/requests.ts';
import { requestDigest } from './domain/request-digest.ts';

/**
 * The rule's `detail` is a provisioning request. Without a requestId of its own, the detail's digest
 * keys the execution: a duplicate delivery of the event — or a producer's retried PutEvents, which
 * gets a new event id — reaches the same execution. A rejected event is logged with every reason and
 * counted; retrying it could never succeed, so it is not thrown.
 */
export async function handleProvisioningEvent(event: EventBridgeEvent<string, unknown>): Promise<SubmitOutcome> {
  const detail = event.detail;
  const hasOwnId = typeof detail === 'object' && detail !== null && 'requestId' in detail;
  const outcome = await submitRequest(provisioning, detail, hasOwnId ? undefined : `evt-${requestDigest(detail).slice(0, 40)}`);
  if (outcome.kind === 'started') logger.info('provisioning started', { executionArn: outcome.executionArn });
  else {
    metrics.addMetric('RejectedEvents', MetricUnit.Count, 1);
    logger.error('provisioning event rejected', { eventId: event.id, outcome });
  }
  return outcome;
}

export const handler = triggerHandler(handleProvisioningEvent);
