import { DeleteThingCommand, DetachThingPrincipalCommand, IoTClient, ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeviceRecord, DeviceTaskInput } from '../../../functions/domain/records.ts';
import { untilRolledBack } from '../../support/task-fixtures.ts';

type Handler = (input: unknown) => Promise<unknown>;

/** The metric lines (CloudWatch embedded metric format) a handler printed while it ran. */
async function publishedMetrics(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const printed: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    write.mockRestore();
  }
  return printed
    .flatMap((text) => text.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Each device count is published once per request, by SummarizeRequest, per workflow. */
describe('request metrics', () => {
  const iot = mockClient(IoTClient);
  let summarize: Handler;
  let rollBack: Handler;

  beforeAll(async () => {
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'task', awsRequestId: 'req' } as never;
    const [summarizeModule, rollBackModule] = await Promise.all([
      import('../../../functions/summarize-request.ts'),
      import('../../../functions/roll-back-device.ts'),
    ]);
    summarize = (input) => summarizeModule.handler(input as never, context);
    rollBack = (input) => rollBackModule.handler(input as never, context);
  });
  afterEach(() => iot.reset());

  const certificate = `arn:aws:iot:us-east-1:000000000000:cert/${'c'.repeat(64)}`;
  const device = (thingName: string, status: DeviceRecord['status'], rolledBack = false): DeviceRecord => ({
    thingName,
    coreDeviceThingName: 'core-a',
    status,
    ...(rolledBack && { rollback: { detachedPrincipals: [certificate], thingDeleted: true, certificateDeleted: false } }),
  });

  it('a rollback publishes nothing of its own: the request summary counts it once', async () => {
    iot.on(ListThingPrincipalsCommand).resolves({ principals: [certificate] });
    iot.on(DetachThingPrincipalCommand).resolves({});
    iot.on(DeleteThingCommand).resolves({});
    const input: Omit<DeviceTaskInput, 'templateBody' | 'templateParameters' | 'thingPrincipalType'> = {
      spec: { thingName: 'sensor-1', coreDeviceThingName: 'core-a', principal: certificate },
      device: {
        ...device('sensor-1', 'PENDING'),
        thingArn: 'arn:aws:iot:us-east-1:000000000000:thing/sensor-1',
        prior: { thingExisted: false, principalAttached: false },
      },
      templateIssuesCertificate: false,
      rollbackOnFailure: true,
      correlation: { requestId: 'r', executionName: 'r' },
      failure: { Error: 'InvalidRequestException', Cause: 'refused' },
    };

    let outcome: unknown;
    const lines = await publishedMetrics(async () => {
      outcome = await untilRolledBack(rollBack, input);
    });

    expect(outcome).toMatchObject({ outcome: { status: 'FAILED', rollback: { thingDeleted: true } }, pending: [] });
    expect(lines).toEqual([]);
  });

  it('publishes the counts of each request under its workflow', async () => {
    const provision = await publishedMetrics(() =>
      summarize({
        workflow: 'provision',
        requestId: 'p',
        devices: [device('a', 'PROVISIONED')],
        rollbacks: [device('b', 'FAILED', true), device('c', 'FAILED', true)],
      }),
    );
    const deprovision = await publishedMetrics(() =>
      summarize({ workflow: 'deprovision', requestId: 'd', devices: [device('a', 'DEPROVISIONED'), device('b', 'FAILED')] }),
    );

    expect(provision).toEqual([
      expect.objectContaining({
        workflow: 'provision',
        DevicesSucceeded: 1,
        DevicesFailed: 2,
        DevicesRolledBack: 2,
        RollbacksIncomplete: 0,
      }),
    ]);
    expect(deprovision).toEqual([
      expect.objectContaining({
        workflow: 'deprovision',
        DevicesSucceeded: 1,
        DevicesFailed: 1,
        DevicesRolledBack: 0,
        RollbacksIncomplete: 0,
      }),
    ]);
    const dimensions = (line: Record<string, unknown>) =>
      (line._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]?.Dimensions;
    expect(dimensions(provision[0]!)).toEqual([expect.arrayContaining(['workflow'])]);
    expect(dimensions(deprovision[0]!)).toEqual([expect.arrayContaining(['workflow'])]);
  });

  it('counts in RollbacksIncomplete each device whose rollback could not finish, partly undone or not', async () => {
    const incomplete = { step: 'rollback' as const, code: 'ThrottlingException', message: 'Rate exceeded' };
    const lines = await publishedMetrics(() =>
      summarize({
        workflow: 'provision',
        requestId: 'i',
        devices: [
          device('a', 'PROVISIONED'),
          {
            ...device('b', 'FAILED', true),
            rollback: { detachedPrincipals: [certificate], thingDeleted: false, certificateDeleted: false, incomplete },
          },
          { ...device('c', 'FAILED'), rollback: { detachedPrincipals: [], thingDeleted: false, certificateDeleted: false, incomplete } },
          device('d', 'FAILED', true),
        ],
      }),
    );

    expect(lines).toEqual([
      expect.objectContaining({ workflow: 'provision', DevicesFailed: 3, DevicesRolledBack: 2, RollbacksIncomplete: 2 }),
    ]);
  });

  it('counts in DevicesNotStarted the devices a cancel left not started, and none of them as succeeded or failed', async () => {
    const cancelled = await publishedMetrics(() =>
      summarize({
        workflow: 'deprovision',
        requestId: 'c',
        devices: [device('a', 'DEPROVISIONED'), device('b', 'NOT_STARTED'), device('c', 'NOT_STARTED')],
      }),
    );
    const uncancelled = await publishedMetrics(() =>
      summarize({ workflow: 'provision', requestId: 'u', devices: [device('a', 'PROVISIONED')] }),
    );

    expect(cancelled).toEqual([
      expect.objectContaining({ workflow: 'deprovision', DevicesSucceeded: 1, DevicesFailed: 0, DevicesNotStarted: 2 }),
    ]);
    expect(uncancelled).toEqual([expect.objectContaining({ workflow: 'provision', DevicesSucceeded: 1, DevicesNotStarted: 0 })]);
  });
});

describe('rejected events', () => {
  it('an EventBridge detail nested 5,000 levels deep is rejected as invalid and counted in RejectedEvents, not thrown', async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const { handler } = await import('../../../functions/handle-provisioning-event.ts');
    const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'trigger', awsRequestId: 'req' } as never;
    let detail: unknown = 'sensor-1';
    for (let depth = 0; depth < 5_000; depth++) detail = { devices: [detail] };

    let outcome: unknown;
    const lines = await publishedMetrics(async () => {
      outcome = await handler({ id: 'poison', source: 'iot-provisioning-workflow', detail } as never, context);
    });

    expect(outcome).toEqual({ kind: 'invalid', errors: [{ field: '(body)', reason: expect.stringContaining('levels deep') }] });
    expect(lines).toEqual([expect.objectContaining({ RejectedEvents: 1 })]);
  });
});
