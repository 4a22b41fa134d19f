import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApiServer, startApiServer } from '../../../local-cloud/apigateway/api-server.ts';
import { startTestServiceCloud, type TestServiceCloud } from '../../support/service-cloud.ts';
import { waitForExecution } from '../../support/step-functions.ts';

/**
 * Duplicates arrive together in practice (a client retrying on a timeout, EventBridge delivering at
 * least once), so they are sent concurrently here, through the same HTTP API and Lambda runtime that
 * `npm start` serves. What they started is read with ListExecutions, whatever its name: a duplicate
 * that slipped through under another name counts too.
 */
describe('idempotency under concurrent duplicates', () => {
  let cloud: TestServiceCloud;
  let api: RunningApiServer;
  beforeAll(async () => {
    cloud = await startTestServiceCloud();
    api = await startApiServer({ project: cloud.project, lambdas: cloud.lambdas, port: 0 });
  });
  afterAll(async () => {
    await api.close();
    await cloud.close();
  });

  const DUPLICATES = 8;

  async function executionArns(): Promise<Set<string>> {
    const { executions = [] } = await cloud.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArn('provision'), maxResults: 1000 }),
    );
    return new Set(executions.map((execution) => execution.executionArn as string));
  }

  /** Runs `send` and answers the executions it started. */
  async function startedBy(send: () => Promise<unknown>): Promise<string[]> {
    const before = await executionArns();
    await send();
    return [...(await executionArns())].filter((arn) => !before.has(arn));
  }

  async function requestBody(requestId: string | undefined, thingName: string) {
    return {
      ...(requestId && { requestId }),
      coreDeviceThingName: 'core-a',
      devices: [{ thingName, principal: await cloud.createCertificate() }],
    };
  }

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${api.url}/provisioning-requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    }).then(async (response) => ({
      status: response.status,
      body: (await response.json()) as { executionArn?: string; message?: string },
    }));

  it.each([
    ['the requestId in the body', 'body-key', {}],
    ['the Idempotency-Key header', undefined, { 'Idempotency-Key': 'header-key' }],
  ] as const)('concurrent POSTs keyed by %s start exactly one execution', async (_, requestId, headers) => {
    const key = requestId ?? headers['Idempotency-Key']!;
    const body = await requestBody(requestId, `${key}-device`);
    let answers: Awaited<ReturnType<typeof post>>[] = [];
    const started = await startedBy(async () => {
      answers = await Promise.all(Array.from({ length: DUPLICATES }, () => post(body, headers)));
    });

    expect(answers.map((answer) => answer.status)).toEqual(Array(DUPLICATES).fill(202));
    expect(started).toHaveLength(1);
    const [arn] = started;
    expect(arn).toMatch(new RegExp(`:${key}$`));
    expect(new Set(answers.map((answer) => answer.body.executionArn))).toEqual(new Set([arn]));

    // The same key with another body is another request: refused, and nothing new starts.
    let conflicting: Awaited<ReturnType<typeof post>> | undefined;
    const startedByConflict = await startedBy(async () => {
      conflicting = await post({ ...body, devices: [{ ...body.devices[0]!, thingName: `${key}-other` }] }, headers);
    });
    expect(conflicting?.status).toBe(409);
    expect(conflicting?.body.message).toContain(key);
    expect(startedByConflict).toEqual([]);
    await waitForExecution(cloud.sfn, arn!);
  });

  it('concurrent deliveries of one EventBridge event, and of a re-put copy with a new event id, start exactly one execution', async () => {
    const event = {
      version: '0',
      id: 'b1c2d3e4-0000-4000-8000-000000000001',
      'detail-type': 'Provisioning Requested',
      source: 'iot-provisioning-workflow',
      account: '000000000000',
      time: '2026-11-23T10:00:00Z',
      region: cloud.project.region,
      resources: [],
      detail: await requestBody(undefined, 'event-device'),
    };
    // EventBridge delivers at least once (same id); a producer retrying PutEvents sends a new id.
    const deliveries = Array.from({ length: DUPLICATES }, (_, index) =>
      index % 2 === 0 ? event : { ...event, id: `b1c2d3e4-0000-4000-8000-00000000000${index}` },
    );
    let outcomes: { kind: string; executionArn: string }[] = [];
    const started = await startedBy(async () => {
      outcomes = (await Promise.all(
        deliveries.map((delivery) => cloud.lambdas.invoke('handleProvisioningEvent', delivery)),
      )) as typeof outcomes;
    });

    expect(outcomes.map((outcome) => outcome.kind)).toEqual(Array(DUPLICATES).fill('started'));
    expect(started).toHaveLength(1);
    expect(new Set(outcomes.map((outcome) => outcome.executionArn))).toEqual(new Set(started));
    await waitForExecution(cloud.sfn, started[0]!);
  });
});
