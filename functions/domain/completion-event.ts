import type * as z from 'zod/mini';
import type { completionDetailSchema } from './completion-event-schema.ts';
import type { Workflow } from './device-leases.ts';
import { MAX_FAILED_THING_NAMES } from './limits.ts';
import type { RequestSummary } from './records.ts';

/**
 * Every request ends by publishing one of these on the service's event bus, so that what comes after
 * provisioning (an inventory, a ticket, the next rollout step) need not poll. The detail carries counts and
 * where to read the summary, never certificate material, and names failed devices only up to a bound,
 * so that an event stays far below EventBridge's entry size whatever the request.
 */
export const COMPLETION_DETAIL_TYPES = {
  provision: 'Provisioning Request Completed',
  deprovision: 'Deprovisioning Request Completed',
} as const satisfies Record<Workflow, string>;

export type CompletionDetail = z.infer<typeof completionDetailSchema>;

export function completionDetail(
  workflow: Workflow,
  summary: RequestSummary,
  where: { executionArn: string; statusUrl?: string; completedAt: Date },
): CompletionDetail {
  const failed = summary.devices.filter((device) => device.status === 'FAILED').map((device) => device.thingName);
  return {
    requestId: summary.requestId,
    workflow,
    status: summary.status,
    counts: summary.counts,
    executionArn: where.executionArn,
    completedAt: where.completedAt.toISOString(),
    ...(where.statusUrl !== undefined && { statusUrl: where.statusUrl }),
    failedThingNames: failed.slice(0, MAX_FAILED_THING_NAMES),
    ...(failed.length > MAX_FAILED_THING_NAMES && { failedThingNamesTruncated: true as const }),
  };
}
