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
