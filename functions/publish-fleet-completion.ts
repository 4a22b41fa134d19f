import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { eventBridge } from './aws/clients/eventbridge.ts';
import { fleetBucket } from './aws/fleet-bucket.ts';
import { messageFromCause } from './domain/errors.ts';
import { FLEET_COMPLETION_DETAIL_TYPE, type FleetAction, type FleetReportLocation, fleetRunKeys } from './domain/fleet-run.ts';
import type { FleetCompletionDetail } from './domain/fleet-run-schemas.ts';
import { taskHandler } from './lambda/middleware.ts';

export class FleetCompletionNotPublishedError extends Error {
  override name = 'FleetCompletionNotPublished';
}

/** A run whose manifest was invalid: ValidateManifest's error, as the state machine's Catch hands it on. */
export interface InvalidManifestRun {
  fleetRunId: string;
  action: FleetAction;
  failure: { Error: string; Cause?: string };
}

function detailOf(input: FleetReportLocation | InvalidManifestRun, completedAt: Date): FleetCompletionDetail {
  if (!('failure' in input)) return { ...input, completedAt: completedAt.toISOString() };
  const { fleetRunId, action, failure } = input;
  return {
    fleetRunId,
    action,
    outcome: 'FAILED',
    error: {
      code: failure.Error,
      message: messageFromCause(failure.Cause),
      problems: `s3://${fleetBucket()}/${fleetRunKeys(fleetRunId).problems}`,
    },
    completedAt: completedAt.toISOString(),
  };
}

/** The fleet run's last step: one event on the service's bus with the run's outcome, counts and report, or its manifest's problems. */
export async function publishFleetCompletion(input: FleetReportLocation | InvalidManifestRun): Promise<FleetCompletionDetail> {
  const detail = detailOf(input, new Date());
  const answer = await eventBridge.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: process.env.EVENT_BUS_NAME,
          Source: process.env.EVENT_SOURCE,
          DetailType: FLEET_COMPLETION_DETAIL_TYPE,
          Detail: JSON.stringify(detail),
        },
      ],
    }),
  );
  const refused = answer.Entries?.[0];
  // PutEvents reports a refused entry in its answer, not as an error: thrown, the state machine retries it.
  if ((answer.FailedEntryCount ?? 0) > 0)
    throw new FleetCompletionNotPublishedError(
      `${refused?.ErrorCode ?? 'unknown'}: ${refused?.ErrorMessage ?? 'PutEvents refused the entry'}`,
    );
  return detail;
}

export const handler = taskHandler('publish-fleet', publishFleetCompletion);
