import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { eventBridge } from './aws/clients/eventbridge.ts';
import { taskHandler } from './lambda/middleware.ts';
import type { FleetReportLocation } from './domain/fleet-run.ts';

export const FLEET_COMPLETION_DETAIL_TYPE = 'Fleet Run Completed';

export class FleetCompletionNotPublishedError extends Error {
  override name = 'FleetCompletionNotPublished';
}

/** The fleet run's last step: one event on the service's bus with the run's outcome, counts and report. */
export async function publishFleetCompletion(input: FleetReportLocation): Promise<FleetReportLocation & { completedAt: string }> {
  const detail = { ...input, completedAt: new Date().toISOString() };
  const answer = await eventBridge.send(
    new PutEventsCommand({
      Entries: [{ EventBusName: process.env.EVENT_BUS_NAME, Source: process.env.EVENT_SOURCE, DetailType: FLEET_COMPLETION_DETAIL_TYPE, Detail: JSON.stringify(detail) }],
    }),
  );
  const refused = answer.Entries?.[0];
  // PutEvents reports a refused entry in its answer, not as an error: thrown, the state machine retries it.
  if ((answer.FailedEntryCount ?? 0) > 0) throw new FleetCompletionNotPublishedError(`${refused?.ErrorCode ?? 'unknown'}: ${refused?.ErrorMessage ?? 'PutEvents refused the entry'}`);
  return detail;
}

export const handler = taskHandler('publish-fleet', publishFleetCompletion);
