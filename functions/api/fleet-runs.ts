import { randomUUID } from 'node:crypto';
import { DescribeMapRunCommand, type DescribeMapRunCommandOutput, ListMapRunsCommand, paginateListExecutions } from '@aws-sdk/client-sfn';
import { dynamodb } from '../aws/clients/dynamodb.ts';
import { sfn } from '../aws/clients/sfn.ts';
import { isCancelled, writeCancelMarker } from '../aws/device-leases.ts';
import { type ExecutionPage, findExecution, type StartOutcome, startExecutionOnce } from '../aws/executions.ts';
import { fleetBucket } from '../aws/fleet-bucket.ts';
import { readFleetRunCounts } from '../aws/fleet-run-counts.ts';
import { presignedGetUrl } from '../aws/presigned-urls.ts';
import { type FleetAction, type FleetReportLocation, fleetRunKeys, fleetRunOwner, parseS3Uri } from '../domain/fleet-run.ts';
import { fleetRunIntent, validateFleetRunRequest } from '../domain/fleet-run-request.ts';
import type { FleetRunStatus } from '../domain/fleet-run-schemas.ts';
import { fleetRunProgress } from '../domain/fleet-run-status.ts';
import { requestDigest } from '../domain/request-digest.ts';
import { resolveRequestId } from '../domain/request-id.ts';
import type { ListQuery } from '../domain/request-listing.ts';
import type { FieldError } from '../domain/validation.ts';
import { logger } from '../lambda/powertools.ts';
import { type CancelOutcome, cancelRequest, executionsPage, requestKinds, stateMachineArn } from './requests.ts';

function fleetStateMachineArn(): string {
  const arn = process.env.PROVISION_FLEET_STATE_MACHINE_ARN;
  if (!arn) throw new Error('PROVISION_FLEET_STATE_MACHINE_ARN is not set: the function is misconfigured');
  return arn;
}

export type FleetSubmitOutcome = { kind: 'invalid'; errors: FieldError[] } | (StartOutcome & { fleetRunId: string });

/**
 * Starts a fleet run, once per fleetRunId (the execution's name), as submitRequest starts a request: the same id with
 * the same manifest, action and options reaches the same run, with anything else it is a conflict. The run itself
 * validates the manifest before it touches any device.
 */
export async function submitFleetRun(body: unknown, idempotencyKey?: string): Promise<FleetSubmitOutcome> {
  const request = validateFleetRunRequest(body, fleetBucket());
  const fleetRunId = resolveRequestId(request.ok ? request.value.fleetRunId : undefined, idempotencyKey, randomUUID);
  if (!request.ok || !fleetRunId.ok)
    return { kind: 'invalid', errors: [...(request.ok ? [] : request.errors), ...(fleetRunId.ok ? [] : fleetRunId.errors)] };
  logger.appendKeys({ fleetRunId: fleetRunId.value });
  const digest = requestDigest(fleetRunIntent(request.value));
  const { manifest, action, options } = request.value;
  const input = { fleetRunId: fleetRunId.value, action, manifest, options, requestDigest: digest };
  return { ...(await startExecutionOnce(fleetStateMachineArn(), fleetRunId.value, input, digest)), fleetRunId: fleetRunId.value };
}

/** What a fleet run's execution was started with (submitFleetRun). */
interface FleetRunInput {
  action: FleetAction;
  requestDigest: string;
}

/** Every run the service starts carries these: one without is not this service's to read or cancel. */
function fleetRunInput(execution: { executionArn?: string; input?: string }): FleetRunInput {
  const input = JSON.parse(execution.input ?? '{}') as Partial<FleetRunInput>;
  if (typeof input.requestDigest !== 'string' || input.action === undefined) {
    throw new Error(
      `execution ${execution.executionArn} has no action or requestDigest in its input: it is not a fleet run this service started`,
    );
  }
  return input as FleetRunInput;
}

/**
 * `GET /fleet-runs/{fleetRunId}`: the run's execution, its Map Run's batches, its devices counted so far (one read of
 * its counter, however many batches it has) and, once it has ended, its report and URLs to download it.
 */
