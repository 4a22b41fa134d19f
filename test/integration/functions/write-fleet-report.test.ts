import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { describe, expect, it } from 'vitest';
import type { PlannedDevice } from '../../../functions/domain/fleet-manifest.ts';
import type { FleetReportDocument } from '../../../functions/domain/fleet-run.ts';
import { writeFleetReport } from '../../../functions/write-fleet-report.ts';
import { useFleetHarness } from '../../support/fleet-runs.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';

const DEVICES = 100_000;
const BATCH = 200;
const OPTIONS = { thingPrincipalType: 'EXCLUSIVE_THING', rollbackOnFailure: true };

/**
 * WriteFleetReport on result files far larger than the workflow tests' (100,000 devices, 500 batches, made here),
 * through the real function and the local cloud's S3: the report lines are sorted through /tmp in several runs and
 * both files go up in parts, and still every device appears once, in manifest order, with its batch's outcome.
 */
describe('writeFleetReport on 100,000 devices', () => {
  const cloud = useServiceCloud();
  const fleet = useFleetHarness(cloud);
  const put = (key: string, body: string) =>
    new Upload({ client: fleet.s3, params: { Bucket: fleet.bucket, Key: key, Body: body } }).done();
  const read = async (key: string) =>
    await (await fleet.s3.send(new GetObjectCommand({ Bucket: fleet.bucket, Key: key }))).Body!.transformToString();

  // Its own timeout: 100,000 devices' lines made, sorted through /tmp and read back take seconds even on a quiet machine.
  it('reports every device once in manifest order, from succeeded and pending batches and none, as JSON.stringify would write it', async () => {
    // The run's list as ValidateManifest writes it: by core device (scattered over the manifest), each line a device.
    const planned: PlannedDevice[] = Array.from({ length: DEVICES }, (_, index) => ({
      index,
      line: index + 2,
      where: `line ${index + 2}`,
      device: { thingName: `report-${index}`, coreDeviceThingName: `core-${(index * 7_919) % 300}`, parameters: { Site: 'x'.repeat(40) } },
    })).sort(
      (left, right) => left.device.coreDeviceThingName!.localeCompare(right.device.coreDeviceThingName!) || left.index - right.index,
    );
    const prefix = 'fleet-runs/large-report';
    await put(`${prefix}/devices.jsonl`, planned.map((device) => `${JSON.stringify(device)}\n`).join(''));

    const batches = Array.from({ length: DEVICES / BATCH }, (_, batch) => {
      const items = planned
        .slice(batch * BATCH, (batch + 1) * BATCH)
        .map((device, offset) => ({ position: batch * BATCH + offset, planned: device }));
      return {
        Input: JSON.stringify({
          BatchInput: { fleetRunId: 'large-report', action: 'provision', options: OPTIONS, requestDigest: 'd' },
          Items: items,
        }),
        items,
      };
    });
    const succeeded = (from: number, to: number) =>
      batches.slice(from, to).map(({ Input, items }) => {
        const devices = items.map(({ planned: { device } }) => ({
          thingName: device.thingName,
          coreDeviceThingName: device.coreDeviceThingName,
          status: 'PROVISIONED',
          thingArn: `arn:aws:iot:us-east-1:000000000000:thing/${device.thingName}`,
        }));
        const summary = {
          requestId: `large-report-${items[0]!.position}`,
          status: 'SUCCEEDED',
          counts: { requested: items.length, succeeded: items.length, failed: 0, rolledBack: 0 },
          devices,
        };
        return {
          Input,
          Output: JSON.stringify({ executionArn: `arn:${summary.requestId}`, status: 'SUCCEEDED', summary }),
          Status: 'SUCCEEDED',
        };
      });
    // Two SUCCEEDED files, one PENDING batch, and the last batch in no file at all.
    const files = {
      SUCCEEDED: [`${prefix}/results/SUCCEEDED_0.json`, `${prefix}/results/SUCCEEDED_1.json`],
      FAILED: [],
      PENDING: [`${prefix}/results/PENDING_0.json`],
    };
    await put(files.SUCCEEDED[0]!, JSON.stringify(succeeded(0, 250)));
    await put(files.SUCCEEDED[1]!, JSON.stringify(succeeded(250, batches.length - 2)));
    await put(files.PENDING[0]!, JSON.stringify([{ Input: batches.at(-2)!.Input }]));
    const resultFiles = Object.fromEntries(Object.entries(files).map(([kind, keys]) => [kind, keys.map((Key) => ({ Key }))]));
    await put(`${prefix}/results/manifest.json`, JSON.stringify({ ResultFiles: resultFiles }));

    const location = await writeFleetReport({
      fleetRunId: 'large-report',
      action: 'provision',
      manifest: `s3://${fleet.bucket}/staged/large.csv`,
      startedAt: new Date(Date.now() - 60_000).toISOString(),
      validated: {
        bucket: fleet.bucket,
        devicesKey: `${prefix}/devices.jsonl`,
        resultsPrefix: `${prefix}/results`,
        deviceCount: DEVICES,
        coreDeviceCount: 300,
        maxConcurrency: 2,
        options: OPTIONS as never,
      },
      run: { MapRunArn: 'arn:map-run', ResultWriterDetails: { Bucket: fleet.bucket, Key: `${prefix}/results/manifest.json` } },
    });

    expect(location).toMatchObject({
      outcome: 'PARTIAL',
      totals: { batches: 499, batchesNotStarted: 1, devices: DEVICES, succeeded: DEVICES - 2 * BATCH, failed: BATCH, notStarted: BATCH },
    });
    const text = await read(`${prefix}/report.json`);
    const report = JSON.parse(text) as FleetReportDocument;
    expect(text).toBe(`${JSON.stringify(report, null, 2)}\n`);
    expect(report.devices.map(({ index }) => index)).toEqual(Array.from({ length: DEVICES }, (_, index) => index));
    const last = new Set(batches.at(-1)!.items.map(({ planned: { index } }) => index));
    const pending = new Set(batches.at(-2)!.items.map(({ planned: { index } }) => index));
    const expectedStatus = (index: number) => (last.has(index) ? 'FAILED' : pending.has(index) ? 'NOT_STARTED' : 'PROVISIONED');
    expect(report.devices.filter((device) => device.status !== expectedStatus(device.index))).toEqual([]);
    expect(report.failures).toEqual({ 'status MissingOutcome': BATCH });

    const csv = (await read(`${prefix}/report.csv`)).trimEnd().split('\n');
    expect(csv).toHaveLength(DEVICES + 1);
    expect(csv[1]).toBe(
      `2,0,report-0,${expectedStatus(0)},core-0,${report.devices[0]!.requestId},false,arn:aws:iot:us-east-1:000000000000:thing/report-0,,,,,,`,
    );
    // A multipart object's ETag ends in its part count.
    for (const key of [`${prefix}/report.json`, `${prefix}/report.csv`]) {
      expect((await fleet.s3.send(new HeadObjectCommand({ Bucket: fleet.bucket, Key: key }))).ETag).toMatch(/-[2-9]"$/);
    }
  }, 120_000);
});
