import { DescribeStateMachineCommand, type HistoryEvent, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_SERVERLESS_PATH } from '../../../../support/fixture-project.ts';
import { type StepFunctionsCloud, startStepFunctionsCloud } from '../../../../support/local-cloud.ts';
import { executionHistory, waitForExecution } from '../../../../support/step-functions.ts';

const MACHINE_ARN = 'arn:aws:states:eu-west-1:000000000000:stateMachine:fixture-workflow-local';
const FLAKY = 'arn:aws:lambda:eu-west-1:000000000000:function:fixture-app-local-flaky';
const REJECT = 'arn:aws:lambda:eu-west-1:000000000000:function:fixture-app-local-reject';

/** One event as the test states it: the fields a history consumer reads. */
type Expected = [id: number, previousEventId: number, type: string, details?: Record<string, unknown>];

function shape(event: HistoryEvent): Expected {
  const { id, previousEventId, type, timestamp: _timestamp, ...details } = event;
  return [id!, previousEventId!, type!, ...(Object.keys(details).length > 0 ? [details] : [])] as Expected;
}

describe('execution history, event by event', () => {
  let cloud: StepFunctionsCloud;

  beforeAll(async () => {
    // Scaled so that the retry takes a millisecond and the final Wait long enough to stop the execution in it.
    cloud = await startStepFunctionsCloud({ serverlessPath: FIXTURE_SERVERLESS_PATH, timeScale: 0.002 });
  });

  afterAll(async () => {
    await cloud.close();
  });

  it('records a Task with a Retry, a Map whose Task is caught, and a StopExecution: payloads, results and event links', async () => {
    const input = { mode: 'history', key: `history-${Date.now()}`, items: [{ reason: 'first' }] };
    const { executionArn } = await cloud.client.send(
      new StartExecutionCommand({ stateMachineArn: MACHINE_ARN, input: JSON.stringify(input) }),
    );
    for (
      let waited = 0;
      !(await executionHistory(cloud.client, executionArn!)).some((event) => event.type === 'WaitStateEntered');
      waited += 10
    ) {
      if (waited > 5_000) throw new Error('the execution never reached its Wait state');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await cloud.client.send(new StopExecutionCommand({ executionArn, error: 'Stopped', cause: 'by the test' }));
    expect(await waitForExecution(cloud.client, executionArn!)).toMatchObject({ status: 'ABORTED' });

    const flakyPayload = JSON.stringify({ key: input.key, failures: 1 });
    const flakyResult = { key: input.key, attempts: 2 };
    const afterTask = { ...input, flaky: flakyResult };
    // One item: the interpreter relays iterations' events late, so those of several interleave even one at a time.
    const iteration = (first: number, index: number, reason: string): Expected[] => [
      [first, 13, 'MapIterationStarted', { mapIterationStartedEventDetails: { name: 'HistoryMap', index } }],
      [
        first + 1,
        first,
        'TaskStateEntered',
        { stateEnteredEventDetails: { name: 'RejectItem', input: JSON.stringify({ reason }), inputDetails: { truncated: false } } },
      ],
      [
        first + 2,
        first + 1,
        'LambdaFunctionScheduled',
        {
          lambdaFunctionScheduledEventDetails: { resource: REJECT, input: JSON.stringify({ reason }), inputDetails: { truncated: false } },
        },
      ],
      [first + 3, first + 2, 'LambdaFunctionStarted'],
      [
        first + 4,
        first + 3,
        'LambdaFunctionFailed',
        { lambdaFunctionFailedEventDetails: { error: 'RejectedError', cause: expect.stringContaining(reason) } },
      ],
      [
        first + 5,
        first + 4,
        'TaskStateExited',
        expect.objectContaining({ stateExitedEventDetails: expect.objectContaining({ name: 'RejectItem' }) }),
      ],
      [first + 6, first + 5, 'PassStateEntered', expect.anything()],
      [first + 7, first + 6, 'PassStateExited', expect.anything()],
      [first + 8, first + 7, 'MapIterationSucceeded', { mapIterationSucceededEventDetails: { name: 'HistoryMap', index } }],
    ];
    const events = (await executionHistory(cloud.client, executionArn!)).map(shape);
    expect(events).toEqual([
      [1, 0, 'ExecutionStarted', expect.anything()],
      // The first state follows no event, as on AWS.
      [2, 0, 'ChoiceStateEntered', expect.anything()],
      [3, 2, 'ChoiceStateExited', expect.anything()],
      [
        4,
        3,
        'TaskStateEntered',
        { stateEnteredEventDetails: { name: 'HistoryTask', input: JSON.stringify(input), inputDetails: { truncated: false } } },
      ],
      // Scheduled with the payload after Parameters, not the state input.
      [
        5,
        4,
        'LambdaFunctionScheduled',
        { lambdaFunctionScheduledEventDetails: { resource: FLAKY, input: flakyPayload, inputDetails: { truncated: false } } },
      ],
      [6, 5, 'LambdaFunctionStarted'],
      [
        7,
        6,
        'LambdaFunctionFailed',
        { lambdaFunctionFailedEventDetails: { error: 'FlakyError', cause: expect.stringContaining('attempt 1') } },
      ],
      [
        8,
        7,
        'LambdaFunctionScheduled',
        { lambdaFunctionScheduledEventDetails: { resource: FLAKY, input: flakyPayload, inputDetails: { truncated: false } } },
      ],
      [9, 8, 'LambdaFunctionStarted'],
      // What the function returned, not the state output after ResultPath.
      [
        10,
        9,
        'LambdaFunctionSucceeded',
        { lambdaFunctionSucceededEventDetails: { output: JSON.stringify(flakyResult), outputDetails: { truncated: false } } },
      ],
      [
        11,
        10,
        'TaskStateExited',
        { stateExitedEventDetails: { name: 'HistoryTask', output: JSON.stringify(afterTask), outputDetails: { truncated: false } } },
      ],
      [12, 11, 'MapStateEntered', expect.anything()],
      [13, 12, 'MapStateStarted', { mapStateStartedEventDetails: { length: 1 } }],
      ...iteration(14, 0, 'first'),
      // The Map closes after its last iteration, not after its start.
      [23, 22, 'MapStateSucceeded'],
      [24, 23, 'MapStateExited', expect.anything()],
      [25, 24, 'WaitStateEntered', expect.anything()],
      // A stop follows no event of the execution.
      [26, 0, 'ExecutionAborted', { executionAbortedEventDetails: { error: 'Stopped', cause: 'by the test' } }],
    ]);
  });

  it('describes the logging and tracing that serverless.yml configures', async () => {
    const machine = await cloud.client.send(new DescribeStateMachineCommand({ stateMachineArn: MACHINE_ARN }));
    expect(machine.loggingConfiguration).toEqual({
      level: 'ERROR',
      includeExecutionData: false,
      destinations: [
        {
          cloudWatchLogsLogGroup: {
            logGroupArn: 'arn:aws:logs:eu-west-1:000000000000:log-group:/aws/vendedlogs/states/fixture-workflow-local:*',
          },
        },
      ],
    });
    expect(machine.tracingConfiguration).toEqual({ enabled: true });
  });
});