export async function fleetRunStatus(fleetRunId: string): Promise<FleetRunStatus | undefined> {
  const execution = await findExecution(fleetStateMachineArn(), fleetRunId);
  if (!execution) return undefined;
  const owner = fleetRunOwner(fleetRunId, fleetRunInput(execution).requestDigest);
  const { mapRuns } = await sfn.send(new ListMapRunsCommand({ executionArn: execution.executionArn }));
  // Newest first: a retried Map (its reader or writer failed) starts a new Map Run.
  // Stryker disable next-line OptionalChaining: equivalent: ListMapRuns always answers a list, empty before the Map starts
  const mapRunArn = mapRuns?.[0]?.mapRunArn;
  const mapRun: DescribeMapRunCommandOutput | undefined = mapRunArn ? await sfn.send(new DescribeMapRunCommand({ mapRunArn })) : undefined;
  const counts = mapRun ? await readFleetRunCounts(dynamodb, owner) : undefined;
  // An ended run's outcome says whether a cancel reached it; a running one's only its marker does.
  const cancelled = execution.status === 'RUNNING' && (await isCancelled(dynamodb, owner));
  const view = fleetRunProgress(
    { execution, mapRun, counts, cancelled },
    new Date(),
    `s3://${fleetBucket()}/${fleetRunKeys(fleetRunId).problems}`,
  );
  return view.report ? { ...view, reportUrls: await reportUrls(view.report) } : view;
}

/** How long a report's download URLs last: a client fetches them at once, and a later GET answers new ones. */
const REPORT_URL_SECONDS = 15 * 60;

/** The report's files, readable for a while by whoever may read the run's status, with no S3 permission of their own. */
async function reportUrls(report: FleetReportLocation['report']): Promise<NonNullable<FleetRunStatus['reportUrls']>> {
  const expiresAt = new Date(Date.now() + REPORT_URL_SECONDS * 1000).toISOString();
  const presign = (uri: string) => {
    const { bucket, key } = parseS3Uri(uri)!;
    return presignedGetUrl(bucket, key, REPORT_URL_SECONDS);
  };
  const [json, csv] = await Promise.all([presign(report.json), presign(report.csv)]);
  return { json, csv, expiresAt };
}

/** A page of fleet runs, newest first. */
export function listFleetRuns(query: ListQuery): Promise<ExecutionPage> {
  return executionsPage(fleetStateMachineArn(), query);
}

export type FleetCancelOutcome =
  | Exclude<CancelOutcome, { kind: 'cancelling' }>
  | { kind: 'cancelling'; executionArn: string; batchesCancelled: string[] };

/** A batch's request is named `<fleetRunId>-<position>` (fleet-run.ts batchRequestId). */
function isBatchOf(fleetRunId: string, requestId: string): boolean {
  return requestId.startsWith(`${fleetRunId}-`) && /^\d+$/.test(requestId.slice(fleetRunId.length + 1));
}

/**
 * Cancels a running fleet run cooperatively, as cancelRequest cancels a request: the run's marker stops every batch
 * that has not started its request yet (PrepareBatch reads it before and after leasing the batch's devices), and each
 * batch request under way is cancelled in turn, so its devices not yet started end NOT_STARTED and the rest finish or
 * roll back as usual. A request of that name started before the run is someone else's, and left alone.
 */
export async function cancelFleetRun(fleetRunId: string): Promise<FleetCancelOutcome> {
  logger.appendKeys({ fleetRunId });
  const execution = await findExecution(fleetStateMachineArn(), fleetRunId);
  if (!execution) return { kind: 'unknown' };
  const executionArn = execution.executionArn as string;
  if (execution.status !== 'RUNNING') return { kind: 'finished', executionArn, executionStatus: execution.status as string };
  const { action, requestDigest: digest } = fleetRunInput(execution);
  await writeCancelMarker(dynamodb, fleetRunOwner(fleetRunId, digest), { workflow: action, requestId: fleetRunId });

  const kind = requestKinds[action];
  // DescribeExecution and ListExecutions always answer a start date; the SDK types every output member as optional.
  const runStart = (execution.startDate as Date).getTime();
  const batchesCancelled: string[] = [];
  const running = paginateListExecutions(
    { client: sfn },
    { stateMachineArn: stateMachineArn(kind), statusFilter: 'RUNNING', maxResults: 1_000 },
  );
  for await (const page of running) {
    // Stryker disable next-line ArrayDeclaration: equivalent: ListExecutions always answers a list
    for (const batch of page.executions ?? []) {
      const name = batch.name as string;
      if (!isBatchOf(fleetRunId, name) || (batch.startDate as Date).getTime() < runStart) continue;
      const cancelled = await cancelRequest(kind, name);
      if (cancelled.kind === 'cancelling') batchesCancelled.push(name);
    }
  }
  return { kind: 'cancelling', executionArn, batchesCancelled };
}
