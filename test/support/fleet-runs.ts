import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import pLimit from 'p-limit';
import { afterAll, beforeAll, expect } from 'vitest';
import { type FleetAction, type FleetReportDocument, fleetRunOwner } from '../../functions/domain/fleet-run.ts';
import type { BatchEnd, FleetDeviceCounts } from '../../functions/domain/fleet-run-counts.ts';
import type { FleetCompletionDetail, FleetTotals } from '../../functions/domain/fleet-run-schemas.ts';
import type { RequestSummary } from '../../functions/domain/records.ts';
import type { ProvisioningRequestShape } from '../integration/reliability/invariants.ts';
import type { TestServiceCloud } from './service-cloud.ts';
import { waitForExecution } from './step-functions.ts';
import { lambdaContext } from './task-fixtures.ts';

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<unknown>;
export interface ApiAnswer {
  statusCode: number;
  body: Record<string, any>;
}

/** What a fleet-run test works with: the fleet routes' handlers, called as API Gateway calls them, and the fleet bucket. */
export interface FleetHarness {
  readonly bucket: string;
  readonly s3: S3Client;
  post(body: unknown): Promise<ApiAnswer>;
  get(fleetRunId: string): Promise<ApiAnswer>;
  list(query?: Record<string, string>): Promise<ApiAnswer>;
  cancel(fleetRunId: string): Promise<ApiAnswer>;
  createUpload(body?: string): Promise<ApiAnswer>;
  /** Puts a manifest into the fleet bucket, as an operator with S3 permissions would; answers its s3:// URI. */
  upload(key: string, body: string): Promise<string>;
  /** Uploads a CSV manifest of `count` devices `<prefix>-<index>` of one core device, each with a fresh certificate. */
  uploadDevices(key: string, prefix: string, count: number, coreDeviceThingName: string): Promise<string>;
  readText(key: string): Promise<string>;
  report(fleetRunId: string): Promise<FleetReportDocument>;
  /** A run through `POST /fleet-runs`, accepted and followed to its end. */
  run(
    fleetRunId: string,
    manifest: string,
    options?: Record<string, unknown>,
  ): Promise<{ executionArn: string; status?: string; error?: string; cause?: string; output?: Record<string, any> }>;
  waitForEnd(
    executionArn: string,
  ): Promise<{ executionArn: string; status?: string; error?: string; cause?: string; output?: Record<string, any> }>;
  /** The details of the Fleet Run Completed events the local cloud's bus has seen. */
  completions(): Promise<FleetCompletionDetail[]>;
  /** The run's counter as its batches left it (count-fleet-batch.ts), read as GET reads it; and a batch counted again, as a retried task would. */
  counts(executionArn: string): Promise<FleetDeviceCounts | undefined>;
  countAgain(executionArn: string, batch: { position: number; devices: number }, end: BatchEnd): Promise<void>;
}

