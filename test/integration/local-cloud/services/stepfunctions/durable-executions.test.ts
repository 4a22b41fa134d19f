import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  CLOSED_CAUSE,
  CLOSED_ERROR,
  ExecutionStore,
  RESTARTED_ERROR,
} from '../../../../../local-cloud/services/stepfunctions/execution-store.ts';
import { FIXTURE_SERVERLESS_PATH } from '../../../../support/fixture-project.ts';
import { type StepFunctionsCloud, startStepFunctionsCloud } from '../../../../support/local-cloud.ts';
import { executionHistory, waitForExecution } from '../../../../support/step-functions.ts';

const FLEET_SERVERLESS_PATH = fileURLToPath(new URL('../../../../fixtures/distributed-map/serverless.yml', import.meta.url));
const ARN_PREFIX = 'arn:aws:states:eu-west-1:000000000000';
const FLEET_ARN = `${ARN_PREFIX}:stateMachine:fixture-fleet`;
const WORKFLOW_ARN = `${ARN_PREFIX}:stateMachine:fixture-workflow-local`;

describe('Step Functions executions kept in a database file', () => {
  const directory = mkdtempSync(join(tmpdir(), 'local-cloud-executions-'));
  let databases = 0;
  let cloud: StepFunctionsCloud | undefined;
  afterEach(async () => {
    await cloud?.close();
    cloud = undefined;
  });
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  const newDatabase = () => join(directory, `executions-${++databases}.sqlite`);
  const open = async (serverlessPath: string, databasePath: string, timeScale = 0) => {
    await cloud?.close();
    cloud = await startStepFunctionsCloud({ serverlessPath, timeScale, databasePath });
    return cloud;
  };

  it('describes, lists and pages closed executions, their histories and Map Runs as before after the cloud is closed and started again', async () => {
    const databasePath = newDatabase();
    const first = await open(FLEET_SERVERLESS_PATH, databasePath);
    const s3 = new S3Client({
      endpoint: first.url,
      region: 'eu-west-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'manifests', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    await s3.send(new PutObjectCommand({ Bucket: 'manifests', Key: 'fleet.csv', Body: 'id,fail\nd1,no\nd2,no\nd3,no\nd4,no\nd5,no' }));
    s3.destroy();
    const input = {
      format: 'CSV',
      bucket: 'manifests',
      key: 'fleet.csv',
      batchSize: 2,
      maxBytes: 262_144,
      maxConcurrency: 0,
      toleratedPercent: 0,
      runId: 'kept',
      rendezvous: 1,
    };
    const { executionArn } = await first.client.send(
      new StartExecutionCommand({ stateMachineArn: FLEET_ARN, name: 'kept', input: JSON.stringify(input) }),
    );
    expect((await waitForExecution(first.client, executionArn!)).status).toBe('SUCCEEDED');

    const read = async (client: StepFunctionsCloud['client']) => {
      const { mapRuns } = await client.send(new ListMapRunsCommand({ executionArn }));
      const mapRunArn = mapRuns![0]!.mapRunArn!;
      const { $metadata: _described, ...description } = await client.send(new DescribeExecutionCommand({ executionArn }));
      const { $metadata: _mapRun, ...mapRun } = await client.send(new DescribeMapRunCommand({ mapRunArn }));
      const firstPage = await client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 3, reverseOrder: true }));
      const secondPage = await client.send(
        new GetExecutionHistoryCommand({ executionArn, maxResults: 3, reverseOrder: true, nextToken: firstPage.nextToken }),
      );
      const children = await client.send(new ListExecutionsCommand({ mapRunArn, maxResults: 2 }));
      const moreChildren = await client.send(new ListExecutionsCommand({ mapRunArn, maxResults: 2, nextToken: children.nextToken }));
      return {
        description,
        mapRuns,
        mapRun,
        history: await executionHistory(client, executionArn!),
        reversed: [...firstPage.events!, ...secondPage.events!].map((event) => event.id),
        children: [...children.executions!, ...moreChildren.executions!],
        listed: (await client.send(new ListExecutionsCommand({ stateMachineArn: FLEET_ARN }))).executions,
      };
    };
    const before = await read(first.client);
    expect(before.mapRun.executionCounts).toMatchObject({ succeeded: 3, total: 3 });
    expect(before.children).toHaveLength(3);
    expect(before.reversed).toEqual([0, 1, 2, 3, 4, 5].map((offset) => before.history.length - offset));

    const second = await open(FLEET_SERVERLESS_PATH, databasePath);
    expect(await read(second.client)).toEqual(before);
    await expect(
      second.client.send(new StartExecutionCommand({ stateMachineArn: FLEET_ARN, name: 'kept', input: JSON.stringify(input) })),
    ).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
    });
  });

  it('keeps an execution the close stopped as ABORTED with LocalCloud.Closed, its history ending with that ExecutionAborted', async () => {
    const databasePath = newDatabase();
    const first = await open(FIXTURE_SERVERLESS_PATH, databasePath, 1);
    const { executionArn } = await first.client.send(
      new StartExecutionCommand({ stateMachineArn: WORKFLOW_ARN, input: '{"mode":"wait"}' }),
    );

    const second = await open(FIXTURE_SERVERLESS_PATH, databasePath, 1);
    expect(await second.client.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
      status: 'ABORTED',
      error: CLOSED_ERROR,
      cause: CLOSED_CAUSE,
    });
    expect((await executionHistory(second.client, executionArn!)).at(-1)).toMatchObject({
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { error: CLOSED_ERROR, cause: CLOSED_CAUSE },
    });
  });

  it('fails, at start, what a killed process left running: the execution with LocalCloud.Restarted after its last event, its Map Run FAILED', async () => {
    const databasePath = newDatabase();
    // What a process killed mid-run leaves behind: rows still RUNNING.
    const leftBehind = new ExecutionStore(databasePath);
    const executionArn = `${ARN_PREFIX}:execution:fixture-fleet:killed`;
    const journal = leftBehind.insert({
      arn: executionArn,
      name: 'killed',
      stateMachineArn: FLEET_ARN,
      input: '{}',
      mapRunArn: undefined,
      startDate: 1_000,
    });
    journal.append({ id: 1, previousEventId: 0, timestamp: 1, type: 'ExecutionStarted', executionStartedEventDetails: { input: '{}' } });
    journal.append({
      id: 2,
      previousEventId: 0,
      timestamp: 1,
      type: 'MapStateEntered',
      stateEnteredEventDetails: { name: 'EachBatch', input: '{}' },
    });
    const mapRunArn = `${ARN_PREFIX}:mapRun:fixture-fleet/csv:00000000-0000-4000-8000-000000000000`;
    const counts = { pending: 1, running: 1, succeeded: 0, failed: 0, timedOut: 0, aborted: 0, total: 2, resultsWritten: 0 };
    const record = {
      mapRunArn,
      executionArn,
      status: 'RUNNING' as const,
      startDate: new Date(1_000),
      maxConcurrency: 1,
      toleratedFailurePercentage: 0,
      toleratedFailureCount: 0,
      itemCounts: counts,
      executionCounts: counts,
    };
    leftBehind.putMapRun({ record, stateMachineArn: `${FLEET_ARN}/csv` });
    leftBehind.close();

    const restarted = await open(FLEET_SERVERLESS_PATH, databasePath);
    expect(await restarted.client.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
      status: 'FAILED',
      error: RESTARTED_ERROR,
    });
    const history = await executionHistory(restarted.client, executionArn);
    expect(history.map((event) => [event.id, event.previousEventId, event.type])).toEqual([
      [1, 0, 'ExecutionStarted'],
      [2, 0, 'MapStateEntered'],
      [3, 2, 'ExecutionFailed'],
    ]);
    const mapRun = await restarted.client.send(new DescribeMapRunCommand({ mapRunArn }));
    expect(mapRun.status).toBe('FAILED');
    expect(mapRun.stopDate).toBeInstanceOf(Date);
  });
});
