import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { useServiceCloud } from '../../support/service-cloud.ts';

/**
 * A start that took effect but answered an error. Its own file, in real time: the association calls are throttled
 * so that the execution is sure to be running while the test looks at it, whatever the machine's load.
 */
describe('an ambiguous start', () => {
  const cloud = useServiceCloud({ timeScale: 1 });

  it('keeps every lease for the execution that runs, whatever the start answered', async () => {
    const fleet = await Promise.all(
      Array.from({ length: 5 }, async (_, index) => ({
        thingName: `unanswered-${index}`,
        principal: await cloud.createCertificate(),
        coreDeviceThingName: 'core-a',
      })),
    );
    const names = fleet.map(({ thingName }) => thingName);
    cloud.cloud.admin.configureFaults({
      failAfterCommit: { StartExecution: 1 },
      throttle: { BatchAssociateClientDeviceWithCoreDevice: 1 },
    });
    // An error, or the execution a retry of the SDK found: both are answers a client can get to a start that took effect.
    await cloud.submit('provision', { requestId: 'unanswered', devices: fleet }).catch((error: Error) => error);
    cloud.cloud.admin.configureFaults({ failAfterCommit: { StartExecution: 0 } });

    const [execution] =
      (await cloud.sfn.send(new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArn('provision') }))).executions ?? [];
    expect(execution?.status).toBe('RUNNING');
    expect(await cloud.leaseTableKeys()).toEqual(names);
    expect(
      await cloud.submit('deprovision', {
        requestId: 'unanswered-overlap',
        coreDeviceThingName: 'core-a',
        devices: names.map((thingName) => ({ thingName })),
      }),
    ).toMatchObject({
      kind: 'held',
      heldDevices: names.map((thingName) => ({ thingName, heldBy: { workflow: 'provision', requestId: 'unanswered' } })),
    });

    cloud.cloud.admin.configureFaults({ throttle: { BatchAssociateClientDeviceWithCoreDevice: 0 } });
    expect((await cloud.completion(execution?.executionArn as string, { timeoutMs: 90_000 })).summary.counts.succeeded).toBe(5);
    expect(await cloud.leaseTableKeys()).toEqual([]);
  }, 120_000);
});
