import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  DescribeStateMachineCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListMapRunsCommand,
  ListStateMachinesCommand,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StepFunctionsCloud, startStepFunctionsCloud } from '../../../../support/local-cloud.ts';
import { executionHistory, waitForExecution } from '../../../../support/step-functions.ts';

const SERVERLESS_PATH = fileURLToPath(new URL('../../../../fixtures/distributed-map/serverless.yml', import.meta.url));
const ARN_PREFIX = 'arn:aws:states:eu-west-1:000000000000';
const FLEET_ARN = `${ARN_PREFIX}:stateMachine:fixture-fleet`;
const CSV_CHILD_ARN = `${ARN_PREFIX}:stateMachine:fixture-fleet/csv`;
const WORKER_ARN = `${ARN_PREFIX}:stateMachine:fixture-worker`;
const ORCHESTRATOR_ARN = `${ARN_PREFIX}:stateMachine:fixture-orchestrator`;
const BUCKET = 'fleet-manifests';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** asl-validator ships no types; this is the part of its API the test uses. */
type AslValidator = (definition: unknown) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

interface FleetRun {
  MapRunArn: string;
  ResultWriterDetails: { Bucket: string; Key: string };
}

describe('Distributed Map in the local Step Functions', () => {
  let cloud: StepFunctionsCloud;
  let s3: S3Client;
  let manifests = 0;

  beforeAll(async () => {
    cloud = await startStepFunctionsCloud({ serverlessPath: SERVERLESS_PATH, timeScale: 0 });
    s3 = new S3Client({
      endpoint: cloud.url,
      region: 'eu-west-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
  });

  afterAll(async () => {
    s3.destroy();
    await cloud.close();
  });

  async function upload(body: string): Promise<string> {
    const key = `manifests/${++manifests}`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    return key;
  }

  async function readJson(key: string): Promise<unknown> {
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return JSON.parse(await object.Body!.transformToString());
  }

  /** A CSV manifest of devices `d1`…`dN`; those listed in `failing` are marked to fail. */
  function csvOf(count: number, failing: readonly number[] = []): string {
    const rows = Array.from({ length: count }, (_, index) => `d${index + 1},${failing.includes(index + 1) ? 'yes' : 'no'}`);
    return ['id,fail', ...rows].join('\n');
  }

  function fleetInput(key: string, overrides: Record<string, unknown> = {}) {
    return {
      format: 'CSV',
      bucket: BUCKET,
      key,
      batchSize: 2,
      maxBytes: 262_144,
      maxConcurrency: 0,
      toleratedPercent: 0,
      runId: `run-${manifests}`,
      rendezvous: 1,
      ...overrides,
    };
  }

  async function start(stateMachineArn: string, input: unknown): Promise<string> {
    const { executionArn } = await cloud.client.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }));
    return executionArn!;
  }

  async function run(stateMachineArn: string, input: unknown) {
    const executionArn = await start(stateMachineArn, input);
    const description = await waitForExecution(cloud.client, executionArn);
    return {
      executionArn,
      description,
      output: description.output === undefined ? undefined : (JSON.parse(description.output) as Record<string, unknown>),
    };
  }

  /** A batch of `runId`'s run sent from a run of its own, which meets a batch held at the rendezvous (`rendezvous: 2`): both go on. */
  async function meetAtRendezvous(runId: string): Promise<void> {
    const { description } = await run(FLEET_ARN, fleetInput(await upload(csvOf(1)), { runId, rendezvous: 2 }));
    expect(description.status).toBe('SUCCEEDED');
  }

  async function onlyMapRunOf(executionArn: string): Promise<string> {
    const { mapRuns } = await cloud.client.send(new ListMapRunsCommand({ executionArn }));
    expect(mapRuns).toHaveLength(1);
    return mapRuns![0]!.mapRunArn!;
  }

  const typesOf = (events: HistoryEvent[]) => events.map((event) => event.type);

  it('reads a CSV manifest from S3, runs a child per batch and writes manifest.json and SUCCEEDED_0.json as AWS does', async () => {
    const key = await upload(csvOf(6));
    const { description, output } = await run(FLEET_ARN, fleetInput(key));
    expect(description.status).toBe('SUCCEEDED');
    const fleetRun = output!.run as FleetRun;
    expect(fleetRun.MapRunArn).toMatch(new RegExp(`^${ARN_PREFIX}:mapRun:fixture-fleet/csv:${UUID}$`));
    const mapRunId = fleetRun.MapRunArn.split(':').at(-1);
    expect(fleetRun.ResultWriterDetails).toEqual({ Bucket: BUCKET, Key: `results/${mapRunId}/manifest.json` });

    const succeededKey = `results/${mapRunId}/SUCCEEDED_0.json`;
    const succeeded = (await readJson(succeededKey)) as Record<string, unknown>[];
    const succeededSize = Buffer.byteLength(JSON.stringify(succeeded));
    expect(await readJson(fleetRun.ResultWriterDetails.Key)).toEqual({
      DestinationBucket: BUCKET,
      MapRunArn: fleetRun.MapRunArn,
      ResultFiles: { FAILED: [], PENDING: [], SUCCEEDED: [{ Key: succeededKey, Size: succeededSize }] },
    });
    expect(succeeded).toHaveLength(3);
    for (const entry of succeeded) {
      expect(Object.keys(entry).sort()).toEqual([
        'ExecutionArn',
        'Input',
        'InputDetails',
        'Name',
        'Output',
        'OutputDetails',
        'RedriveCount',
        'RedriveStatus',
        'RedriveStatusReason',
        'StartDate',
        'StateMachineArn',
        'Status',
        'StopDate',
      ]);
      expect(entry).toMatchObject({
        StateMachineArn: CSV_CHILD_ARN,
        Status: 'SUCCEEDED',
        RedriveStatus: 'NOT_REDRIVABLE',
        ExecutionArn: `${ARN_PREFIX}:execution:fixture-fleet/csv:${entry.Name as string}`,
      });
    }
    // ItemSelector first, then the batcher: each item is the selected `{device, index}`, each batch carries BatchInput.
    const inputs = succeeded.map(
      (entry) => JSON.parse(entry.Input as string) as { BatchInput: unknown; Items: { device: { id: string }; index: number }[] },
    );
    expect(inputs.flatMap((input) => input.Items).sort((left, right) => left.index - right.index)).toEqual(
      Array.from({ length: 6 }, (_, index) => ({ device: { id: `d${index + 1}`, fail: 'no' }, index })),
    );
    expect(inputs.every((input) => input.Items.length === 2)).toBe(true);
    expect(inputs[0]!.BatchInput).toEqual({ runId: `run-${manifests}`, rendezvous: 1 });
    const outputs = succeeded.map((entry) => JSON.parse(entry.Output as string) as { ids: string[] });
    expect(outputs.flatMap((result) => result.ids).sort()).toEqual(['d1', 'd2', 'd3', 'd4', 'd5', 'd6']);
  });

  it('describes the Map Run with item and execution counts, lists it under its execution and its children by mapRunArn', async () => {
    const key = await upload(csvOf(5));
    const { executionArn } = await run(FLEET_ARN, fleetInput(key));
    const mapRunArn = await onlyMapRunOf(executionArn);
    const { mapRuns } = await cloud.client.send(new ListMapRunsCommand({ executionArn }));
    expect(mapRuns![0]).toMatchObject({ executionArn, mapRunArn, stateMachineArn: CSV_CHILD_ARN });
    expect(mapRuns![0]!.stopDate).toBeInstanceOf(Date);

    const mapRun = await cloud.client.send(new DescribeMapRunCommand({ mapRunArn }));
    const settled = { pending: 0, running: 0, failed: 0, timedOut: 0, aborted: 0 };
    expect(mapRun).toMatchObject({
      mapRunArn,
      executionArn,
      status: 'SUCCEEDED',
      maxConcurrency: 0,
      toleratedFailurePercentage: 0,
      toleratedFailureCount: 0,
      itemCounts: { ...settled, total: 5, succeeded: 5, resultsWritten: 5 },
      executionCounts: { ...settled, total: 3, succeeded: 3, resultsWritten: 3 },
    });

    const { executions: children } = await cloud.client.send(new ListExecutionsCommand({ mapRunArn }));
    expect(children).toHaveLength(3);
    for (const child of children!) {
      expect(child).toMatchObject({ mapRunArn, stateMachineArn: CSV_CHILD_ARN, status: 'SUCCEEDED' });
      expect(child.executionArn).toBe(`${ARN_PREFIX}:execution:fixture-fleet/csv:${child.name}`);
    }
    const child = await cloud.client.send(new DescribeExecutionCommand({ executionArn: children![0]!.executionArn }));
    expect(child).toMatchObject({ status: 'SUCCEEDED', stateMachineArn: CSV_CHILD_ARN });
    const { executions: parents } = await cloud.client.send(new ListExecutionsCommand({ stateMachineArn: FLEET_ARN }));
    expect(parents!.map((execution) => execution.executionArn)).not.toContain(children![0]!.executionArn);
  });

  it('describes the child state machine, which ListStateMachines does not list, and refuses ListExecutions by both ARNs', async () => {
    const childMachine = await cloud.client.send(new DescribeStateMachineCommand({ stateMachineArn: CSV_CHILD_ARN }));
    expect(childMachine.name).toBe('fixture-fleet/csv');
    const definition = JSON.parse(childMachine.definition!) as { StartAt: string; States: Record<string, { Resource: string }> };
    expect(definition.StartAt).toBe('ProcessBatch');
    expect(definition.States.ProcessBatch!.Resource).toBe('arn:aws:lambda:eu-west-1:000000000000:function:fixture-dm-local-process');
    const { stateMachines } = await cloud.client.send(new ListStateMachinesCommand({}));
    expect(stateMachines!.map((machine) => machine.name).sort()).toEqual(['fixture-fleet', 'fixture-orchestrator', 'fixture-worker']);
    await expect(
      cloud.client.send(new ListExecutionsCommand({ stateMachineArn: FLEET_ARN, mapRunArn: `${ARN_PREFIX}:mapRun:fixture-fleet/csv:x` })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('shows a running child in DescribeMapRun while the run goes, then the settled counts', async () => {
    // One batch, held at the rendezvous until the test, once it has looked, sends a second batch of its run.
    const key = await upload(csvOf(1));
    const input = fleetInput(key, { rendezvous: 2 });
    const executionArn = await start(FLEET_ARN, input);
    const mapRunArn = await poll(async () => (await cloud.client.send(new ListMapRunsCommand({ executionArn }))).mapRuns?.[0]?.mapRunArn);
    const running = await poll(async () => {
      const mapRun = await cloud.client.send(new DescribeMapRunCommand({ mapRunArn }));
      return mapRun.executionCounts?.running === 1 ? mapRun : undefined;
    });
    expect(running).toMatchObject({ status: 'RUNNING', itemCounts: { running: 1, succeeded: 0, total: 1 } });
    await meetAtRendezvous(input.runId);
    await waitForExecution(cloud.client, executionArn);
    const settled = await cloud.client.send(new DescribeMapRunCommand({ mapRunArn }));
    expect(settled).toMatchObject({ status: 'SUCCEEDED', executionCounts: { running: 0, succeeded: 1 } });
  });

  it('fails the Map Run with States.ExceedToleratedFailureThreshold, which a Catch catches, past ToleratedFailurePercentage only', async () => {
    const key = await upload(csvOf(4, [2, 4]));
    const within = await run(FLEET_ARN, fleetInput(key, { batchSize: 1, toleratedPercent: 50 }));
    expect(within.description.status).toBe('SUCCEEDED');
    expect(within.output!.error).toBeUndefined();

    const past = await run(FLEET_ARN, fleetInput(key, { batchSize: 1, toleratedPercent: 25 }));
    expect(past.description.status).toBe('SUCCEEDED');
    expect(past.output!.error).toMatchObject({ Error: 'States.ExceedToleratedFailureThreshold' });
    const mapRunArn = await onlyMapRunOf(past.executionArn);
    expect(await cloud.client.send(new DescribeMapRunCommand({ mapRunArn }))).toMatchObject({
      status: 'FAILED',
      toleratedFailurePercentage: 25,
    });
    const failed = (await readJson(`results/${mapRunArn.split(':').at(-1)}/FAILED_0.json`)) as Record<string, unknown>[];
    expect(failed.map((entry) => [entry.Status, entry.Error, entry.RedriveStatus])).toEqual([
      ['FAILED', 'DeviceFailedError', 'REDRIVABLE_BY_MAP_RUN'],
      ['FAILED', 'DeviceFailedError', 'REDRIVABLE_BY_MAP_RUN'],
    ]);

    const types = typesOf(await executionHistory(cloud.client, past.executionArn));
    expect(types.slice(types.indexOf('MapStateEntered'))).toEqual([
      'MapStateEntered',
      'MapStateStarted',
      'MapRunStarted',
      'MapRunFailed',
      'MapStateFailed',
      'MapStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
  });

  it('writes a Distributed Map in the history as AWS does: Map Run events, no Task events', async () => {
    const key = await upload(csvOf(3));
    const { executionArn, output } = await run(FLEET_ARN, fleetInput(key));
    const events = await executionHistory(cloud.client, executionArn);
    expect(typesOf(events)).toEqual([
      'ExecutionStarted',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'MapStateEntered',
      'MapStateStarted',
      'MapRunStarted',
      'MapRunSucceeded',
      'MapStateSucceeded',
      'MapStateExited',
      'ExecutionSucceeded',
    ]);
    const byType = (type: string) => events.find((event) => event.type === type)!;
    expect(byType('MapStateStarted').mapStateStartedEventDetails).toEqual({ length: 3 });
    expect(byType('MapRunStarted').mapRunStartedEventDetails).toEqual({ mapRunArn: (output!.run as FleetRun).MapRunArn });
    expect(JSON.parse(byType('MapStateExited').stateExitedEventDetails!.output!)).toEqual(output);
  });

  it('fails with States.ItemReaderFailed when the manifest object is missing, each retry in a Map Run of its own', async () => {
    const { executionArn, description } = await run(FLEET_ARN, fleetInput('manifests/none.csv'));
    expect(description).toMatchObject({ status: 'FAILED', error: 'States.ItemReaderFailed' });
    expect(description.cause).toContain(`s3://${BUCKET}/manifests/none.csv`);
    const events = await executionHistory(cloud.client, executionArn);
    expect(typesOf(events).slice(typesOf(events).indexOf('MapStateEntered'))).toEqual([
      'MapStateEntered',
      'MapStateStarted',
      'MapRunStarted',
      'MapRunFailed',
      'MapRunStarted',
      'MapRunFailed',
      'MapStateFailed',
      'ExecutionFailed',
    ]);
    expect(events.find((event) => event.type === 'MapRunFailed')?.mapRunFailedEventDetails).toMatchObject({
      error: 'States.ItemReaderFailed',
    });
    const historyRuns = events.flatMap((event) => (event.type === 'MapRunStarted' ? [event.mapRunStartedEventDetails!.mapRunArn!] : []));

    const first = await cloud.client.send(new ListMapRunsCommand({ executionArn, maxResults: 1 }));
    const second = await cloud.client.send(new ListMapRunsCommand({ executionArn, maxResults: 1, nextToken: first.nextToken }));
    expect(second.nextToken).toBeUndefined();
    const listedRuns = [...first.mapRuns!, ...second.mapRuns!].map((mapRun) => mapRun.mapRunArn!);
    expect(listedRuns.sort()).toEqual([...historyRuns].sort());
    expect(new Set(listedRuns).size).toBe(2);
    expect(await cloud.client.send(new DescribeMapRunCommand({ mapRunArn: listedRuns[0] }))).toMatchObject({
      status: 'FAILED',
      itemCounts: { total: 0 },
    });
  });

  it("reads the manifest through the local cloud's S3, whose injected faults fail the ItemReader", async () => {
    const key = await upload(csvOf(1));
    const faults = (patch: unknown) => fetch(`${cloud.url}/_local/faults`, { method: 'POST', body: JSON.stringify(patch) });
    expect((await faults({ throttle: { GetObject: 1 } })).status).toBe(200);
    try {
      const { description } = await run(FLEET_ARN, fleetInput(key));
      expect(description).toMatchObject({ status: 'FAILED', error: 'States.ItemReaderFailed' });
      expect(description.cause).toContain('Please reduce your request rate.');
    } finally {
      await faults({ throttle: {} });
    }
  });

  it('runs a JSONL manifest one child per line and outputs their results in order without a ResultWriter', async () => {
    const key = await upload('{"id":"a"}\n{"id":"b"}\n\n{"id":"c"}\n');
    const { description, output } = await run(FLEET_ARN, { format: 'JSONL', bucket: BUCKET, key });
    expect(description.status).toBe('SUCCEEDED');
    expect(output).toEqual([{ ids: ['a'] }, { ids: ['b'] }, { ids: ['c'] }]);
  });

  it('fails with States.ItemReaderFailed on a malformed JSONL line, naming the line', async () => {
    const key = await upload('{"id":"a"}\n{"id": oops}\n');
    const { description } = await run(FLEET_ARN, { format: 'JSONL', bucket: BUCKET, key });
    expect(description).toMatchObject({ status: 'FAILED', error: 'States.ItemReaderFailed' });
    expect(description.cause).toContain('line 2');
  });

  it('fails with States.ItemReaderFailed when one item alone is over MaxInputBytesPerBatch', async () => {
    const key = await upload(['id,fail', 'd1,no', `${'x'.repeat(200)},no`].join('\n'));
    const { description } = await run(FLEET_ARN, fleetInput(key, { maxBytes: 150 }));
    expect(description).toMatchObject({ status: 'FAILED', error: 'States.ItemReaderFailed' });
    expect(description.cause).toContain('item 1 alone is over');
  });

  it('runs at most MaxConcurrency children at once', async () => {
    // Each batch waits in the function until two of its run are there: more at once would raise the peak past 2.
    const key = await upload(csvOf(6));
    const { executionArn, output } = await run(FLEET_ARN, fleetInput(key, { batchSize: 1, maxConcurrency: 2, rendezvous: 2 }));
    const mapRunArn = await onlyMapRunOf(executionArn);
    expect(await cloud.client.send(new DescribeMapRunCommand({ mapRunArn }))).toMatchObject({
      maxConcurrency: 2,
      executionCounts: { succeeded: 6 },
    });
    const succeeded = (await readJson(`results/${(output!.run as FleetRun).MapRunArn.split(':').at(-1)}/SUCCEEDED_0.json`)) as {
      Output: string;
    }[];
    expect(Math.max(...succeeded.map((entry) => (JSON.parse(entry.Output) as { peak: number }).peak))).toBe(2);
  });

  it('aborts the running children when the parent is stopped', async () => {
    // One batch, held at the rendezvous: the child is still running when its parent is stopped.
    const key = await upload(csvOf(1));
    const input = fleetInput(key, { rendezvous: 2 });
    const executionArn = await start(FLEET_ARN, input);
    const mapRunArn = await poll(async () => (await cloud.client.send(new ListMapRunsCommand({ executionArn }))).mapRuns?.[0]?.mapRunArn);
    const childArn = await poll(
      async () => (await cloud.client.send(new ListExecutionsCommand({ mapRunArn }))).executions?.[0]?.executionArn,
    );
    await cloud.client.send(new StopExecutionCommand({ executionArn }));
    expect((await waitForExecution(cloud.client, executionArn)).status).toBe('ABORTED');
    expect((await waitForExecution(cloud.client, childArn)).status).toBe('ABORTED');
    // The aborted child's invocation still waits in the function: released, it leaves the child ABORTED.
    await meetAtRendezvous(input.runId);
    expect((await cloud.client.send(new DescribeExecutionCommand({ executionArn: childArn }))).status).toBe('ABORTED');
  });

  it('returns the child execution with its output parsed from startExecution.sync:2, and writes the Task events AWS writes', async () => {
    const { executionArn, description, output } = await run(ORCHESTRATOR_ARN, {
      integration: 'sync:2',
      workerArn: WORKER_ARN,
      name: 'worker-ok',
      id: 'x1',
      fail: 'no',
    });
    expect(description.status).toBe('SUCCEEDED');
    expect(output).toMatchObject({
      ExecutionArn: `${ARN_PREFIX}:execution:fixture-worker:worker-ok`,
      StateMachineArn: WORKER_ARN,
      Name: 'worker-ok',
      Status: 'SUCCEEDED',
      Input: '{"id":"x1","fail":"no"}',
      Output: { ids: ['x1'] },
    });
    const events = await executionHistory(cloud.client, executionArn);
    expect(typesOf(events)).toEqual([
      'ExecutionStarted',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    const scheduled = events.find((event) => event.type === 'TaskScheduled')!.taskScheduledEventDetails!;
    expect(scheduled).toMatchObject({ resourceType: 'states', resource: 'startExecution.sync:2', region: 'eu-west-1' });
    expect(JSON.parse(scheduled.parameters!)).toEqual({ StateMachineArn: WORKER_ARN, Name: 'worker-ok', Input: { id: 'x1', fail: 'no' } });
    expect(JSON.parse(events.find((event) => event.type === 'TaskSucceeded')!.taskSucceededEventDetails!.output!)).toEqual(output);
  });

  it('fails the startExecution.sync:2 Task with States.TaskFailed and the child description as Cause when the child fails', async () => {
    const { executionArn, description } = await run(ORCHESTRATOR_ARN, {
      integration: 'sync:2',
      workerArn: WORKER_ARN,
      name: 'worker-fails',
      id: 'x2',
      fail: 'yes',
    });
    expect(description).toMatchObject({ status: 'FAILED', error: 'States.TaskFailed' });
    expect(JSON.parse(description.cause!)).toMatchObject({
      ExecutionArn: `${ARN_PREFIX}:execution:fixture-worker:worker-fails`,
      Status: 'FAILED',
      Error: 'DeviceFailedError',
    });
    const failed = (await executionHistory(cloud.client, executionArn)).find((event) => event.type === 'TaskFailed');
    expect(failed?.taskFailedEventDetails).toMatchObject({
      resourceType: 'states',
      resource: 'startExecution.sync:2',
      error: 'States.TaskFailed',
    });
  });

  it('returns the Output as a string from startExecution.sync, and only the started execution from startExecution', async () => {
    const sync = await run(ORCHESTRATOR_ARN, { integration: 'sync', workerArn: WORKER_ARN, name: 'worker-sync', id: 'x3', fail: 'no' });
    expect(sync.output).toMatchObject({ Status: 'SUCCEEDED', Output: '{"ids":["x3"]}' });

    const started = await run(ORCHESTRATOR_ARN, {
      integration: 'start',
      workerArn: WORKER_ARN,
      name: 'worker-started',
      id: 'x4',
      fail: 'no',
    });
    expect(started.description.status).toBe('SUCCEEDED');
    expect(started.output).toEqual({
      ExecutionArn: `${ARN_PREFIX}:execution:fixture-worker:worker-started`,
      StartDate: expect.any(Number),
    });
    expect((await waitForExecution(cloud.client, started.output!.ExecutionArn as string)).status).toBe('SUCCEEDED');
  });

  it('deploys definitions that asl-validator accepts', async () => {
    for (const stateMachineArn of [FLEET_ARN, WORKER_ARN, ORCHESTRATOR_ARN]) {
      const { definition } = await cloud.client.send(new DescribeStateMachineCommand({ stateMachineArn }));
      const result = aslValidator(JSON.parse(definition!));
      expect(result.isValid, `${stateMachineArn}: ${result.errorsText()}`).toBe(true);
    }
  });
});

/** Polls until `probe` gives a value; a guard against a hung run, not a timing assertion. */
async function poll<T>(probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('gave up polling after 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
