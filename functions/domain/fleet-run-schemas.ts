import * as z from 'zod/mini';
import { executionStatusSchema } from './execution-status.ts';
import { FLEET_RUN_ID_PATTERN } from './fleet-run.ts';

/**
 * What `POST /fleet-runs`, `GET /fleet-runs[/{fleetRunId}]` and the Fleet Run Completed event carry. fleet-run.ts and
 * fleet-run-status.ts infer their types from these and docs/openapi.yaml and docs/events.yaml are generated from
 * them; the functions import only the types, so the schemas stay out of the Lambda bundles.
 */

export const fleetActionSchema = z.enum(['provision', 'deprovision']);

export const fleetRunRequestSchema = z
  .looseObject({
    fleetRunId: z.optional(
      z.string().check(
        z.regex(FLEET_RUN_ID_PATTERN),
        z.meta({
          description: 'Names the run: the same id with the same manifest and options reaches the same run. Default: a new UUID.',
        }),
      ),
    ),
    manifest: z.string().check(
      z.meta({
        description: 's3://<bucket>/<key> of a .csv or .json manifest in the fleet bucket (POST /fleet-uploads gives an upload URL there).',
      }),
    ),
    action: z.optional(fleetActionSchema).check(z.meta({ description: 'Default provision.' })),
  })
  .check(
    z.meta({
      id: 'FleetRunRequest',
      description:
        'A manifest to provision or deprovision. Any other field is a request-level field of a ProvisioningRequest (or DeprovisioningRequest), except requestId and devices: it applies to every device, over the manifest’s own.',
    }),
  );

export const fleetOutcomeSchema = z.enum(['SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELLED']).check(
  z.meta({
    description:
      'The devices’ outcome: CANCELLED when a cancel left devices not started; FAILED also for an invalid manifest (nothing touched).',
  }),
);

export const fleetTotalsSchema = z
  .strictObject({
    batches: z.number(),
    batchesFailed: z.number(),
    batchesNotStarted: z.number(),
    devices: z.number(),
    succeeded: z.number(),
    failed: z.number().check(z.meta({ description: 'Devices that failed, rolled back (see the report) or not.' })),
    rolledBack: z
      .number()
      .check(
        z.meta({ description: 'Of the failed devices, those whose rollback undid something (deleted the thing or detached a principal).' }),
      ),
    notStarted: z.number().check(z.meta({ description: 'Devices a cancel left untouched.' })),
    devicesPerSecond: z.optional(z.number()),
  })
  .check(z.meta({ id: 'FleetTotals' }));

export const fleetReportFilesSchema = z
  .strictObject({ json: z.string(), csv: z.string() })
  .check(
    z.meta({ id: 'FleetReportFiles', description: 'The report, one line per device of the manifest: s3:// URIs in the fleet bucket.' }),
  );

export const fleetRunErrorSchema = z
  .strictObject({
    code: z.string().check(z.meta({ description: 'InvalidManifest, or the error the run failed with.' })),
    message: z.string(),
    problems: z.optional(
      z.string().check(z.meta({ description: 'InvalidManifest: the s3:// URI of the problems file, each problem with its line.' })),
    ),
  })
  .check(z.meta({ id: 'FleetRunError' }));

const devicesSoFarSchema = z
  .strictObject({
    total: z.number().check(z.meta({ description: 'The manifest’s devices.' })),
    done: z.number().check(z.meta({ description: 'succeeded + failed + notStarted: devices whose batch has been counted.' })),
    succeeded: z.number().check(z.meta({ description: 'Provisioned (or, for deprovision, removed).' })),
    failed: z.number(),
    rolledBack: z.number().check(z.meta({ description: 'Of the failed devices, those whose rollback undid something.' })),
    notStarted: z.number().check(z.meta({ description: 'Devices a cancel left untouched.' })),
    pending: z.number().check(z.meta({ description: 'total - done: devices whose batch has not ended yet.' })),
  })
  .check(
    z.meta({
      id: 'FleetRunDevices',
      description:
        'Counts that move as each batch ends, named as the report’s totals; once the report is written, its totals (so a batch that could not be counted still shows).',
    }),
  );

export const fleetRunStatusSchema = z
  .strictObject({
    fleetRunId: z.string(),
    executionArn: z.string(),
    executionStatus: executionStatusSchema,
    action: z.optional(z.string()),
    manifest: z.optional(z.string()),
    startDate: z.iso.datetime(),
    stopDate: z.optional(z.iso.datetime()),
    cancelled: z.optional(z.literal(true)).check(z.meta({ description: 'A cancel was taken: no new batch starts.' })),
    devices: z.optional(devicesSoFarSchema),
    batches: z.optional(z.strictObject({ total: z.number(), done: z.number(), failed: z.number() })),
    devicesPerSecond: z.optional(z.number()),
    etaSeconds: z.optional(z.number()),
    outcome: z.optional(fleetOutcomeSchema),
    totals: z.optional(fleetTotalsSchema),
    report: z.optional(fleetReportFilesSchema),
    reportUrls: z.optional(z.strictObject({ json: z.string(), csv: z.string(), expiresAt: z.iso.datetime() })).check(
      z.meta({
        description:
          'With `report`: presigned GET URLs of its files, for a client without S3 permissions (the fleet CLI’s --server); new on each GET.',
      }),
    ),
    error: z.optional(fleetRunErrorSchema),
  })
  .check(
    z.meta({
      id: 'FleetRunStatus',
      description: 'A fleet run: counts that move per batch while it runs, its outcome and report once it has ended.',
    }),
  );

export const fleetRunListItemSchema = z
  .strictObject({
    fleetRunId: z.string(),
    executionArn: z.string(),
    executionStatus: executionStatusSchema,
    startDate: z.iso.datetime(),
    stopDate: z.optional(z.iso.datetime()),
    statusUrl: z.string().check(z.meta({ description: 'Where GET answers the run’s counts and report.' })),
  })
  .check(z.meta({ id: 'FleetRunListItem' }));

export const fleetRunListSchema = z
  .strictObject({
    fleetRuns: z.array(fleetRunListItemSchema),
    nextToken: z.optional(
      z.string().check(z.meta({ description: 'Send it back as the nextToken parameter for the next page; absent on the last page.' })),
    ),
  })
  .check(z.meta({ id: 'FleetRunList', description: 'Fleet runs, newest first.' }));

export const fleetCompletionDetailSchema = z
  .strictObject({
    fleetRunId: z.string(),
    action: fleetActionSchema,
    outcome: fleetOutcomeSchema,
    totals: z.optional(fleetTotalsSchema).check(z.meta({ description: 'Absent when the manifest was invalid.' })),
    report: z.optional(fleetReportFilesSchema).check(z.meta({ description: 'Absent when the manifest was invalid.' })),
    error: z.optional(fleetRunErrorSchema).check(z.meta({ description: 'Set when the manifest was invalid: nothing was touched.' })),
    completedAt: z.iso.datetime(),
  })
  .check(z.meta({ id: 'FleetRunCompletedDetail', description: 'The detail of a Fleet Run Completed event.' }));

export type FleetAction = z.infer<typeof fleetActionSchema>;
export type FleetOutcome = z.infer<typeof fleetOutcomeSchema>;
export type FleetTotals = z.infer<typeof fleetTotalsSchema>;
export type FleetRunError = z.infer<typeof fleetRunErrorSchema>;
export type FleetRunStatus = z.infer<typeof fleetRunStatusSchema>;
export type FleetRunListItem = z.infer<typeof fleetRunListItemSchema>;
export type FleetCompletionDetail = z.infer<typeof fleetCompletionDetailSchema>;
