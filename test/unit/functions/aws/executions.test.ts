import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  describeRequest,
  findExecution,
  listExecutionsPage,
  runningExecutions,
  startExecutionOnce,
} from '../../../../functions/aws/executions.ts';
import { logger } from '../../../../functions/lambda/powertools.ts';

/**
 * The Step Functions calls of aws/executions.ts, for what the local cloud cannot answer: an execution that
 * DescribeExecution does not show yet (eventually consistent on AWS, strongly here), a role without a permission
 * (the local cloud checks none), a history of several pages (over 1,000 events: a request of some 60 devices) and
 * answers without the members the SDK types as optional. The paths the local cloud can drive are in
 * test/integration/functions/api/requests.test.ts and request-routes.test.ts.
 */
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:provision';
const executionArn = (name: string) => `arn:aws:states:us-east-1:000000000000:execution:provision:${name}`;
const sfn = mockClient(SFNClient);
beforeAll(() => {
  process.env.AWS_REGION ??= 'us-east-1';
});
afterEach(() => {
  sfn.reset();
  vi.restoreAllMocks();
});

const notShown = () => new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} });
const sfnError = (name: string, httpStatusCode: number) =>
  new SFNServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, message: name });
const describedArns = () => sfn.commandCalls(DescribeExecutionCommand).map((call) => call.args[0].input.executionArn);

describe('starting an execution once', () => {
  const raced = () => sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));

  it('asks after the execution a concurrent duplicate started four times, then says it is not shown yet', async () => {
    raced();
    sfn.on(DescribeExecutionCommand).rejects(notShown());
    // Loaded afresh, so that the waits the module sets when it loads are this test's to count.
    vi.resetModules();
    const fresh = await import('../../../../functions/aws/executions.ts');

    await expect(fresh.startExecutionOnce(STATE_MACHINE_ARN, 'raced', {}, 'digest')).rejects.toMatchObject({
      name: 'ExecutionNotYetVisible',
      message: `execution ${executionArn('raced')} exists but Step Functions does not show it yet`,
    });
    expect(describedArns()).toEqual(Array(4).fill(executionArn('raced')));
  });

  it('lets an error of StartExecution other than an existing execution through, and looks for none', async () => {
    const throttled = sfnError('ThrottlingException', 400);
    sfn.on(StartExecutionCommand).rejects(throttled);

    await expect(startExecutionOnce(STATE_MACHINE_ARN, 'r', {}, 'digest')).rejects.toBe(throttled);
    expect(describedArns()).toEqual([]);
  });

  it('lets any other error of DescribeExecution through at once', async () => {
    raced();
    const denied = sfnError('AccessDeniedException', 400);
    sfn.on(DescribeExecutionCommand).rejects(denied);

    await expect(startExecutionOnce(STATE_MACHINE_ARN, 'raced', {}, 'digest')).rejects.toBe(denied);
    expect(describedArns()).toEqual([executionArn('raced')]);
  });

  it('answers the existing execution of the same digest as started, and one of another digest or of none as a conflict', async () => {
    raced();
    const startDate = new Date('2026-01-02T03:04:05Z');
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: executionArn('raced'), input: '{"requestDigest":"mine"}', startDate });

    expect(await startExecutionOnce(STATE_MACHINE_ARN, 'raced', {}, 'mine')).toEqual({
      kind: 'started',
      executionArn: executionArn('raced'),
      startDate,
    });
    expect(await startExecutionOnce(STATE_MACHINE_ARN, 'raced', {}, 'theirs')).toEqual({
      kind: 'conflict',
      executionArn: executionArn('raced'),
    });
    for (const input of [undefined, 'null']) {
      sfn.on(DescribeExecutionCommand).resolves({ executionArn: executionArn('raced'), ...(input !== undefined && { input }), startDate });
      expect(await startExecutionOnce(STATE_MACHINE_ARN, 'raced', {}, 'mine')).toEqual({
        kind: 'conflict',
        executionArn: executionArn('raced'),
      });
    }
  });
});

describe('finding an execution', () => {
  it('answers none for a name without an execution, and lets any other error through', async () => {
    sfn.on(DescribeExecutionCommand).rejectsOnce(notShown()).rejectsOnce(sfnError('AccessDeniedException', 400));

    expect(await findExecution(STATE_MACHINE_ARN, 'nobody')).toBeUndefined();
    await expect(findExecution(STATE_MACHINE_ARN, 'denied')).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(describedArns()).toEqual([executionArn('nobody'), executionArn('denied')]);
  });
});

describe('a page of executions', () => {
  it('answers an empty page when ListExecutions names no executions, without a next token', async () => {
    sfn.on(ListExecutionsCommand).resolves({});

    expect(await listExecutionsPage(STATE_MACHINE_ARN, { limit: 10 })).toEqual({ executions: [] });
    expect(sfn.commandCalls(ListExecutionsCommand)[0]?.args[0].input).toEqual({ stateMachineArn: STATE_MACHINE_ARN, maxResults: 10 });
  });
});

