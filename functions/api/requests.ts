import { randomUUID } from 'node:crypto';
import type { DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import type { $ZodType, output } from 'zod/v4/core';
import { dynamodb } from '../aws/clients/dynamodb.ts';
import { acquireLeases, releaseLeases, writeCancelMarker } from '../aws/device-leases.ts';
import {
  describeRequest,
  type ExecutionPage,
  findExecution,
  listExecutionsPage,
  type RequestStatusView,
  runningExecutions,
  sameRequest,
  startExecutionOnce,
} from '../aws/executions.ts';
import { deprovisioningRequestSchema } from '../domain/deprovisioning-request.ts';
import { type HeldDevice, type HolderExecution, type LeaseHolder, leaseOwner, type Workflow } from '../domain/device-leases.ts';
import {
  deprovisioningIntent,
  provisioningIntent,
  toDeprovisioningExecutionInput,
  toProvisioningExecutionInput,
} from '../domain/execution-input.ts';
import { deviceConcurrency, quotasFromEnvironment } from '../domain/pacing.ts';
import { provisioningRequestSchema } from '../domain/provisioning-request.ts';
import { requestDigest } from '../domain/request-digest.ts';
import { resolveRequestId } from '../domain/request-id.ts';
import { DEFAULT_LIST_LIMIT, type ListQuery } from '../domain/request-listing.ts';
import { type FieldError, isRecord, parsedJson, validate } from '../domain/validation.ts';
import { logger } from '../lambda/powertools.ts';

/** What differs between provisioning and deprovisioning requests: their schema, machine and input. */
export interface RequestKind<Schema extends $ZodType> {
  /** The collection in the API's paths, e.g. `provisioning-requests`. */
  collection: string;
  workflow: Workflow;
  schema: Schema;
  stateMachineArnVariable: string;
  /** The state machine's Map state with one iteration per device: its finished iterations are a running request's progress. */
  deviceMap: string;
  toExecutionInput(request: output<Schema>, requestId: string, stateMachineArn: string): Promise<unknown>;
  /** What idempotency compares: the same intent under the same requestId reaches the same execution. */
  intentOf(request: output<Schema>): unknown;
}

export const provisioning: RequestKind<typeof provisioningRequestSchema> = {
  collection: 'provisioning-requests',
  workflow: 'provision',
  schema: provisioningRequestSchema,
  stateMachineArnVariable: 'PROVISION_STATE_MACHINE_ARN',
  deviceMap: 'ProvisionDevices',
  toExecutionInput: async (request, requestId, stateMachineArn) => {
    const concurrency = deviceConcurrency(quotasFromEnvironment(process.env), await runningExecutions(stateMachineArn));
    return toProvisioningExecutionInput(request, requestId, concurrency);
  },
  intentOf: provisioningIntent,
};

export const deprovisioning: RequestKind<typeof deprovisioningRequestSchema> = {
  collection: 'deprovisioning-requests',
  workflow: 'deprovision',
  schema: deprovisioningRequestSchema,
  stateMachineArnVariable: 'DEPROVISION_STATE_MACHINE_ARN',
  deviceMap: 'RemoveDevices',
  toExecutionInput: async (request, requestId) => toDeprovisioningExecutionInput(request, requestId),
  intentOf: deprovisioningIntent,
};

export const requestKinds: Record<Workflow, RequestKind<$ZodType>> = { provision: provisioning, deprovision: deprovisioning };

export function stateMachineArn(kind: RequestKind<$ZodType>): string {
  const arn = process.env[kind.stateMachineArnVariable];
  if (!arn) throw new Error(`${kind.stateMachineArnVariable} is not set: the function is misconfigured`);
  return arn;
}

export type SubmitOutcome =
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'started'; requestId: string; executionArn: string }
  | { kind: 'conflict'; requestId: string; executionArn: string }
  | { kind: 'held'; requestId: string; heldDevices: HeldDevice[] };

export interface SubmitOptions {
  /** The Idempotency-Key header, when the trigger has one. */
  idempotencyKey?: string;
  /** The request id when neither the body nor a key names one (default: a fresh UUID). */
  defaultRequestId?: (intentDigest: string) => string;
}

/** A request ready to start: validated, named, its devices leased to it, its execution input built. */
export interface PreparedRequest {
  kind: 'ready';
  requestId: string;
  stateMachineArn: string;
  input: { requestDigest: string; leaseOwner: string } & object;
  digest: string;
  thingNames: string[];
}

export type PrepareOutcome =
  | Exclude<SubmitOutcome, { kind: 'started' | 'conflict' }>
  | { kind: 'existing'; requestId: string; execution: DescribeExecutionCommandOutput; digest: string }
  | PreparedRequest;

/**
 * Everything submitRequest does before StartExecution, for a caller that starts the execution itself (a fleet
 * run's batch starts it from its state machine). Nothing is leased when the request is invalid or already has an
 * execution; when a device it names belongs to another running request, nothing is leased either.
 */
