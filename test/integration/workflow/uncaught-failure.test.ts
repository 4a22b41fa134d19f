import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventsOf, failedAttempts, useServiceCloud } from '../../support/service-cloud.ts';
import { executionHistory, waitForExecution } from '../../support/step-functions.ts';
import { lambdaContext } from '../../support/task-fixtures.ts';

/**
 * A task without a Catch (the pure steps: planning, settling, summarizing) that fails for good fails the whole
 * execution: nothing catches it, so no summary is written. No request that passes validation does that, so the
 * execution is started directly with an input only a bug could produce; what matters is what GET then says.
 */
describe('a task without a Catch that fails', () => {
  const cloud = useServiceCloud();
  let get: (event: APIGatewayProxyEvent) => Promise<{ statusCode: number; body: string }>;
  beforeAll(async () => {
    const module = await import('../../../functions/get-deprovisioning-request.ts');
    get = (event) => module.handler(event, lambdaContext(30_000)) as never;
  });

  it('fails the execution with its error, and GET answers the execution FAILED, its outcome UNKNOWN, with the message of that error (no stack trace) and no summary', async () => {
    const input = {
      requestId: 'uncaught',
      options: { detachPrincipals: true, deleteThings: true },
      devices: { thingName: 'not-a-list' },
      batches: [],
    };
    const { executionArn } = await cloud.sfn.send(
      new StartExecutionCommand({ stateMachineArn: cloud.stateMachineArn('deprovision'), name: 'uncaught', input: JSON.stringify(input) }),
    );
    const description = await waitForExecution(cloud.sfn, executionArn as string);
    const history = await executionHistory(cloud.sfn, executionArn as string);

    expect(description).toMatchObject({ status: 'FAILED', error: 'TypeError' });
    expect(description.output).toBeUndefined();
    expect(failedAttempts(history)).toEqual(['TypeError']);
    expect(eventsOf(history, 'TaskStateEntered', 'SettleDisassociations')).toHaveLength(1);
    expect(eventsOf(history, 'MapStateEntered', 'RemoveDevices')).toEqual([]);
    expect(eventsOf(history, 'TaskStateEntered', 'SummarizeRequest')).toEqual([]);

    const response = await get({
      httpMethod: 'GET',
      pathParameters: { requestId: 'uncaught' },
      headers: {},
    } as unknown as APIGatewayProxyEvent);
    expect(response.statusCode).toBe(200);
    const status = JSON.parse(response.body);
    expect(status).toMatchObject({
      requestId: 'uncaught',
      executionArn,
      executionStatus: 'FAILED',
      outcome: 'UNKNOWN',
      error: { code: 'TypeError' },
    });
    expect(status.summary).toBeUndefined();
    // The Lambda error's message only: its stack trace (the service's file paths) stays out of the answer.
    expect(status.error.message).toMatch(/not a function|not iterable/);
    expect(status.error.message).not.toMatch(/trace|\.ts:\d+/);
  });
});
