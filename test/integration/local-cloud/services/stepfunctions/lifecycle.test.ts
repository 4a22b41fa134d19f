import { randomUUID } from 'node:crypto';
import { ListExecutionsCommand, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURE_SERVERLESS_PATH } from '../../../../support/fixture-project.ts';
import { type StepFunctionsCloud, startStepFunctionsCloud } from '../../../../support/local-cloud.ts';
import { executionHistory, untilHistory, waitForExecution } from '../../../../support/step-functions.ts';

const MACHINE_ARN = 'arn:aws:states:eu-west-1:000000000000:stateMachine:fixture-workflow-local';
/** Parks in a Wait state of an hour. */
const WAITING_INPUT = '{"mode":"wait"}';

describe('Step Functions executions and the life of the local cloud', () => {
  let cloud: StepFunctionsCloud | undefined;
  afterEach(async () => {
    await cloud?.close();
    cloud = undefined;
  });

  /** AWS-faithful time, so that executions are still running when the test acts on them. */
  const startRealTimeCloud = () => startStepFunctionsCloud({ serverlessPath: FIXTURE_SERVERLESS_PATH, timeScale: 1 });
  const start = (input: string, name?: string) =>
    cloud!.client.send(new StartExecutionCommand({ stateMachineArn: MACHINE_ARN, input, name }));

  it('stops running executions when the cloud closes', async () => {
    cloud = await startRealTimeCloud();
    const { executionArn } = await start(WAITING_INPUT);
    const closed = cloud.service.waitForExecution(executionArn!);
    await cloud.close();
    cloud = undefined;
    await expect(closed).resolves.toBeUndefined();
  });

  it('invokes no function once an execution is stopped, although its Retry would retry at once', async () => {
    cloud = await startRealTimeCloud();
    const { executionArn } = await start(JSON.stringify({ mode: 'flaky', key: randomUUID(), failures: 10 }));
    await untilHistory(cloud.client, executionArn!, (events) => events.some((event) => event.type === 'LambdaFunctionFailed'));
    await cloud.client.send(new StopExecutionCommand({ executionArn }));
    expect((await waitForExecution(cloud.client, executionArn!)).status).toBe('ABORTED');
    await cloud.service.waitForExecution(executionArn!);

    const started = (await executionHistory(cloud.client, executionArn!)).filter((event) => event.type === 'LambdaFunctionStarted');
    expect(cloud.invoked).toHaveLength(started.length);
  });

  it('clears executions on reset: running ones stop, and their names can be used again', async () => {
    cloud = await startRealTimeCloud();
    const finished = await start('{"mode":"echo"}', 'reused');
    expect((await waitForExecution(cloud.client, finished.executionArn!)).status).toBe('SUCCEEDED');
    const parked = await start(WAITING_INPUT);
    const parkedClosed = cloud.service.waitForExecution(parked.executionArn!);

    expect(await (await fetch(`${cloud.url}/_local/reset`, { method: 'POST' })).json()).toEqual({ reset: true });
    expect((await cloud.client.send(new ListExecutionsCommand({ stateMachineArn: MACHINE_ARN }))).executions).toEqual([]);
    const again = await start('{"mode":"echo"}', 'reused');
    expect(await waitForExecution(cloud.client, again.executionArn!)).toMatchObject({ status: 'SUCCEEDED', name: 'reused' });
    expect((await executionHistory(cloud.client, again.executionArn!)).filter((event) => event.type === 'ExecutionStarted')).toHaveLength(
      1,
    );
    await expect(parkedClosed).resolves.toBeUndefined();
  });
});
