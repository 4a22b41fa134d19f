import { randomUUID } from 'node:crypto';
import type { $ZodType, output } from 'zod/v4/core';
import { deprovisioningRequestSchema } from '../domain/deprovisioning-request.ts';
import { deprovisioningIntent, provisioningIntent, toDeprovisioningExecutionInput, toProvisioningExecutionInput } from '../domain/execution-input.ts';
import { deviceConcurrency, quotasFromEnvironment } from '../domain/pacing.ts';
import { provisioningRequestSchema } from '../domain/provisioning-request.ts';
import { requestDigest } from '../domain/request-digest.ts';
import { resolveRequestId } from '../domain/request-id.ts';
import { type FieldError, validate } from '../domain/validation.ts';
import { describeRequest, runningExecutions, startExecutionOnce, type RequestStatusView } from './executions.ts';
import { logger } from './powertools.ts';

/** What differs between provisioning and deprovisioning requests: their schema, machine and input. */
export interface RequestKind<Schema extends $ZodType> {
  /** The collection in the API's paths, e.g. `provisioning-requests`. */
  collection: string;
  schema: Schema;
  stateMachineArnVariable: string;
  toExecutionInput(request: output<Schema>, requestId: string, stateMachineArn: string): Promise<unknown>;
  /** What idempotency compares: the same intent under the same requestId reaches the same execution. */
  intentOf(request: output<Schema>): unknown;
}

export const provisioning: RequestKind<typeof provisioningRequestSchema> = {
  collection: 'provisioning-requests',
  schema: provisioningRequestSchema,
  stateMachineArnVariable: 'PROVISION_STATE_MACHINE_ARN',
  toExecutionInput: async (request, requestId, stateMachineArn) => {
    const concurrency = deviceConcurrency(quotasFromEnvironment(process.env), await runningExecutions(stateMachineArn));
    return toProvisioningExecutionInput(request, requestId, concurrency);
  },
  intentOf: provisioningIntent,
};

export const deprovisioning: RequestKind<typeof deprovisioningRequestSchema> = {
  collection: 'deprovisioning-requests',
  schema: deprovisioningRequestSchema,
  stateMachineArnVariable: 'DEPROVISION_STATE_MACHINE_ARN',
  toExecutionInput: async (request, requestId) => toDeprovisioningExecutionInput(request, requestId),
  intentOf: deprovisioningIntent,
};

function stateMachineArn(kind: RequestKind<$ZodType>): string {
  const arn = process.env[kind.stateMachineArnVariable];
  if (!arn) throw new Error(`${kind.stateMachineArnVariable} is not set: the function is misconfigured`);
  return arn;
}

export type SubmitOutcome =
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'started'; requestId: string; executionArn: string }
  | { kind: 'conflict'; requestId: string; executionArn: string };

/** Validates a request and starts its execution, once per idempotency key. Nothing starts when it is invalid. */
export async function submitRequest<Schema extends $ZodType>(
  kind: RequestKind<Schema>,
  body: unknown,
  idempotencyKey?: string,
): Promise<SubmitOutcome> {
  const bodyRequestId = typeof body === 'object' && body !== null ? (body as { requestId?: unknown }).requestId : undefined;
  const requestId = resolveRequestId(bodyRequestId, idempotencyKey, randomUUID);
  const request = validate(kind.schema, body);
  if (!requestId.ok || !request.ok) {
    return { kind: 'invalid', errors: [...(requestId.ok ? [] : requestId.errors), ...(request.ok ? [] : request.errors)] };
  }
  // The request id is the execution's name: both keys, as on the task functions' log lines.
  logger.appendKeys({ requestId: requestId.value, executionName: requestId.value });
  const digest = requestDigest(kind.intentOf(request.value));
  const machine = stateMachineArn(kind);
  const input = { ...((await kind.toExecutionInput(request.value, requestId.value, machine)) as object), requestDigest: digest };
  const started = await startExecutionOnce(machine, requestId.value, input, digest);
  return { ...started, requestId: requestId.value };
}

export function statusOf(kind: RequestKind<$ZodType>, requestId: string): Promise<RequestStatusView | undefined> {
  return describeRequest(stateMachineArn(kind), requestId);
}
