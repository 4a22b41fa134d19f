import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  InvalidExecutionInput,
  InvalidName,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  type StartExecutionCommandInput,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_SERVERLESS_PATH } from '../../../../support/fixture-project.ts';
import { type StepFunctionsCloud, startStepFunctionsCloud } from '../../../../support/local-cloud.ts';
import { executionHistory, waitForExecution } from '../../../../support/step-functions.ts';

const MACHINE_ARN = 'arn:aws:states:eu-west-1:000000000000:stateMachine:fixture-workflow-local';

describe('local Step Functions service', () => {
  let cloud: StepFunctionsCloud;
  /** AWS-faithful time, for executions that must still be RUNNING when the test looks at them. */
  let realTimeCloud: StepFunctionsCloud;

  beforeAll(async () => {
    cloud = await startStepFunctionsCloud({ serverlessPath: FIXTURE_SERVERLESS_PATH, timeScale: 0 });
    realTimeCloud = await startStepFunctionsCloud({ serverlessPath: FIXTURE_SERVERLESS_PATH, timeScale: 1 });
  });

  afterAll(async () => {
    await cloud.close();
    await realTimeCloud.close();
  });

  async function run(input: unknown, name?: string) {
    const { executionArn } = await cloud.client.send(
      new StartExecutionCommand({ stateMachineArn: MACHINE_ARN, input: JSON.stringify(input), name }),
    );
    return { executionArn: executionArn!, description: await waitForExecution(cloud.client, executionArn!) };
  }

  it('lists and describes the state machines of serverless.yml with bound Lambda ARNs', async () => {
    const { stateMachines } = await cloud.client.send(new ListStateMachinesCommand({}));
    expect(stateMachines?.map((machine) => machine.stateMachineArn)).toEqual([MACHINE_ARN]);
    const machine = await cloud.client.send(new DescribeStateMachineCommand({ stateMachineArn: MACHINE_ARN }));
    expect(machine.status).toBe('ACTIVE');
    const definition = JSON.parse(machine.definition!) as { States: Record<string, { Resource?: unknown }> };
    expect(definition.States.EchoTask!.Resource).toBe('arn:aws:lambda:eu-west-1:000000000000:function:fixture-app-local-echo');
  });

  it('runs an execution to SUCCEEDED with the Lambda output', async () => {
    const { executionArn, description } = await run({ mode: 'echo', value: 1 }, 'happy-path');
    expect(executionArn).toBe('arn:aws:states:eu-west-1:000000000000:execution:fixture-workflow-local:happy-path');
    expect(description).toMatchObject({
      status: 'SUCCEEDED',
      name: 'happy-path',
      input: '{"mode":"echo","value":1}',
      stateMachineArn: MACHINE_ARN,
    });
    expect(JSON.parse(description.output!)).toEqual({
      mode: 'echo',
      value: 1,
      functionName: 'fixture-app-local-echo',
      greeting: 'hello-local',
      functionOnly: 'echo-only',
    });
    expect(description.startDate).toBeInstanceOf(Date);
    expect(description.stopDate).toBeInstanceOf(Date);
  });

  it('retries a named error and records every failed attempt in the history', async () => {
    const { executionArn, description } = await run({ mode: 'flaky', key: 'retry-then-succeed', failures: 2 });
    expect(description.status).toBe('SUCCEEDED');
    expect(JSON.parse(description.output!)).toEqual({ key: 'retry-then-succeed', attempts: 3 });
    const types = (await executionHistory(cloud.client, executionArn)).map((event) => event.type);
    expect(types).toEqual([
      'ExecutionStarted',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionFailed',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionFailed',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
  });

  it('fails the execution once the retries are exhausted, with the Lambda error and cause', async () => {
    const { description } = await run({ mode: 'flaky', key: 'retries-exhausted', failures: 10 });
    expect(description).toMatchObject({ status: 'FAILED', error: 'FlakyError' });
    expect(JSON.parse(description.cause!)).toMatchObject({
      errorType: 'FlakyError',
      errorMessage: 'attempt 4 of retries-exhausted failed',
    });
  });

  it('catches a named error and continues with the error at ResultPath', async () => {
    const { executionArn, description } = await run({ mode: 'reject', reason: 'bad device' });
    expect(description.status).toBe('SUCCEEDED');
    const output = JSON.parse(description.output!) as { failure: { Error: string; Cause: string } };
    expect(output.failure.Error).toBe('RejectedError');
    expect(JSON.parse(output.failure.Cause)).toMatchObject({ errorType: 'RejectedError', errorMessage: 'bad device' });
    const types = (await executionHistory(cloud.client, executionArn)).map((event) => event.type);
    expect(types.slice(4)).toEqual([
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionFailed',
      'TaskStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
  });

  it('binds a plain Lambda ARN by its function name suffix and fails on an uncaught error', async () => {
    const { executionArn, description } = await run({ mode: 'uncaught' });
    expect(description).toMatchObject({ status: 'FAILED', error: 'RejectedError' });
    const failed = (await executionHistory(cloud.client, executionArn)).find((event) => event.type === 'LambdaFunctionFailed');
    expect(failed?.lambdaFunctionFailedEventDetails?.error).toBe('RejectedError');
  });

  it('records Map iterations with their index', async () => {
    const { executionArn, description } = await run({ mode: 'map', items: [{ n: 1 }, { n: 2 }, { n: 3 }] });
    expect(description.status).toBe('SUCCEEDED');
    expect((JSON.parse(description.output!) as { n: number }[]).map((item) => item.n)).toEqual([1, 2, 3]);
    const events = await executionHistory(cloud.client, executionArn);
    const iterationStarts = events.filter((event) => event.type === 'MapIterationStarted');
    expect(iterationStarts.map((event) => event.mapIterationStartedEventDetails)).toEqual(
      expect.arrayContaining([0, 1, 2].map((index) => ({ name: 'EachItem', index }))),
    );
    expect(events.filter((event) => event.type === 'MapIterationSucceeded')).toHaveLength(3);
    expect(events.filter((event) => event.type === 'LambdaFunctionSucceeded')).toHaveLength(3);
    expect(events.map((event) => event.type)).toEqual(
      expect.arrayContaining(['MapStateEntered', 'MapStateStarted', 'MapStateSucceeded', 'MapStateExited']),
    );
  });

  it('fails the execution with States.DataLimitExceeded, which States.ALL does not catch, when a state outgrows 256 KiB', async () => {
    const payload = 'x'.repeat(100_000);
    const fits = await run({ mode: 'fan-out', payload, items: [1, 2] });
    expect(fits.description.status).toBe('SUCCEEDED');

    const { executionArn, description } = await run({ mode: 'fan-out', payload, items: [1, 2, 3] });
    expect(description).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect(description.cause).toMatch(
      /^The output of state CopyToEachItem has a size of 3\d{5} bytes, exceeding the maximum of 262144 bytes/,
    );
    const events = await executionHistory(cloud.client, executionArn);
    expect(events.map((event) => event.type)).not.toContain('PassStateEntered');
    expect(events.at(-1)).toMatchObject({ type: 'ExecutionFailed', executionFailedEventDetails: { error: 'States.DataLimitExceeded' } });
  });

  it('gives every history event an id, a previous event and the state details', async () => {
    const { executionArn } = await run({ mode: 'echo' });
    const events = await executionHistory(cloud.client, executionArn);
    expect(events.map((event) => event.id)).toEqual(events.map((_, index) => index + 1));
    expect(events.every((event) => event.timestamp instanceof Date && event.previousEventId! < event.id!)).toBe(true);
    const entered = events.find((event) => event.type === 'TaskStateEntered');
    expect(entered?.stateEnteredEventDetails).toMatchObject({ name: 'EchoTask', input: '{"mode":"echo"}' });
    const scheduled = events.find((event) => event.type === 'LambdaFunctionScheduled');
    expect(scheduled?.lambdaFunctionScheduledEventDetails?.resource).toBe(
      'arn:aws:lambda:eu-west-1:000000000000:function:fixture-app-local-echo',
    );
  });

  it('paginates the history forwards and in reverse', async () => {
    const { executionArn } = await run({ mode: 'echo' });
    const all = await executionHistory(cloud.client, executionArn);
    const first = await cloud.client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 2 }));
    expect(first.events?.map((event) => event.id)).toEqual([1, 2]);
    expect(first.nextToken).toBeTruthy();
    const second = await cloud.client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 2, nextToken: first.nextToken }));
    expect(second.events?.map((event) => event.id)).toEqual([3, 4]);
    const reversed = await cloud.client.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 1000 }));
    expect(reversed.events?.map((event) => event.id)).toEqual(all.map((event) => event.id).reverse());
    expect(reversed.nextToken).toBeUndefined();
    await expect(cloud.client.send(new GetExecutionHistoryCommand({ executionArn, nextToken: 'not-a-token' }))).rejects.toMatchObject({
      name: 'InvalidToken',
    });
  });

  it('returns the same execution for the same name and input while it runs, and refuses any other reuse', async () => {
    const client = realTimeCloud.client;
    const start = (input: string) => client.send(new StartExecutionCommand({ stateMachineArn: MACHINE_ARN, name: 'idempotent', input }));
    const first = await start('{"mode":"wait"}');
    const again = await start('{ "mode": "wait" }');
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate).toEqual(first.startDate);
    await expect(start('{"mode":"wait","other":true}')).rejects.toBeInstanceOf(ExecutionAlreadyExists);

    await client.send(new StopExecutionCommand({ executionArn: first.executionArn, error: 'Cancelled', cause: 'by the test' }));
    const stopped = await waitForExecution(client, first.executionArn!);
    expect(stopped).toMatchObject({ status: 'ABORTED', error: 'Cancelled', cause: 'by the test' });
    await expect(start('{"mode":"wait"}')).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    const types = (await executionHistory(client, first.executionArn!)).map((event) => event.type);
    expect(types).toEqual(['ExecutionStarted', 'ChoiceStateEntered', 'ChoiceStateExited', 'WaitStateEntered', 'ExecutionAborted']);
  });

  it('lists executions newest first, filtered by status and paginated', async () => {
    const { executionArn: older } = await run({ mode: 'echo' });
    const { executionArn: newer } = await run({ mode: 'echo' });
    const succeeded = await cloud.client.send(
      new ListExecutionsCommand({ stateMachineArn: MACHINE_ARN, statusFilter: 'SUCCEEDED', maxResults: 1000 }),
    );
    const arns = succeeded.executions!.map((execution) => execution.executionArn);
    expect(arns.indexOf(newer)).toBeLessThan(arns.indexOf(older));
    expect(succeeded.executions!.every((execution) => execution.status === 'SUCCEEDED')).toBe(true);
    const failed = await cloud.client.send(new ListExecutionsCommand({ stateMachineArn: MACHINE_ARN, statusFilter: 'FAILED' }));
    expect(failed.executions!.every((execution) => execution.status === 'FAILED')).toBe(true);
    const firstPage = await cloud.client.send(new ListExecutionsCommand({ stateMachineArn: MACHINE_ARN, maxResults: 1 }));
    expect(firstPage.executions).toHaveLength(1);
    const secondPage = await cloud.client.send(
      new ListExecutionsCommand({ stateMachineArn: MACHINE_ARN, maxResults: 1, nextToken: firstPage.nextToken }),
    );
    expect(secondPage.executions![0]!.executionArn).not.toBe(firstPage.executions![0]!.executionArn);
  });

  it('validates names, inputs and ARNs with the AWS error names', async () => {
    const start = (input: Record<string, unknown>) =>
      cloud.client.send(new StartExecutionCommand({ stateMachineArn: MACHINE_ARN, ...input }));
    const long = 'x'.repeat(81);
    // The model's constraints come first, and give a ValidationException; Step Functions' own rules follow.
    await expect(start({ name: long })).rejects.toMatchObject({
      name: 'ValidationException',
      message: `1 validation error detected: Value '${long}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80`,
    });
    await expect(cloud.client.send(new StartExecutionCommand({ name: 'n' } as StartExecutionCommandInput))).rejects.toMatchObject({
      name: 'ValidationException',
      message: "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null",
    });
    await expect(start({ input: JSON.stringify('é'.repeat(131_072)) })).rejects.toMatchObject({
      name: 'ValidationException',
      message:
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have size less than or equal to 262144 bytes in UTF-8 encoding",
    });
    await expect(start({ name: 'has space' })).rejects.toBeInstanceOf(InvalidName);
    await expect(start({ input: '{not json' })).rejects.toBeInstanceOf(InvalidExecutionInput);
    await expect(cloud.client.send(new StartExecutionCommand({ stateMachineArn: `${MACHINE_ARN}-missing` }))).rejects.toBeInstanceOf(
      StateMachineDoesNotExist,
    );
    await expect(
      cloud.client.send(
        new DescribeExecutionCommand({ executionArn: 'arn:aws:states:eu-west-1:000000000000:execution:fixture-workflow-local:nope' }),
      ),
    ).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    await expect(cloud.client.send(new DescribeExecutionCommand({ executionArn: 'not-an-arn' }))).rejects.toMatchObject({
      name: 'InvalidArn',
      message: "Invalid Arn: 'Invalid ARN prefix: not-an-arn'",
    });
    await expect(cloud.client.send(new DescribeExecutionCommand({ executionArn: MACHINE_ARN }))).rejects.toMatchObject({
      name: 'InvalidArn',
      message: "Invalid Arn: 'Resource type not valid in this context: stateMachine'",
    });
  });

  it('resolves ARNs only in their own account and region, and takes execution names per region', async () => {
    const { executionArn } = await run({ mode: 'echo' }, 'regional');
    const inOtherAccount = MACHINE_ARN.replace(':000000000000:', ':123456789012:');
    const inOtherRegion = MACHINE_ARN.replace(':eu-west-1:', ':us-west-2:');
    for (const stateMachineArn of [inOtherAccount, inOtherRegion]) {
      await expect(cloud.client.send(new StartExecutionCommand({ stateMachineArn }))).rejects.toBeInstanceOf(StateMachineDoesNotExist);
      await expect(cloud.client.send(new ListExecutionsCommand({ stateMachineArn }))).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    }
    for (const otherArn of [executionArn.replace(':000000000000:', ':123456789012:'), executionArn.replace(':eu-west-1:', ':us-west-2:')]) {
      await expect(cloud.client.send(new DescribeExecutionCommand({ executionArn: otherArn }))).rejects.toBeInstanceOf(
        ExecutionDoesNotExist,
      );
    }

    const otherRegion = new SFNClient({
      endpoint: cloud.url,
      region: 'us-west-2',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      await expect(otherRegion.send(new DescribeExecutionCommand({ executionArn }))).rejects.toBeInstanceOf(ExecutionDoesNotExist);
      const started = await otherRegion.send(
        new StartExecutionCommand({ stateMachineArn: inOtherRegion, name: 'regional', input: '{"mode":"echo"}' }),
      );
      expect(started.executionArn).toBe(executionArn.replace(':eu-west-1:', ':us-west-2:'));
      expect((await waitForExecution(otherRegion, started.executionArn!)).status).toBe('SUCCEEDED');
      const listed = await otherRegion.send(new ListExecutionsCommand({ stateMachineArn: inOtherRegion }));
      expect(listed.executions?.map((execution) => execution.executionArn)).toEqual([started.executionArn]);
    } finally {
      otherRegion.destroy();
    }
  });

  it('describes and lists redrive as AWS does for an execution that was never redriven, and filters by PENDING_REDRIVE', async () => {
    const { executionArn, description } = await run({ mode: 'echo' });
    expect(description).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 0,
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
    });
    const { description: failed } = await run({ mode: 'uncaught' });
    expect(failed).toMatchObject({ status: 'FAILED', redriveCount: 0, redriveStatus: 'REDRIVABLE' });
    expect(failed.redriveStatusReason).toBeUndefined();
    const listed = await cloud.client.send(new ListExecutionsCommand({ stateMachineArn: MACHINE_ARN, maxResults: 1000 }));
    expect(listed.executions?.find((execution) => execution.executionArn === executionArn)).toMatchObject({ redriveCount: 0 });
    const pending = await cloud.client.send(new ListExecutionsCommand({ stateMachineArn: MACHINE_ARN, statusFilter: 'PENDING_REDRIVE' }));
    expect(pending.executions).toEqual([]);
  });

  it('answers an unknown operation with UnknownOperationException', async () => {
    const response = await fetch(cloud.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AWSStepFunctions.CreateActivity',
        // The local cloud routes by the SigV4 credential scope and does not verify signatures.
        authorization: 'AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/states/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ __type: 'UnknownOperationException', message: 'Unknown operation CreateActivity' });
  });
});
