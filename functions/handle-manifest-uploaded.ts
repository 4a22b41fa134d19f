import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { EventBridgeEvent } from 'aws-lambda';
import { type FleetSubmitOutcome, submitFleetRun } from './api/fleet-runs.ts';
import { uploadedManifestRunId } from './domain/fleet-run.ts';
import { triggerHandler } from './lambda/middleware.ts';
import { logger, metrics } from './lambda/powertools.ts';

/** S3's `Object Created` detail, the fields a run needs. */
interface ObjectCreated {
  bucket: { name: string };
  object: { key: string; etag?: string; 'version-id'?: string };
}

/**
 * A manifest uploaded under `manifests/` (the rule's pattern) starts a provisioning fleet run with the manifest's own
 * request-level fields. The run is named after the object, so a duplicate delivery starts nothing new. A refused one
 * (a key that is not a .csv or .json, say) is logged and counted, not thrown: retrying it could never succeed.
 */
export async function handleManifestUploaded(event: EventBridgeEvent<'Object Created', ObjectCreated>): Promise<FleetSubmitOutcome> {
  const { bucket, object } = event.detail;
  const fleetRunId = uploadedManifestRunId({
    bucket: bucket.name,
    key: object.key,
    ...(object['version-id'] && { versionId: object['version-id'] }),
    ...(object.etag && { etag: object.etag }),
  });
  // Taken as it comes: S3's EventBridge events were seen with keys not URL-encoded (native notifications encode them).
  const outcome = await submitFleetRun({ fleetRunId, manifest: `s3://${bucket.name}/${object.key}` });
  if (outcome.kind === 'started') logger.info('fleet run started', { fleetRunId, executionArn: outcome.executionArn });
  else {
    metrics.addMetric('RejectedManifests', MetricUnit.Count, 1);
    logger.error('uploaded manifest refused', { eventId: event.id, outcome });
  }
  return outcome;
}

export const handler = triggerHandler(handleManifestUploaded);
