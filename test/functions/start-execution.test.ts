import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:provision';

/**
 * A concurrent duplicate request: StartExecution answers ExecutionAlreadyExists and DescribeExecution,
 * eventually consistent on AWS, may not show the execution yet. The local cloud is strongly
 * consistent, so this case mocks the SDK client.
 */
describe('starting an execution that a concurrent duplicate request started', () => {
  const sfn = mockClient(SFNClient);
  let post: (event: APIGatewayProxyEvent) => Promise<{ statusCode: number; body: string; headers?: Record<string, string> }>;

  beforeAll(async () => {
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    process.env.PROVISION_STATE_MACHINE_ARN = STATE_MACHINE_ARN;
    const { handler } = await import('../../functions/start-provisioning.ts');
    const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'startProvisioning', awsRequestId: 'req' } as never;
    post = (event) => handler(event, context) as never;
  });
  afterEach(() => sfn.reset());

  const event = {
    httpMethod: 'POST',
    path: '/provisioning-requests',
    headers: { Host: 'api.example.com' },
    body: JSON.stringify({
      requestId: 'raced',
      coreDeviceThingName: 'core-a',
      devices: [{ thingName: 'sensor-1', principal: `arn:aws:iot:us-east-1:000000000000:cert/${'a'.repeat(64)}` }],
    }),
  } as unknown as APIGatewayProxyEvent;

  function startExecutionRaced() {
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
  }
  const notVisible = () => new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} });
  /** What the duplicate request started: the same input, so the same digest. */
  const startedInput = () => sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input;

  it('waits for the execution to show, then answers 202 with it', async () => {
    startExecutionRaced();
    sfn.on(DescribeExecutionCommand).rejectsOnce(notVisible()).callsFake(() => ({ input: startedInput(), startDate: new Date() }));

    const response = await post(event);

    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body).executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:provision:raced');
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(2);
  });

  it('answers 503 with Retry-After when the execution does not show in time, never 502', async () => {
    startExecutionRaced();
    sfn.on(DescribeExecutionCommand).rejects(notVisible());

    const response = await post(event);

    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('1');
    expect(JSON.parse(response.body).message).toContain('retry the same request');
    expect(sfn.commandCalls(DescribeExecutionCommand).length).toBeGreaterThan(1);
  });
});
