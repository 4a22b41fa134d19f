import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { eventBridge } from './aws/clients/eventbridge.ts';
import { COMPLETION_DETAIL_TYPES, type CompletionDetail, completionDetail } from './domain/completion-event.ts';
import type { Workflow } from './domain/device-leases.ts';
import type { RequestSummary } from './domain/records.ts';
import { taskHandler } from './lambda/middleware.ts';

export interface PublishCompletionInput {
  workflow: Workflow;
  summary: RequestSummary;
  executionArn: string;
}

const COLLECTIONS = { provision: 'provisioning-requests', deprovision: 'deprovisioning-requests' } as const satisfies Record<
  Workflow,
  string
>;

/** Where GET answers the summary, from the stack's API URL; none where the stack has none configured. */
function statusUrlOf(workflow: Workflow, requestId: string): string | undefined {
  const base = process.env.API_BASE_URL;
  return base ? `${base.replace(/\/$/, '')}/${COLLECTIONS[workflow]}/${encodeURIComponent(requestId)}` : undefined;
}

/**
 * The last step of both state machines: one event on the service's bus that the request has ended. PutEvents
 * reports a refused entry in its answer, not as an error: that is thrown, for the state machine to retry.
 */
export async function publishCompletion(input: PublishCompletionInput): Promise<CompletionDetail> {
  const statusUrl = statusUrlOf(input.workflow, input.summary.requestId);
  const detail = completionDetail(input.workflow, input.summary, {
    executionArn: input.executionArn,
    completedAt: new Date(),
    ...(statusUrl && { statusUrl }),
  });
  const answer = await eventBridge.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: process.env.EVENT_BUS_NAME,
          Source: process.env.EVENT_SOURCE,
          DetailType: COMPLETION_DETAIL_TYPES[input.workflow],
          Detail: JSON.stringify(detail),
        },
      ],
    }),
  );
  const refused = answer.Entries?.[0];
  if ((answer.FailedEntryCount ?? 0) > 0)
    throw new CompletionNotPublishedError(
      `${refused?.ErrorCode ?? 'unknown'}: ${refused?.ErrorMessage ?? 'PutEvents refused the entry'}`,
      refused?.ErrorCode,
    );
  return detail;
}

/** PutEvents' retryable entry errors, under the names the state machines' retriers list. */
const RETRIED_ENTRY_ERRORS: Record<string, string> = {
  ThrottlingException: 'ThrottlingException',
  InternalFailure: 'InternalFailureException',
};

/** A refused entry: a retryable one reaches the state machine's Retry under a name it lists; any other its Catch. */
class CompletionNotPublishedError extends Error {
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = RETRIED_ENTRY_ERRORS[code ?? ''] ?? 'CompletionNotPublished';
  }
}

export const handler = taskHandler('publish', publishCompletion);
