import { describe, expect, it } from 'vitest';
import { expectOneOutcomeEach, reportAsSummary, threeBatchManifest, useFleetHarness } from '../../support/fleet-runs.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';
import { checkProvisioning } from '../reliability/invariants.ts';

const CORES = ['core-1', 'core-2', 'core-3'] as const;

describe('a fleet run in a throttling storm', () => {
  const cloud = useServiceCloud({ coreDevices: [...CORES], keyAlgorithm: 'ec-p256' });
  const fleet = useFleetHarness(cloud);

  it('provisions every device once through 40% throttling of every IoT, Greengrass, DynamoDB, S3 and EventBridge call its tasks make; the invariants hold', async () => {
    const { csv, request } = await threeBatchManifest(cloud, 'storm', CORES);
    const manifest = await fleet.upload('staged/storm.csv', csv);
    const before = cloud.cloud.admin.state();
    // Not Step Functions' own API, which this test and the API handlers poll with the SDK's three tries.
    const stormy = [
      'RegisterThing',
      'DescribeThing',
      'AttachThingPrincipal',
      'ListThingPrincipals',
      'BatchAssociateClientDeviceWithCoreDevice',
      'GetItem',
      'PutItem',
      'DeleteItem',
      'TransactWriteItems',
      'GetObject',
      'PutObject',
      'PutEvents',
    ];
    cloud.cloud.admin.configureFaults({ throttle: Object.fromEntries(stormy.map((operation) => [operation, 0.4])) });

    const { status, error, cause, output } = await fleet.run('storm', manifest);
    expect({ status, error, cause }).toEqual({ status: 'SUCCEEDED', error: undefined, cause: undefined });
    expect(output).toMatchObject({
      outcome: 'SUCCEEDED',
      totals: { batches: 3, batchesFailed: 0, devices: 450, succeeded: 450, failed: 0, notStarted: 0 },
    });
    const report = await fleet.report('storm');
    expectOneOutcomeEach(report, request);
    expect(checkProvisioning(request, reportAsSummary(report), before, cloud.cloud.admin.state())).toEqual([]);
    const metrics = cloud.cloud.admin.metrics();
    for (const operation of ['RegisterThing', 'BatchAssociateClientDeviceWithCoreDevice', 'TransactWriteItems', 'GetObject', 'PutObject']) {
      expect(metrics[operation]?.throttled, operation).toBeGreaterThan(0);
    }
    expect(await fleet.completions()).toEqual([expect.objectContaining({ fleetRunId: 'storm', outcome: 'SUCCEEDED' })]);
  }, 600_000);
});
