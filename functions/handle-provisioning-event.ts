import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { EventBridgeEvent } from 'aws-lambda';
import { provisioning, type SubmitOutcome, submitRequest } from './api/requests.ts';
import { heldDevicesMessage } from './domain/device-leases.ts';
import { triggerHandler } from './lambda/middleware.ts';
import { logger, metrics } from './lambda/powertools.ts';

/**
 * The rule's `detail` is a provisioning request. Without a requestId of its own, the digest of what it
 * asks (defaults resolved) keys the execution: a duplicate delivery of the event — or a producer's
 * retried PutEvents, which gets a new event id — reaches the same execution, however its defaults are
 * spelled. An invalid event is logged with every reason and counted; retrying it could never succeed,
 * so it is not thrown. An event whose devices another running request holds is thrown: Lambda's
 * asynchronous retries try it again minutes later, and then the dead-letter queue keeps it.
 */
export async function handleProvisioningEvent(event: EventBridgeEvent<string, unknown>): Promise<SubmitOutcome> {
  const outcome = await submitRequest(provisioning, event.detail, {
    defaultRequestId: (intentDigest) => `evt-${intentDigest.slice(0, 40)}`,
  });
  if (outcome.kind === 'started') logger.info('provisioning started', { executionArn: outcome.executionArn });
  else if (outcome.kind === 'held') throw new DevicesHeldError(heldDevicesMessage(outcome.heldDevices));
  else {
    metrics.addMetric('RejectedEvents', MetricUnit.Count, 1);
    logger.error('provisioning event rejected', { eventId: event.id, outcome });
  }
  return outcome;
}

export class DevicesHeldError extends Error {
  override name = 'DevicesHeld';
}

export const handler = triggerHandler(handleProvisioningEvent);
