import { DescribeThingCommand, IoTClient } from '@aws-sdk/client-iot';
import { IoTServiceException } from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceTaskInput } from '../../functions/domain/records.ts';

/**
 * How a task reports a failed call to the state machine. A reset socket or a bare 502 cannot be
 * produced by the local cloud's HTTP server on demand, so these few cases mock the SDK client.
 */
describe('task error reporting', () => {
  const iot = mockClient(IoTClient);
  let inspect: (input: DeviceTaskInput) => Promise<unknown>;

  beforeAll(async () => {
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    const { handler } = await import('../../functions/inspect-thing.ts');
    const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'inspectThing', awsRequestId: 'req' } as never;
    inspect = (input) => handler(input, context);
  });
  afterEach(() => iot.reset());

  const input: DeviceTaskInput = {
    spec: { thingName: 'sensor-1', coreDeviceThingName: 'core-a', parameters: {} },
    templateBody: '{}',
    templateIssuesCertificate: false,
    templateParameters: {},
    thingPrincipalType: 'EXCLUSIVE_THING',
    rollbackOnFailure: true,
    correlation: { requestId: 'r', executionName: 'r' },
  };

  it('turns a reset socket into TransientServiceError, which the state machine retries', async () => {
    iot.on(DescribeThingCommand).rejects(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    await expect(inspect(input)).rejects.toMatchObject({ name: 'TransientServiceError', message: 'Error: read ECONNRESET' });
  });

  it('turns a 5xx without an error code into TransientServiceError', async () => {
    const bare = new IoTServiceException({ name: '502', $fault: 'server', $metadata: { httpStatusCode: 502 }, message: 'Bad Gateway' });
    iot.on(DescribeThingCommand).rejects(bare);
    await expect(inspect(input)).rejects.toMatchObject({ name: 'TransientServiceError' });
  });

  it('lets a named AWS error through unchanged, so Retry and Catch match its name', async () => {
    const invalid = new IoTServiceException({ name: 'InvalidRequestException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'bad' });
    iot.on(DescribeThingCommand).rejects(invalid);
    await expect(inspect(input)).rejects.toBe(invalid);
  });
});
