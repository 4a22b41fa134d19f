import * as z from 'zod/mini';

/**
 * What a request ends with, and what `GET /<collection>/{requestId}` answers. records.ts infers its types
 * from these schemas and docs/openapi.yaml is generated from them, so the two cannot drift apart. The
 * functions import only the types: nothing validates outputs at run time, and the schemas stay out of the
 * Lambda bundles.
 */

export const stepSchema = z.enum(['inspect', 'register', 'attach', 'associate', 'disassociate', 'detach', 'delete', 'rollback']);

export const stepErrorSchema = z
  .strictObject({
    step: stepSchema,
    code: z.string().check(z.meta({ description: 'The AWS error name, or the workflow\'s own (e.g. NoPrincipal).' })),
    message: z.string(),
  })
  .check(z.meta({ id: 'StepError', description: 'The step that failed and why.' }));

export const rollbackReportSchema = z
  .strictObject({
    detachedPrincipals: z.array(z.string()),
    thingDeleted: z.boolean(),
    certificateDeleted: z.boolean(),
    incomplete: z.optional(stepErrorSchema).check(
      z.meta({ description: 'Set when the rollback itself could not finish: what remains must be cleaned by hand.' }),
    ),
  })
  .check(z.meta({ id: 'RollbackReport', description: 'What the rollback of a device that could not be provisioned undid.' }));

export const deviceOutcomeSchema = z
  .strictObject({
    thingName: z.string(),
    status: z.enum(['PROVISIONED', 'DEPROVISIONED', 'FAILED']),
    coreDeviceThingName: z.string(),
    thingArn: z.optional(z.string()),
    certificateArn: z.optional(z.string()),
    error: z.optional(stepErrorSchema),
    rollback: z.optional(rollbackReportSchema),
  })
  .check(z.meta({ id: 'DeviceOutcome', description: 'The one recorded outcome of a device.' }));

export const requestSummarySchema = z
  .strictObject({
    requestId: z.string(),
    status: z.enum(['SUCCEEDED', 'PARTIAL', 'FAILED']),
    counts: z.strictObject({ requested: z.int(), succeeded: z.int(), failed: z.int(), rolledBack: z.int() }),
    devices: z.array(deviceOutcomeSchema),
  })
  .check(z.meta({ id: 'RequestSummary', description: 'The output of a finished execution.' }));

export const requestStatusSchema = z
  .strictObject({
    requestId: z.string(),
    executionArn: z.string(),
    status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']),
    startDate: z.optional(z.iso.datetime()),
    stopDate: z.optional(z.iso.datetime()),
    summary: z.optional(requestSummarySchema),
    error: z.optional(z.strictObject({ code: z.optional(z.string()), message: z.optional(z.string()) })).check(
      z.meta({ description: 'Why the execution itself failed, timed out or was aborted (no summary then).' }),
    ),
  })
  .check(z.meta({ id: 'RequestStatus' }));
