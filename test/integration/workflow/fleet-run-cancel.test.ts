import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { batchExecutionArn, expectOneOutcomeEach, reportAsSummary, threeBatchManifest, useFleetHarness } from '../../support/fleet-runs.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';
import { untilHistory } from '../../support/step-functions.ts';
import { checkProvisioning } from '../reliability/invariants.ts';

const CORES = ['core-1', 'core-2', 'core-3'] as const;

describe('cancelling a fleet run', () => {
  // Real time: a throttled call is retried for about a minute, far longer than the test takes to cancel and look.
  const cloud = useServiceCloud({ timeScale: 1, coreDevices: [...CORES], keyAlgorithm: 'ec-p256' });
  const fleet = useFleetHarness(cloud);

  it('cancelled mid-run: the batch under way finishes or leaves its devices NOT_STARTED, later batches start nothing, each device has one outcome, nothing is left half-done or leased, things that existed are untouched; GET (its devices not started counted), the report and the event say CANCELLED', async () => {
    const { csv, request } = await threeBatchManifest(cloud, 'cancel', CORES);
    // A bystander, and the manifest's last device, both provisioned before the run.
    const last = request.devices.at(-1)!;
    await cloud.provision({
      requestId: 'before-the-run',
      coreDeviceThingName: 'core-3',
      devices: [{ thingName: 'bystander', principal: await cloud.createCertificate() }, last],
    });
    const manifest = await fleet.upload('staged/cancel.csv', csv);
    const before = cloud.cloud.admin.state();
    // The quota paces the first batch's devices, so that the cancel lands among them (the other 197 take 40 s at least);
    // the throttle holds the batch in association, and so the run, until the test has looked at the cancelled run.
    cloud.cloud.admin.configureFaults({
      quotas: true,
      rateLimits: { RegisterThing: { rate: 5, burst: 1 } },
      throttle: { BatchAssociateClientDeviceWithCoreDevice: 1 },
    });

    const accepted = await fleet.post({ fleetRunId: 'fleet-cancel', manifest });
    expect(accepted.statusCode).toBe(202);
    const firstBatch = batchExecutionArn(cloud, 'fleet-cancel-0');
    await untilHistory(cloud.sfn, firstBatch, (events) => events.filter((event) => event.type === 'MapIterationSucceeded').length >= 3);

    const cancelled = await fleet.cancel('fleet-cancel');
    expect(cancelled).toEqual({
      statusCode: 202,
      body: {
        fleetRunId: 'fleet-cancel',
        executionArn: accepted.body.executionArn,
        statusUrl: 'https://api.test/fleet-runs/fleet-cancel',
        batchesCancelled: ['fleet-cancel-0'],
      },
    });
    // The first batch cannot associate its devices, and two batches are to come: the run is still running, until the throttle is lifted.
    expect(await fleet.get('fleet-cancel')).toMatchObject({ statusCode: 200, body: { executionStatus: 'RUNNING', cancelled: true } });
    expect((await fleet.cancel('fleet-cancel')).statusCode).toBe(202);
    cloud.cloud.admin.configureFaults({ throttle: {} });

    const { status, output } = await fleet.waitForEnd(accepted.body.executionArn);
    expect(status).toBe('SUCCEEDED');
    expect(output).toMatchObject({ outcome: 'CANCELLED', totals: { batches: 3, batchesFailed: 0, devices: 450, failed: 0 } });
    const report = await fleet.report('fleet-cancel');
    expectOneOutcomeEach(report, request);
    const statusOf = (from: number, to: number) => new Set(report.devices.slice(from, to).map((device) => device.status));
    // The first batch: some provisioned before the cancel, the rest not started; the later batches never started.
    expect(statusOf(0, 200)).toEqual(new Set(['PROVISIONED', 'NOT_STARTED']));
    expect(statusOf(200, 450)).toEqual(new Set(['NOT_STARTED']));
    const { executions } = await cloud.sfn.send(new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArn('provision') }));
    expect(executions?.map((execution) => execution.name).sort()).toEqual(['before-the-run', 'fleet-cancel-0']);

    const after = cloud.cloud.admin.state();
    expect(checkProvisioning(request, reportAsSummary(report), before, after)).toEqual([]);
    // No lease outlives the run: only the two cancel markers (the run's and its first batch's) and the run's counter remain.
    const leases = after.tables?.find((table) => table.tableName.endsWith('device-leases'))?.items ?? [];
    const keys = leases.map((item) => String((item as { thingName?: { S?: string } }).thingName?.S));
    expect(keys.filter((key) => key.startsWith('cancel#'))).toHaveLength(2);
    expect(keys.filter((key) => !key.startsWith('cancel#'))).toEqual([expect.stringMatching(/^counts#fleet\/fleet-cancel\//)]);

    // The counter counted the devices the cancel left untouched, the batches that never started theirs included, as the report did.
    const { succeeded, failed, rolledBack, notStarted } = output!.totals;
    expect(notStarted).toBeGreaterThanOrEqual(250);
    expect(await fleet.counts(accepted.body.executionArn)).toEqual({ succeeded, failed, rolledBack, notStarted });
    expect(await fleet.get('fleet-cancel')).toMatchObject({
      statusCode: 200,
      body: {
        executionStatus: 'SUCCEEDED',
        outcome: 'CANCELLED',
        totals: output!.totals,
        devices: { total: 450, done: 450, succeeded, failed, rolledBack, notStarted, pending: 0 },
      },
    });
    expect(await fleet.completions()).toEqual([
      expect.objectContaining({ fleetRunId: 'fleet-cancel', outcome: 'CANCELLED', totals: output!.totals }),
    ]);
    expect(await fleet.cancel('fleet-cancel')).toMatchObject({
      statusCode: 409,
      body: { fleetRunId: 'fleet-cancel', executionStatus: 'SUCCEEDED' },
    });
    expect(await fleet.cancel('no-such-run')).toMatchObject({ statusCode: 404 });
    expect(await fleet.cancel('not a run id')).toMatchObject({ statusCode: 400, body: { errors: [{ field: 'path.fleetRunId' }] } });
  }, 600_000);
});