export async function prepareRequest<Schema extends $ZodType>(
  kind: RequestKind<Schema>,
  body: unknown,
  options: SubmitOptions = {},
): Promise<PrepareOutcome> {
  const request = validate(kind.schema, body);
  // Stryker disable next-line StringLiteral: equivalent: an invalid request is refused whatever id a default names from its digest
  const digest = request.ok ? requestDigest(kind.intentOf(request.value)) : '';
  const bodyRequestId = isRecord(body) ? body.requestId : undefined;
  const requestId = resolveRequestId(bodyRequestId, options.idempotencyKey, () => options.defaultRequestId?.(digest) ?? randomUUID());
  if (!requestId.ok || !request.ok) {
    return { kind: 'invalid', errors: [...(requestId.ok ? [] : requestId.errors), ...(request.ok ? [] : request.errors)] };
  }
  // The request id is the execution's name: both keys, as on the task functions' log lines.
  logger.appendKeys({ requestId: requestId.value, executionName: requestId.value });
  const machine = stateMachineArn(kind);
  const existing = await findExecution(machine, requestId.value);
  if (existing) return { kind: 'existing', requestId: requestId.value, execution: existing, digest };

  const holder: LeaseHolder = { workflow: kind.workflow, requestId: requestId.value };
  const owner = leaseOwner(holder, digest);
  const thingNames = (request.value as { devices: { thingName: string }[] }).devices.map((device) => device.thingName);
  const heldDevices = await acquireLeases(dynamodb, { owner, holder, thingNames }, holderStatus);
  if (heldDevices.length > 0) return { kind: 'held', requestId: requestId.value, heldDevices };

  const input = {
    ...((await kind.toExecutionInput(request.value, requestId.value, machine)) as object),
    requestDigest: digest,
    leaseOwner: owner,
  };
  return { kind: 'ready', requestId: requestId.value, stateMachineArn: machine, input, digest, thingNames };
}

/**
 * Validates a request and starts its execution, once per idempotency key. Nothing starts when it is
 * invalid, or when a device it names belongs to another running request: its devices are leased first
 * (device-leases.ts).
 */
export async function submitRequest<Schema extends $ZodType>(
  kind: RequestKind<Schema>,
  body: unknown,
  options: SubmitOptions = {},
): Promise<SubmitOutcome> {
  const prepared = await prepareRequest(kind, body, options);
  if (prepared.kind === 'existing') return { ...sameRequest(prepared.execution, prepared.digest), requestId: prepared.requestId };
  if (prepared.kind !== 'ready') return prepared;
  const { requestId, stateMachineArn: machine, input, digest, thingNames } = prepared;
  // Not released when the start fails: it may have taken effect without an answer, or an identical request may be
  // starting on the same leases; sent again, the same request finds them its own, and any other takes them over once
  // no execution shows for this one (device-leases.ts).
  const started = await startExecutionOnce(machine, requestId, input, digest);
  // Another request under the same key started first: no execution will ever hold these leases.
  if (started.kind === 'conflict') await releaseQuietly(input.leaseOwner, thingNames);
  return { ...started, requestId };
}

async function holderStatus(holder: LeaseHolder): Promise<HolderExecution | undefined> {
  const execution = await findExecution(stateMachineArn(requestKinds[holder.workflow]), holder.requestId);
  return execution && { status: execution.status as string, ...(execution.stopDate && { stopDate: execution.stopDate.getTime() / 1000 }) };
}

/** Leases that could not be released are taken over once their request shows no execution: the answer matters more. */
async function releaseQuietly(owner: string, thingNames: readonly string[]): Promise<void> {
  await releaseLeases(dynamodb, owner, thingNames).catch((error: unknown) => {
    logger.warn('could not release the device leases of a request that did not start; another request takes them over', {
      errorName: (error as Error).name,
    });
  });
}

/** A page of a state machine's executions as a list query asks for them, newest first; `limit` defaults to DEFAULT_LIST_LIMIT. */
export function executionsPage(stateMachineArn: string, query: ListQuery): Promise<ExecutionPage> {
  return listExecutionsPage(stateMachineArn, {
    limit: query.limit === undefined ? DEFAULT_LIST_LIMIT : Number(query.limit),
    ...(query.status && { status: query.status }),
    ...(query.nextToken && { nextToken: query.nextToken }),
  });
}

/** A page of the kind's requests, newest first. */
export function listOf(kind: RequestKind<$ZodType>, query: ListQuery): Promise<ExecutionPage> {
  return executionsPage(stateMachineArn(kind), query);
}

export function statusOf(kind: RequestKind<$ZodType>, requestId: string): Promise<RequestStatusView | undefined> {
  return describeRequest(stateMachineArn(kind), requestId, kind.deviceMap);
}

export type CancelOutcome =
  | { kind: 'unknown' }
  | { kind: 'finished'; executionArn: string; executionStatus: string }
  | { kind: 'cancelling'; executionArn: string };

/**
 * Cancels a running request cooperatively: a marker in the leases table, which each device's first step reads
 * (docs/workflow.md, Cancelling a request). Devices already under way finish, or roll back, as usual; only
 * StopExecution could interrupt them, and it would lose the state their rollback needs. The marker names the
 * execution's lease owner (from its input), so it reaches this execution and no other.
 */
export async function cancelRequest(kind: RequestKind<$ZodType>, requestId: string): Promise<CancelOutcome> {
  logger.appendKeys({ requestId, executionName: requestId });
  const execution = await findExecution(stateMachineArn(kind), requestId);
  if (!execution) return { kind: 'unknown' };
  const executionArn = execution.executionArn as string;
  // DescribeExecution always answers a status; the SDK types every output member as optional.
  if (execution.status !== 'RUNNING') return { kind: 'finished', executionArn, executionStatus: execution.status as string };
  const owner = leaseOwnerOf(execution.input);
  // Every execution the service starts carries its lease owner: one without is not this service's to cancel.
  if (owner === undefined) throw new Error(`execution ${executionArn} has no leaseOwner in its input: it cannot be cancelled`);
  await writeCancelMarker(dynamodb, owner, { workflow: kind.workflow, requestId });
  return { kind: 'cancelling', executionArn };
}

function leaseOwnerOf(serializedInput: string | undefined): string | undefined {
  const { leaseOwner } = (parsedJson(serializedInput) ?? {}) as { leaseOwner?: unknown };
  return typeof leaseOwner === 'string' ? leaseOwner : undefined;
}
