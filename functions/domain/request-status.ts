import * as z from 'zod/mini';
import { executionStatusSchema } from './execution-status.ts';

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
    code: z.string().check(z.meta({ description: "The AWS error name, or the workflow's own (e.g. NoPrincipal)." })),
    message: z.string(),
  })
  .check(z.meta({ id: 'StepError', description: 'The step that failed and why.' }));

export const rollbackReportSchema = z
  .strictObject({
    detachedPrincipals: z.array(z.string()),
    thingDeleted: z.boolean(),
    certificateDeleted: z.boolean(),
    incomplete: z
      .optional(stepErrorSchema)
      .check(z.meta({ description: 'Set when the rollback itself could not finish: what remains must be cleaned by hand.' })),
  })
  .check(z.meta({ id: 'RollbackReport', description: 'What the rollback of a device that could not be provisioned undid.' }));

export const deviceOutcomeSchema = z
  .strictObject({
    thingName: z.string(),
    status: z.enum(['PROVISIONED', 'DEPROVISIONED', 'FAILED', 'NOT_STARTED']).check(
      z.meta({
        description:
          "NOT_STARTED: the request was cancelled before the device's first step; nothing was done to it, and a new request may send it again.",
      }),
    ),
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
    status: z.enum(['SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELLED']).check(
      z.meta({
        description:
          'CANCELLED: the request was cancelled while it ran and at least one device was not started (counts.notStarted); the others are PROVISIONED/DEPROVISIONED or FAILED as usual. Otherwise SUCCEEDED, PARTIAL or FAILED: every device, some, or none reached its goal.',
      }),
    ),
    counts: z.strictObject({
      requested: z.int(),
      succeeded: z.int(),
      failed: z.int(),
      rolledBack: z.int(),
      notStarted: z.optional(z.int()).check(
        z.meta({
          description: 'Devices a cancel left NOT_STARTED; present only when there are any. succeeded + failed + notStarted = requested.',
        }),
      ),
    }),
    devices: z.array(deviceOutcomeSchema),
  })
  .check(z.meta({ id: 'RequestSummary', description: 'The output of a finished execution.' }));

export const unsettledDeviceSchema = z
  .strictObject({
    thingName: z.string(),
    coreDeviceThingName: z.string(),
    principal: z
      .optional(z.string())
      .check(z.meta({ description: 'The certificate the request gave the device, which may be attached to its thing.' })),
    status: z
      .literal('UNKNOWN')
      .check(z.meta({ description: 'What the execution did to the device is not known: any of its steps may have taken effect.' })),
  })
  .check(z.meta({ id: 'UnsettledDevice', description: 'A device of a request whose execution ended without reporting it.' }));

export const unsettledDevicesSchema = z
  .strictObject({
    message: z
      .string()
      .check(z.meta({ description: 'What may be left behind, and how to converge: the same request again under a new requestId.' })),
    devices: z.array(unsettledDeviceSchema),
  })
  .check(
    z.meta({
      id: 'UnsettledDevices',
      description:
        "Set when the execution failed, timed out or was aborted without a summary (nothing in the state machine caught it, so no rollback followed): every device of the request, from the execution's input.",
    }),
  );

export const requestOutcomeSchema = z.enum(['IN_PROGRESS', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELLED', 'UNKNOWN']).check(
  z.meta({
    description:
      "What became of the request's devices. IN_PROGRESS: the execution has not ended. SUCCEEDED, PARTIAL, FAILED: every device, some, or none reached its goal; CANCELLED: a cancel left some devices not started (the summary's status; each device's outcome is in summary.devices). UNKNOWN: the execution ended without a summary (see unsettled).",
  }),
);

export const requestProgressSchema = z
  .strictObject({
    requested: z.int().check(z.meta({ description: 'The devices of the request.' })),
    finished: z.int().check(
      z.meta({
        description:
          'The devices through their own steps so far (provisioning: inspect, register, attach, and the rollback of one that failed; deprovisioning: detach and delete). Provisioning associates the devices with their core devices after that, in batches; whether each succeeded is known only from the summary.',
      }),
    ),
  })
  .check(
    z.meta({
      id: 'RequestProgress',
      description:
        'Set while the execution runs, counted from its history. Left out when Step Functions throttled reading the history: ask again.',
    }),
  );

export const requestStatusSchema = z
  .strictObject({
    requestId: z.string(),
    executionArn: z.string(),
    executionStatus: executionStatusSchema,
    outcome: requestOutcomeSchema,
    progress: z.optional(requestProgressSchema),
    startDate: z.optional(z.iso.datetime()),
    stopDate: z.optional(z.iso.datetime()),
    summary: z.optional(requestSummarySchema),
    error: z
      .optional(z.strictObject({ code: z.optional(z.string()), message: z.optional(z.string()) }))
      .check(z.meta({ description: 'Why the execution itself failed, timed out or was aborted (no summary then).' })),
    unsettled: z.optional(unsettledDevicesSchema),
  })
  .check(z.meta({ id: 'RequestStatus' }));
