import * as z from 'zod/mini';
import { executionStatusSchema } from './execution-status.ts';

/** ListExecutions pages hold at most 1,000; a page of 50 answers quickly and is what a console shows. */
export const MAX_LIST_LIMIT = 1_000;
export const DEFAULT_LIST_LIMIT = 50;

const LIMIT_REASON = `must be a whole number from 1 to ${MAX_LIST_LIMIT}`;

/** The query of `GET /<collection>`: every parameter optional, each refused with its reason when malformed. */
export const listQuerySchema = z.strictObject({
  status: z.optional(executionStatusSchema),
  limit: z.optional(
    z.string().check(
      z.regex(/^\d{1,4}$/, LIMIT_REASON),
      z.refine((value) => Number(value) >= 1 && Number(value) <= MAX_LIST_LIMIT, LIMIT_REASON),
    ),
  ),
  nextToken: z.optional(z.string().check(z.minLength(1), z.maxLength(3_096))),
});

export const requestListItemSchema = z
  .strictObject({
    requestId: z.string(),
    executionArn: z.string(),
    executionStatus: executionStatusSchema,
    startDate: z.iso.datetime(),
    stopDate: z.optional(z.iso.datetime()),
    statusUrl: z.string().check(z.meta({ description: 'Where GET answers the request’s outcome and summary.' })),
  })
  .check(z.meta({ id: 'RequestListItem' }));

export const requestListSchema = z
  .strictObject({
    requests: z.array(requestListItemSchema),
    nextToken: z.optional(
      z.string().check(z.meta({ description: 'Send it back as the nextToken parameter for the next page; absent on the last page.' })),
    ),
  })
  .check(z.meta({ id: 'RequestList', description: 'Requests, newest first.' }));

export type ListQuery = z.infer<typeof listQuerySchema>;
export type RequestListItem = z.infer<typeof requestListItemSchema>;