/** The fleet routes' handlers, imported once the service cloud has set the environment Lambda would give them. */
export function useFleetHarness(cloud: TestServiceCloud): FleetHarness {
  const handlers: Record<'post' | 'get' | 'list' | 'cancel' | 'createUpload', Handler> = {} as never;
  let readCounts: typeof import('../../functions/aws/fleet-run-counts.ts').readFleetRunCounts;
  let countFleetBatch: typeof import('../../functions/count-fleet-batch.ts').countFleetBatch;
  let dynamodb: import('@aws-sdk/client-dynamodb').DynamoDBClient;
  let s3: S3Client | undefined;
  let bucket = '';
  beforeAll(async () => {
    bucket = (cloud.project.config.provider as { environment: Record<string, string> }).environment.FLEET_BUCKET!;
    process.env.FLEET_BUCKET = bucket;
    process.env.PROVISION_FLEET_STATE_MACHINE_ARN = cloud.stateMachineArn('provisionFleet');
    handlers.post = (await import('../../functions/start-fleet-run.ts')).handler;
    handlers.get = (await import('../../functions/get-fleet-run.ts')).handler;
    handlers.list = (await import('../../functions/list-fleet-runs.ts')).handler;
    handlers.cancel = (await import('../../functions/cancel-fleet-run.ts')).handler;
    handlers.createUpload = (await import('../../functions/create-fleet-upload.ts')).handler;
    readCounts = (await import('../../functions/aws/fleet-run-counts.ts')).readFleetRunCounts;
    countFleetBatch = (await import('../../functions/count-fleet-batch.ts')).countFleetBatch;
    dynamodb = (await import('../../functions/aws/clients/dynamodb.ts')).dynamodb;
    s3 = new S3Client({
      endpoint: cloud.url,
      region: cloud.project.region,
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  });
  afterAll(() => s3?.destroy());

  const call = async (handler: Handler, event: Partial<APIGatewayProxyEvent>): Promise<ApiAnswer> => {
    const response = (await handler({ headers: { Host: 'api.test' }, ...event } as APIGatewayProxyEvent, lambdaContext(30_000))) as {
      statusCode: number;
      body: string;
    };
    return { statusCode: response.statusCode, body: JSON.parse(response.body) };
  };
  const describe = async (executionArn: string) => {
    const description = await waitForExecution(cloud.sfn, executionArn, { timeoutMs: 300_000, pollIntervalMs: 200 });
    const { status, error, cause, output } = description;
    return { executionArn, status, error, cause, ...(output && { output: JSON.parse(output) as Record<string, any> }) };
  };
  const readText = async (key: string) =>
    await (await s3!.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();

  const harness: FleetHarness = {
    get bucket() {
      return bucket;
    },
    get s3() {
      return s3!;
    },
    post: (body) => call(handlers.post, { httpMethod: 'POST', path: '/fleet-runs', body: JSON.stringify(body) }),
    get: (fleetRunId) => call(handlers.get, { httpMethod: 'GET', path: `/fleet-runs/${fleetRunId}`, pathParameters: { fleetRunId } }),
    list: (query) => call(handlers.list, { httpMethod: 'GET', path: '/fleet-runs', queryStringParameters: query ?? null }),
    cancel: (fleetRunId) =>
      call(handlers.cancel, { httpMethod: 'POST', path: `/fleet-runs/${fleetRunId}/cancel`, pathParameters: { fleetRunId } }),
    createUpload: (body) => call(handlers.createUpload, { httpMethod: 'POST', path: '/fleet-uploads', body: body ?? null }),
    async upload(key, body) {
      await s3!.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      return `s3://${bucket}/${key}`;
    },
    async uploadDevices(key, prefix, count, coreDeviceThingName) {
      const rows: string[] = [];
      for (let index = 0; index < count; index++) rows.push(`${prefix}-${index},${await cloud.createCertificate()},${coreDeviceThingName}`);
      return harness.upload(key, ['thingName,principal,coreDeviceThingName', ...rows].join('\n'));
    },
    readText,
    report: async (fleetRunId) => JSON.parse(await readText(`fleet-runs/${fleetRunId}/report.json`)) as FleetReportDocument,
    async run(fleetRunId, manifest, options = {}) {
      const accepted = await harness.post({ fleetRunId, manifest, ...options });
      expect(accepted).toMatchObject({ statusCode: 202, body: { fleetRunId, statusUrl: `https://api.test/fleet-runs/${fleetRunId}` } });
      return describe(accepted.body.executionArn as string);
    },
    waitForEnd: describe,
    async completions() {
      const { events } = (await (await fetch(`${cloud.url}/_local/eventbridge/events`)).json()) as {
        events: { event: { 'detail-type': string; detail: FleetCompletionDetail } }[];
      };
      return events.filter(({ event }) => event['detail-type'] === 'Fleet Run Completed').map(({ event }) => event.detail);
    },
    async counts(executionArn) {
      const { fleetRunId, requestDigest } = await runInput(executionArn);
      return readCounts(dynamodb, fleetRunOwner(fleetRunId, requestDigest));
    },
    async countAgain(executionArn, batch, end) {
      await countFleetBatch({ batch: { ...(await runInput(executionArn)), ...batch }, ...end });
    },
  };
  const runInput = async (executionArn: string) => {
    const { input } = await cloud.sfn.send(new DescribeExecutionCommand({ executionArn }));
    return JSON.parse(input ?? '{}') as { fleetRunId: string; action: FleetAction; requestDigest: string };
  };
  return harness;
}

/** The ARN of a fleet run's batch execution: a provisioning request named after the run and the batch's number. */
export function batchExecutionArn(cloud: TestServiceCloud, batchName: string): string {
  return `${cloud.stateMachineArn('provision').replace(':stateMachine:', ':execution:')}:${batchName}`;
}

/**
 * A fleet report as a request's summary, for the invariant checkers of test/reliability: one outcome per device,
 * and counts that add up.
 */
export function reportAsSummary(report: FleetReportDocument): RequestSummary {
  const { totals }: { totals: FleetTotals } = report;
  return {
    requestId: report.fleetRunId,
    status: report.outcome,
    counts: {
      requested: totals.devices,
      succeeded: totals.succeeded,
      failed: totals.failed,
      rolledBack: report.devices.filter((device) => device.rollback !== undefined).length,
      ...(totals.notStarted > 0 && { notStarted: totals.notStarted }),
    },
    devices: report.devices.map(({ thingName, status, coreDeviceThingName, thingArn, certificateArn, error, rollback }) => ({
      thingName,
      status,
      coreDeviceThingName: coreDeviceThingName ?? '',
      ...(thingArn && { thingArn }),
      ...(certificateArn && { certificateArn }),
      ...(error && { error }),
      ...(rollback && { rollback }),
    })),
  } as RequestSummary;
}

/**
 * A CSV manifest of 450 devices, 150 to each of three core devices in manifest order, so that the run's batches are
 * positions 0-199, 200-399 and 400-449; and the same devices as a request, for the invariant checkers.
 */
export async function threeBatchManifest(
  cloud: TestServiceCloud,
  prefix: string,
  cores: readonly [string, string, string],
): Promise<{ csv: string; request: ProvisioningRequestShape }> {
  const devices = await pLimit(16).map(
    Array.from({ length: 450 }, (_, index) => index),
    async (index) => ({
      thingName: `${prefix}-${String(index).padStart(4, '0')}`,
      principal: await cloud.createCertificate(),
      coreDeviceThingName: cores[Math.floor(index / 150)]!,
    }),
  );
  const rows = devices.map((device) => `${device.thingName},${device.principal},${device.coreDeviceThingName}`);
  return { csv: ['thingName,principal,coreDeviceThingName', ...rows].join('\n'), request: { devices } };
}

/** Each device of the manifest once in the report, in manifest order, with counts that add up. */
export function expectOneOutcomeEach(report: FleetReportDocument, request: ProvisioningRequestShape): void {
  expect(report.devices.map((device) => device.thingName)).toEqual(request.devices.map((device) => device.thingName));
  const count = (status: string) => report.devices.filter((device) => device.status === status).length;
  expect(report.totals).toMatchObject({
    devices: request.devices.length,
    succeeded: count('PROVISIONED'),
    failed: count('FAILED'),
    notStarted: count('NOT_STARTED'),
  });
}
