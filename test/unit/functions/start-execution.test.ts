import { DynamoDBClient, TransactionCanceledException, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:provision';

/**
 * Cases the local cloud cannot produce, so they mock the SDK clients: a concurrent duplicate request
 * (StartExecution answers ExecutionAlreadyExists and DescribeExecution, eventually consistent on AWS,
 * may not show the execution yet; the local cloud is strongly consistent), a role that lacks a
 * permission (the local cloud checks none), and lease transactions cancelled by concurrent ones (the
 * local cloud applies each transaction at once).
 */
describe('starting an execution', () => {
  const sfn = mockClient(SFNClient);
  const dynamodb = mockClient(DynamoDBClient);
  let post: (event: APIGatewayProxyEvent) => Promise<{ statusCode: number; body: string; headers?: Record<string, string> }>;

  beforeAll(async () => {
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    process.env.PROVISION_STATE_MACHINE_ARN = STATE_MACHINE_ARN;
    process.env.DEVICE_LEASES_TABLE = 'leases';
    const { handler } = await import('../../../functions/start-provisioning.ts');
    const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'startProvisioning', awsRequestId: 'req' } as never;
    post = (event) => handler(event, context) as never;
  });
  afterEach(() => {
    sfn.reset();
    dynamodb.reset();
  });
  beforeEach(() => {
    dynamodb.on(TransactWriteItemsCommand).resolves({});
  });

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

  it('waits for the execution a concurrent duplicate started to show, then answers 202 with it', async () => {
    startExecutionRaced();
    const executionArn = 'arn:aws:states:us-east-1:000000000000:execution:provision:raced';
    // Not there when the request is checked for, not yet visible after StartExecution said it exists, then there.
    sfn
      .on(DescribeExecutionCommand)
      .rejectsOnce(notVisible())
      .rejectsOnce(notVisible())
      .callsFake(() => ({ executionArn, input: startedInput(), startDate: new Date() }));

    const response = await post(event);

    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body).executionArn).toBe(executionArn);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(3);
  });

  const sfnError = (name: string, httpStatusCode: number) =>
    new SFNServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, message: name });

  it('paces as if nothing were running when Step Functions cannot count the running executions, and starts', async () => {
    sfn.on(DescribeExecutionCommand).rejects(notVisible());
    sfn.on(ListExecutionsCommand).rejects(sfnError('ThrottlingException', 400));
    sfn
      .on(StartExecutionCommand)
      .resolves({ executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:raced`, startDate: new Date() });

    const response = await post(event);

    expect(response.statusCode).toBe(202);
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}').pacing.deviceConcurrency).toBeGreaterThan(0);
  });

  it('fails instead of pacing blindly when the role may not list executions', async () => {
    sfn.on(DescribeExecutionCommand).rejects(notVisible());
    sfn.on(ListExecutionsCommand).rejects(sfnError('AccessDeniedException', 400));

    await expect(post(event)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('answers 503 with Retry-After when the execution a concurrent duplicate started does not show in time, never 502', async () => {
    startExecutionRaced();
    sfn.on(DescribeExecutionCommand).rejects(notVisible());

    const response = await post(event);

    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('1');
    expect(JSON.parse(response.body).message).toContain('retry the same request');
    expect(sfn.commandCalls(DescribeExecutionCommand).length).toBeGreaterThan(1);
  });

  it('answers 503 with Retry-After, and starts nothing, when concurrent transactions keep cancelling the device leases', async () => {
    sfn.on(DescribeExecutionCommand).rejects(notVisible());
    dynamodb.on(TransactWriteItemsCommand).rejects(
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'TransactionConflict' }],
      }),
    );

    const response = await post(event);

    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('1');
    expect(JSON.parse(response.body).message).toContain('the device leases could not be written');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(dynamodb.commandCalls(TransactWriteItemsCommand)).toHaveLength(4);
  });
});
