import * as z from 'zod/mini';

/**
 * A module of its own because the list query validates it at run time, while request-status.ts holds output
 * schemas that the functions import only as types and that their bundles would otherwise build at every import.
 */
export const executionStatusSchema = z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']).check(
  z.meta({
    description:
      'The state of the Step Functions execution, not of the devices: an execution that ran to its end is SUCCEEDED even when every device failed (see outcome). RUNNING and PENDING_REDRIVE have not ended yet.',
  }),
);
