import { describe, expect, it } from 'vitest';
import { devicesSoFar } from '../../../functions/domain/fleet-run-counts.ts';
import { type FleetRunStatus, fleetRunStatusSchema } from '../../../functions/domain/fleet-run-schemas.ts';
import { expectOneOutcomeEach, threeBatchManifest, useFleetHarness } from '../../support/fleet-runs.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';

/** Batches of the three-batch manifest (0-199, 200-399, 400-449): the counts grow by whole batches. */
const SUMS_OF_WHOLE_BATCHES = [50, 200, 250, 400];

describe('following a fleet run', () => {
  // A RegisterThing quota keeps the run going long after its first batch has been counted.
  const cloud = useServiceCloud({ timeScale: 0.2, coreDevices: ['core-1', 'core-2'], keyAlgorithm: 'ec-p256' });
  const fleet = useFleetHarness(cloud);

  /** GET /fleet-runs/{fleetRunId} until `reached` holds or the run has ended; the answer is held to the OpenAPI schema. */
  async function statusWhen(fleetRunId: string, reached: (status: FleetRunStatus) => boolean): Promise<FleetRunStatus> {
    for (;;) {
      const { statusCode, body } = await fleet.get(fleetRunId);
      expect(statusCode).toBe(200);
      const status = fleetRunStatusSchema.parse(body);
      if (reached(status) || status.executionStatus !== 'RUNNING') return status;
      // ListMapRuns' and DescribeMapRun's quotas are 1 a second (with bursts), as a client polling status would respect.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }

  it("GET counts devices by outcome per batch while the run goes (succeeded, failed, rolled back, pending), ends with the report's totals, and a batch counted again counts nothing", async () => {
    // The third core device does not exist: its devices (300-449) fail to associate and are rolled back.
    const { csv, request } = await threeBatchManifest(cloud, 'progress', ['core-1', 'core-2', 'core-absent']);
    const manifest = await fleet.upload('staged/progress.csv', csv);
    cloud.cloud.admin.configureFaults({ quotas: true, rateLimits: { RegisterThing: { rate: 10, burst: 1 } } });

    const accepted = await fleet.post({ fleetRunId: 'fleet-progress', manifest });
    expect(accepted.statusCode).toBe(202);
    const executionArn = accepted.body.executionArn as string;

    const first = await statusWhen('fleet-progress', (status) => (status.devices?.done ?? 0) > 0);
    expect(first.executionStatus).toBe('RUNNING');
    const counted = first.devices!;
    expect(SUMS_OF_WHOLE_BATCHES).toContain(counted.done);
    expect(counted).toMatchObject({ total: 450, pending: 450 - counted.done });
    expect(counted.succeeded + counted.failed + counted.notStarted).toBe(counted.done);
    expect(counted.rolledBack).toBeLessThanOrEqual(counted.failed);

    const { status, output } = await fleet.waitForEnd(executionArn);
    expect(status).toBe('SUCCEEDED');
    const totals = output!.totals;
    expect(totals).toMatchObject({ devices: 450, succeeded: 300, failed: 150, rolledBack: 150, notStarted: 0 });
    expectOneOutcomeEach(await fleet.report('fleet-progress'), request);

    // The counter, which GET reads while the run goes, reached the report's totals on its own; GET then answers the totals.
    const { succeeded, failed, rolledBack, notStarted } = totals;
    expect(await fleet.counts(executionArn)).toEqual({ succeeded, failed, rolledBack, notStarted });
    const last = await statusWhen('fleet-progress', () => true);
    expect(last.devices).toEqual(devicesSoFar(450, totals));
    expect(last.devices).toMatchObject({ done: 450, pending: 0 });

    // A retried CountBatch (the first batch again, as it ended) adds nothing.
    await fleet.countAgain(executionArn, { position: 0, devices: 200 }, { failure: { Error: 'DevicesHeld', Cause: 'a retry' } });
    expect(await fleet.counts(executionArn)).toEqual({ succeeded, failed, rolledBack, notStarted });
  }, 600_000);
});
