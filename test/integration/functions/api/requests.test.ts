import { readFileSync } from 'node:fs';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import type { SubmitOutcome } from '../../../../functions/api/requests.ts';
import { holdRegisterThing } from '../../../support/held-runs.ts';
import { useServiceCloud } from '../../../support/service-cloud.ts';
import { untilHistory, waitForExecution } from '../../../support/step-functions.ts';

/**
 * The request use cases of api/requests.ts (submit, status, list, the leases a request takes) against the local
 * cloud, for what the trigger and workflow tests leave open: a running request's progress, a lease whose request
 * has ended, two different requests racing under one requestId. In a fifth of real time, so that a quota holds a
 * request running until the test lifts it.
 */
const cloud = useServiceCloud({ timeScale: 0.2, coreDevices: ['core-1'] });

const requests = () => import('../../../../functions/api/requests.ts');
const leaseOf = async (thingName: string) =>
  (
    await cloud.dynamodb.send(
      new GetItemCommand({ TableName: process.env.DEVICE_LEASES_TABLE, Key: { thingName: { S: thingName } }, ConsistentRead: true }),
    )
  ).Item;
const device = async (thingName: string) => ({ thingName, principal: await cloud.createCertificate() });

describe('request kinds', () => {
  it('name the API collection, the state machine variable, and the device Map state of their state machine definition', async () => {
    // Loaded afresh, so that what the module builds when it loads is this test's to check.
    vi.resetModules();
    const { deprovisioning, provisioning, requestKinds, stateMachineArn } = await requests();
    const mapStates = (file: string) => JSON.stringify(parse(readFileSync(`statemachines/${file}`, 'utf8')));
    for (const [kind, collection, workflow, variable, definition] of [
      [provisioning, 'provisioning-requests', 'provision', 'PROVISION_STATE_MACHINE_ARN', 'provision.asl.yaml'],
      [deprovisioning, 'deprovisioning-requests', 'deprovision', 'DEPROVISION_STATE_MACHINE_ARN', 'deprovision.asl.yaml'],
    ] as const) {
      expect(kind).toMatchObject({ collection, workflow, stateMachineArnVariable: variable });
      expect(requestKinds[workflow]).toBe(kind);
      expect(mapStates(definition)).toContain(`"${kind.deviceMap}":{"Type":"Map"`);
      expect(stateMachineArn(kind)).toBe(process.env[variable]);
      const arn = process.env[variable];
      delete process.env[variable];
      try {
        expect(() => stateMachineArn(kind)).toThrow(`${variable} is not set: the function is misconfigured`);
      } finally {
        process.env[variable] = arn;
      }
    }
    expect(provisioning.deviceMap).not.toBe(deprovisioning.deviceMap);
    const { toDeprovisioningExecutionInput } = await import('../../../../functions/domain/execution-input.ts');
    const request = deprovisioning.schema.parse({ coreDeviceThingName: 'core-1', devices: [{ thingName: 'sensor-1' }] });
    expect(await deprovisioning.toExecutionInput(request, 'r-1', 'arn')).toEqual(toDeprovisioningExecutionInput(request, 'r-1'));
  });
});

