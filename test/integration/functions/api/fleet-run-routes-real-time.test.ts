import { describe, expect, it } from 'vitest';
import { batchExecutionArn, useFleetHarness } from '../../../support/fleet-runs.ts';
import { failedAttempts, useServiceCloud } from '../../../support/service-cloud.ts';
import { untilHistory } from '../../../support/step-functions.ts';

/**
 * The fleet-run cancel route (api/fleet-run-routes.ts, api/fleet-runs.ts) on a run that runs. A file of its own, since a
 * test file's handlers reach one local cloud, in real time: a throttled RegisterThing is retried for about a minute, so
 * that the requests are sure to be running while the test cancels and looks, whatever the machine's load; the test then
 * lifts the throttle.
 */
describe('fleet-run routes, in real time', () => {
  const cloud = useServiceCloud({ timeScale: 1, coreDevices: ['core-1'], keyAlgorithm: 'ec-p256' });
  const fleet = useFleetHarness(cloud);

  it('a cancel while the run runs answers 202 with the requests it cancelled as its batches (named as its batches are, started after it), leaving alone requests named otherwise or started before the run; GET says cancelled until the run ends', async () => {
    const manifest = await fleet.uploadDevices('staged/slow.csv', 'slow', 6, 'core-1');
    const bystander = async (requestId: string) => {
      const submitted = await cloud.submit('provision', {
        requestId,
        coreDeviceThingName: 'core-1',
        devices: [
          { thingName: `${requestId}-device`, principal: await cloud.createCertificate() },
          { thingName: `${requestId}-other`, principal: await cloud.createCertificate() },
        ],
      });
      expect(submitted.kind).toBe('started');
      return (submitted as { executionArn: string }).executionArn;
    };
    // Every device stops at RegisterThing until the test lifts the throttle: the batch and the bystanders keep running.
    // Paced as one request among others running, the batch works on one device at a time: five wait, for the cancel.
    cloud.cloud.admin.configureFaults({ throttle: { RegisterThing: 1 } });
    // Named like a batch of the run, but started before it: someone else's.
    const before = [await bystander('slow-run-7')];
    await new Promise((resolve) => setTimeout(resolve, 5));
    const accepted = await fleet.post({ fleetRunId: 'slow-run', manifest });
    // Named almost like a batch: not digits after the run's id and a hyphen.
    const after = [await bystander('slow-run-1x'), await bystander('slow-run-x1'), await bystander('elsewhere7')];
    // Named as a batch of the run is named, and started after it: cancelled as one of its batches.
    const namedAsBatch = await bystander('slow-run-12');
    const batch = batchExecutionArn(cloud, 'slow-run-0');
    // The batch is under way: its first device's RegisterThing has been refused, and is retried.
    await untilHistory(cloud.sfn, batch, (events) => failedAttempts(events).includes('ThrottlingException'));
    const cancelled = await fleet.cancel('slow-run');
    expect(cancelled).toEqual({
      statusCode: 202,
      body: {
        fleetRunId: 'slow-run',
        executionArn: accepted.body.executionArn,
        statusUrl: 'https://api.test/fleet-runs/slow-run',
        batchesCancelled: expect.any(Array),
      },
    });
    expect([...cancelled.body.batchesCancelled].sort()).toEqual(['slow-run-0', 'slow-run-12']);
    expect(await fleet.get('slow-run')).toMatchObject({ statusCode: 200, body: { executionStatus: 'RUNNING', cancelled: true } });
    cloud.cloud.admin.configureFaults({ throttle: {} });
    const { output } = await fleet.waitForEnd(accepted.body.executionArn);
    expect(output).toMatchObject({ outcome: 'CANCELLED' });
    // Ended, its outcome says it was cancelled; the marker no longer does.
    const ended = await fleet.get('slow-run');
    expect(ended.body).toMatchObject({ executionStatus: 'SUCCEEDED', outcome: 'CANCELLED' });
    expect(ended.body.cancelled).toBeUndefined();
    // The requests left alone ran to their end uncancelled.
    for (const executionArn of [...before, ...after]) expect((await cloud.completion(executionArn)).summary.status).not.toBe('CANCELLED');
    await cloud.completion(namedAsBatch);
    // A cancel marker for the run and its batches, none for the others.
    const leases = cloud.cloud.admin.state().tables?.find((table) => table.tableName.endsWith('device-leases'))?.items ?? [];
    const markers = leases
      .map((item) => String((item as { thingName?: { S?: string } }).thingName?.S))
      .filter((key) => key.startsWith('cancel#'));
    expect(markers.sort()).toEqual([
      expect.stringMatching(/^cancel#fleet\/slow-run\//),
      expect.stringMatching(/^cancel#provision\/slow-run-0\//),
      expect.stringMatching(/^cancel#provision\/slow-run-12\//),
    ]);
  });
});