describe('describing a request', () => {
  const devices = (count: number) => Array.from({ length: count }, (_, index) => ({ thingName: `sensor-${index}` }));
  const running = (input: unknown = { devices: devices(3) }) =>
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: executionArn('r'), status: 'RUNNING', input: JSON.stringify(input) });
  const finished = (type: string, name: string): HistoryEvent => {
    const details = { name, index: 0 };
    return {
      type: type as HistoryEvent['type'],
      id: 1,
      timestamp: new Date(),
      ...(type === 'MapIterationSucceeded' && { mapIterationSucceededEventDetails: details }),
      ...(type === 'MapIterationFailed' && { mapIterationFailedEventDetails: details }),
      ...(type === 'MapIterationAborted' && { mapIterationAbortedEventDetails: details }),
      ...(type === 'MapIterationStarted' && { mapIterationStartedEventDetails: details }),
    };
  };

  it("counts the device Map's finished iterations over every page of the history, read without its data", async () => {
    running();
    const pages: Record<string, { events?: HistoryEvent[]; nextToken?: string }> = {
      first: {
        events: [
          finished('MapIterationStarted', 'ProvisionDevices'),
          finished('MapIterationSucceeded', 'ProvisionDevices'),
          finished('MapIterationSucceeded', 'AssociateBatches'),
        ],
        nextToken: 'page-2',
      },
      'page-2': { nextToken: 'page-3' },
      'page-3': { events: [finished('MapIterationFailed', 'ProvisionDevices'), finished('MapIterationAborted', 'ProvisionDevices')] },
    };
    sfn.on(GetExecutionHistoryCommand).callsFake((input: { nextToken?: string }) => pages[input.nextToken ?? 'first']);

    const status = await describeRequest(STATE_MACHINE_ARN, 'r', 'ProvisionDevices');

    expect(status?.progress).toEqual({ requested: 3, finished: 3 });
    expect(sfn.commandCalls(GetExecutionHistoryCommand).map((call) => call.args[0].input)).toEqual(
      [undefined, 'page-2', 'page-3'].map((nextToken) => ({
        executionArn: executionArn('r'),
        maxResults: 1000,
        includeExecutionData: false,
        nextToken,
      })),
    );
  });

  it('answers no devices requested when the input names none, is left out of the answer, or is not JSON', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    for (const input of [JSON.stringify({ templateBody: '{}' }), undefined, 'not JSON']) {
      sfn
        .on(DescribeExecutionCommand)
        .resolves({ executionArn: executionArn('r'), status: 'RUNNING', ...(input !== undefined && { input }) });

      expect((await describeRequest(STATE_MACHINE_ARN, 'r', 'ProvisionDevices'))?.progress).toEqual({ requested: 0, finished: 0 });
    }
  });

  it('answers a running request without progress, and says so in the log, when the history is throttled', async () => {
    running();
    sfn.on(GetExecutionHistoryCommand).rejects(sfnError('ThrottlingException', 400));
    const warn = vi.spyOn(logger, 'warn');

    const status = await describeRequest(STATE_MACHINE_ARN, 'r', 'ProvisionDevices');

    expect(status).toMatchObject({ requestId: 'r', executionStatus: 'RUNNING', outcome: 'IN_PROGRESS' });
    expect(status).not.toHaveProperty('progress');
    expect(warn).toHaveBeenCalledWith('could not read the execution history; answering the status without progress', {
      errorName: 'ThrottlingException',
    });
  });

  it('answers a running request without progress when the history fails unnamed, with a 5xx', async () => {
    running();
    sfn.on(GetExecutionHistoryCommand).rejects(sfnError('UnknownError', 503));

    expect(await describeRequest(STATE_MACHINE_ARN, 'r', 'ProvisionDevices')).not.toHaveProperty('progress');
  });

  it('fails when the role may not read the history', async () => {
    running();
    sfn.on(GetExecutionHistoryCommand).rejects(sfnError('AccessDeniedException', 400));

    await expect(describeRequest(STATE_MACHINE_ARN, 'r', 'ProvisionDevices')).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('answers a request whose execution waits for a redrive as in progress, and one ended without a summary as unknown', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: executionArn('r'), status: 'PENDING_REDRIVE', input: '{}' });
    expect(await describeRequest(STATE_MACHINE_ARN, 'r', 'ProvisionDevices')).toMatchObject({ outcome: 'IN_PROGRESS' });

    sfn.on(DescribeExecutionCommand).resolves({ executionArn: executionArn('r'), status: 'ABORTED', input: '{}' });
    expect(await describeRequest(STATE_MACHINE_ARN, 'r', 'ProvisionDevices')).toMatchObject({
      outcome: 'UNKNOWN',
      unsettled: { devices: [], message: expect.stringMatching(/^The execution ended ABORTED before it could report its devices/) },
    });
  });

  it('names no unsettled devices of an execution whose answer has no status', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: executionArn('r'), input: '{}' });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });

    expect(await describeRequest(STATE_MACHINE_ARN, 'r', 'ProvisionDevices')).not.toHaveProperty('unsettled');
  });

  it('lets an error of DescribeExecution other than a missing execution through', async () => {
    sfn.on(DescribeExecutionCommand).rejects(sfnError('AccessDeniedException', 400));

    await expect(describeRequest(STATE_MACHINE_ARN, 'r', 'ProvisionDevices')).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});

describe('counting running executions', () => {
  it('counts the running ones, none when the page names no executions', async () => {
    sfn
      .on(ListExecutionsCommand)
      .resolvesOnce({ executions: [{}, {}] as never })
      .resolvesOnce({});

    expect(await runningExecutions(STATE_MACHINE_ARN)).toBe(2);
    expect(await runningExecutions(STATE_MACHINE_ARN)).toBe(0);
    expect(sfn.commandCalls(ListExecutionsCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: STATE_MACHINE_ARN,
      statusFilter: 'RUNNING',
      maxResults: 100,
    });
  });

  it('counts none, and says so in the log, when Step Functions throttles the count', async () => {
    sfn.on(ListExecutionsCommand).rejects(sfnError('ThrottlingException', 400));
    const warn = vi.spyOn(logger, 'warn');

    expect(await runningExecutions(STATE_MACHINE_ARN)).toBe(0);
    expect(warn).toHaveBeenCalledWith('could not count running executions; pacing as if none were running', {
      errorName: 'ThrottlingException',
    });
  });
});
