import type { DeviceTaskInput } from '../../functions/domain/records.ts';

/** One device's input to a provisioning task, as the state machine passes it. */
export const sensorTaskInput: DeviceTaskInput = {
  spec: { thingName: 'sensor-1', coreDeviceThingName: 'core-a', parameters: {} },
  templateBody: '{}',
  templateIssuesCertificate: false,
  templateParameters: {},
  thingPrincipalType: 'EXCLUSIVE_THING',
  rollbackOnFailure: true,
  correlation: { requestId: 'r', executionName: 'r' },
};

/** The parts of Lambda's context the handlers' middlewares read; middy ends the invocation just before the deadline. */
export function lambdaContext(remainingMs: number): never {
  return { getRemainingTimeInMillis: () => remainingMs, functionName: 'task', awsRequestId: 'req' } as never;
}

/** Invokes a rollback again with the progress it returned, as the state machine's RollbackCallsLeft loop does, until no call is left. */
export async function untilRolledBack<Invoke extends (input: never) => Promise<unknown>>(
  invoke: Invoke,
  input: Parameters<Invoke>[0],
): Promise<Awaited<ReturnType<Invoke>>> {
  const call = invoke as unknown as (input: object) => Promise<{ pending: unknown[] }>;
  let progress = await call(input as object);
  while (progress.pending.length > 0) progress = await call({ ...(input as object), rollback: progress });
  return progress as Awaited<ReturnType<Invoke>>;
}