describe('a running request', () => {
  it('answers its progress, the devices finished so far, and no stop date; the list shows it running beside a finished one', async () => {
    const { listOf, provisioning, statusOf } = await requests();
    const finished = await cloud.provision({ requestId: 'finished', coreDeviceThingName: 'core-1', devices: [await device('finished-1')] });
    const devices = [];
    for (let index = 0; index < 6; index++) devices.push(await device(`slow-${index}`));
    // One RegisterThing call goes through, the others are refused until the hold is lifted: one device finishes, and
    // the request runs on while it is read.
    const release = holdRegisterThing(cloud);
    const submitted = await cloud.submit('provision', { requestId: 'slow', coreDeviceThingName: 'core-1', devices });
    const executionArn = (submitted as { executionArn: string }).executionArn;
    await untilHistory(cloud.sfn, executionArn, (events) => events.some((event) => event.type === 'MapIterationSucceeded'));

    const status = await statusOf(provisioning, 'slow');
    expect(status).toMatchObject({
      requestId: 'slow',
      executionArn,
      executionStatus: 'RUNNING',
      outcome: 'IN_PROGRESS',
      startDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    // The device whose RegisterThing call went through, and no other: the rest are held.
    expect(status?.progress).toEqual({ requested: 6, finished: 1 });
    expect(Object.keys(status ?? {}).sort()).toEqual(['executionArn', 'executionStatus', 'outcome', 'progress', 'requestId', 'startDate']);

    const { executions } = await listOf(provisioning, {});
    expect(executions.map(({ name, status: executionStatus, stopDate }) => [name, executionStatus, stopDate instanceof Date])).toEqual([
      ['slow', 'RUNNING', false],
      ['finished', 'SUCCEEDED', true],
    ]);
    const ended = await statusOf(provisioning, 'finished');
    expect(ended).toMatchObject({
      executionStatus: 'SUCCEEDED',
      outcome: 'SUCCEEDED',
      stopDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      summary: finished.summary,
    });
    expect(ended?.progress).toBeUndefined();
    expect(ended?.unsettled).toBeUndefined();
    release();
    await cloud.completion(executionArn);
  });
});

describe('device leases of a request', () => {
  it('takes over a lease whose request succeeded (its release lost), and is refused one that a request not started yet holds', async () => {
    const { deprovisioning, submitRequest } = await requests();
    const first = await cloud.provision({ requestId: 'first', coreDeviceThingName: 'core-1', devices: [await device('kept-1')] });
    const { input } = await cloud.sfn.send(new DescribeExecutionCommand({ executionArn: first.executionArn }));
    const now = Math.floor(Date.now() / 1000);
    const lease = (thingName: string, owner: string, requestId: string) =>
      cloud.dynamodb.send(
        new PutItemCommand({
          TableName: process.env.DEVICE_LEASES_TABLE,
          Item: {
            thingName: { S: thingName },
            leaseOwner: { S: owner },
            workflow: { S: 'provision' },
            requestId: { S: requestId },
            acquiredAt: { N: String(now) },
            leaseExpiresAt: { N: String(now + 3_600) },
          },
        }),
      );
    await lease('kept-1', JSON.parse(input!).leaseOwner as string, 'first');
    await lease('starting-1', 'provision/starting/0000000000000000', 'starting');

    expect(
      await submitRequest(deprovisioning, { requestId: 'takes-over', coreDeviceThingName: 'core-1', devices: [{ thingName: 'kept-1' }] }),
    ).toMatchObject({ kind: 'started' });
    expect(
      await submitRequest(deprovisioning, { requestId: 'refused', coreDeviceThingName: 'core-1', devices: [{ thingName: 'starting-1' }] }),
    ).toEqual({
      kind: 'held',
      requestId: 'refused',
      heldDevices: [{ thingName: 'starting-1', heldBy: { workflow: 'provision', requestId: 'starting' } }],
    });
  });

  it('two different requests under one requestId at once: one starts, the other is a conflict and holds no lease', async () => {
    const { provisioning, submitRequest } = await requests();
    // Both devices first, so that neither request has started when the other looks for its execution.
    const devices = [await device('contested-a'), await device('contested-b')];
    const [a, b] = await Promise.all(
      devices.map((contested) =>
        submitRequest(provisioning, { requestId: 'contested', coreDeviceThingName: 'core-1', devices: [contested] }),
      ),
    );
    expect([a?.kind, b?.kind].sort()).toEqual(['conflict', 'started']);
    const loser = a?.kind === 'conflict' ? 'contested-a' : 'contested-b';
    expect(await leaseOf(loser)).toBeUndefined();
  });

  it('a conflict whose leases cannot be released still answers the conflict, and warns naming the error', async () => {
    const { provisioning, submitRequest } = await requests();
    const { logger } = await import('../../../../functions/lambda/powertools.ts');
    const devices = [await device('unreleased-a'), await device('unreleased-b')];
    // The two requests' leases are written; the loser's release, the next transaction, is throttled until the SDK gives up.
    cloud.cloud.admin.configureFaults({ quotas: true, rateLimits: { TransactWriteItems: { rate: 0.001, burst: 2 } } });
    const warn = vi.spyOn(logger, 'warn');
    let outcomes: SubmitOutcome[] = [];
    try {
      outcomes = await Promise.all(
        devices.map((contested) =>
          submitRequest(provisioning, { requestId: 'unreleased', coreDeviceThingName: 'core-1', devices: [contested] }),
        ),
      );
      expect(outcomes.map((outcome) => outcome.kind).sort()).toEqual(['conflict', 'started']);
      expect(warn).toHaveBeenCalledWith(
        'could not release the device leases of a request that did not start; another request takes them over',
        { errorName: 'ProvisionedThroughputExceededException' },
      );
    } finally {
      warn.mockRestore();
      cloud.cloud.admin.configureFaults({ quotas: false });
    }
    const started = outcomes.find((outcome) => outcome.kind === 'started') as { executionArn: string };
    await cloud.completion(started.executionArn);
  });

  it('a finished request sent again answers its execution, another body under its requestId a conflict, and neither takes a lease', async () => {
    const { provisioning, submitRequest } = await requests();
    const request = { requestId: 'again', coreDeviceThingName: 'core-1', devices: [await device('again-1')] };
    const { executionArn } = await cloud.provision(request);
    expect(await leaseOf('again-1')).toBeUndefined();
    expect(await submitRequest(provisioning, request)).toEqual({
      kind: 'started',
      requestId: 'again',
      executionArn,
      startDate: expect.any(Date),
    });
    expect(await leaseOf('again-1')).toBeUndefined();
    expect(await submitRequest(provisioning, { ...request, devices: [await device('again-2')] })).toEqual({
      kind: 'conflict',
      requestId: 'again',
      executionArn,
    });
    expect(await leaseOf('again-2')).toBeUndefined();
  });

  it('takes over a lease whose request failed over a minute ago, and is refused one whose request failed just now', async () => {
    const { deprovisioning, submitRequest } = await requests();
    // An execution without a lease owner in its input fails at its first state: a failed holder.
    const failed = await cloud.sfn.send(
      new StartExecutionCommand({ stateMachineArn: process.env.PROVISION_STATE_MACHINE_ARN, name: 'failed', input: '{}' }),
    );
    expect((await waitForExecution(cloud.sfn, failed.executionArn as string)).status).toBe('FAILED');
    const now = Math.floor(Date.now() / 1000);
    await cloud.dynamodb.send(
      new PutItemCommand({
        TableName: process.env.DEVICE_LEASES_TABLE,
        Item: {
          thingName: { S: 'failed-1' },
          leaseOwner: { S: 'provision/failed/0000000000000000' },
          workflow: { S: 'provision' },
          requestId: { S: 'failed' },
          acquiredAt: { N: String(now) },
          leaseExpiresAt: { N: String(now + 3_600) },
        },
      }),
    );
    const request = (requestId: string) => ({ requestId, coreDeviceThingName: 'core-1', devices: [{ thingName: 'failed-1' }] });
    expect(await submitRequest(deprovisioning, request('too-soon'))).toMatchObject({ kind: 'held' });
    // Two minutes on, by this process's clock: a task of the failed execution can no longer be running.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 120_000 });
    try {
      expect(await submitRequest(deprovisioning, request('later'))).toMatchObject({ kind: 'started' });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a refused request', () => {
  it("is every reason of a body that is not an object, and only the key's for a valid body with a malformed Idempotency-Key; nothing is leased", async () => {
    const { provisioning, submitRequest } = await requests();
    expect(await submitRequest(provisioning, null)).toEqual({
      kind: 'invalid',
      errors: [{ field: '(body)', reason: 'must be an object' }],
    });
    const request = { coreDeviceThingName: 'core-1', devices: [await device('keyed-1')] };
    expect(await submitRequest(provisioning, request, { idempotencyKey: 'bad key!' })).toEqual({
      kind: 'invalid',
      errors: [{ field: 'headers.Idempotency-Key', reason: 'must be 1-80 characters of a-z, A-Z, 0-9, underscore or hyphen' }],
    });
    expect(await leaseOf('keyed-1')).toBeUndefined();
  });
});

describe('cancelling a request', () => {
  it('refuses a running execution whose input names no lease owner: not one this service started', async () => {
    const { cancelRequest, provisioning } = await requests();
    const devices = [];
    for (let index = 0; index < 4; index++) devices.push(await device(`foreign-${index}`));
    const input = await provisioning.toExecutionInput(
      provisioning.schema.parse({ coreDeviceThingName: 'core-1', devices }),
      'foreign',
      process.env.PROVISION_STATE_MACHINE_ARN as string,
    );
    // Held at RegisterThing, it runs on while it is cancelled; a lease owner that is no string is none.
    const release = holdRegisterThing(cloud);
    const { executionArn } = await cloud.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: process.env.PROVISION_STATE_MACHINE_ARN,
        name: 'foreign',
        input: JSON.stringify({ ...(input as object), requestDigest: 'digest', leaseOwner: 42 }),
      }),
    );
    await expect(cancelRequest(provisioning, 'foreign')).rejects.toThrow(
      `execution ${executionArn} has no leaseOwner in its input: it cannot be cancelled`,
    );
    expect((await cloud.sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe('RUNNING');
    release();
    await cloud.completion(executionArn as string);
  });
});
