import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlannedDevice } from '../../../functions/domain/fleet-manifest.ts';
import { fleetRunKeys } from '../../../functions/domain/fleet-run.ts';
import { MAX_LISTED_PROBLEMS, validateFleetManifest } from '../../../functions/validate-manifest.ts';
import { useFleetHarness } from '../../support/fleet-runs.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';

const DEVICES = 100_000;
const CORE_DEVICES = 1_000;

/** Row `index`'s device: its core device taken in a scattered order, so that the run has to regroup them all. */
const coreOf = (index: number) => `core-${String((index * 7_919) % CORE_DEVICES).padStart(4, '0')}`;
const certificateArn = (index: number) => `arn:aws:iot:us-east-1:000000000000:cert/${index.toString(16).padStart(64, '0')}`;

/**
 * ValidateManifest on a manifest far larger than the workflow tests' (100,000 rows made here), read from the local
 * cloud's S3 through the real function: what it writes holds every device once, grouped by core device, and an
 * invalid manifest's problems are capped and counted.
 */
describe('validateManifest on a 100,000-device manifest', () => {
  const cloud = useServiceCloud();
  const fleet = useFleetHarness(cloud);
  const input = (fleetRunId: string, manifest: string) => ({ fleetRunId, action: 'provision' as const, manifest, options: {} });
  // As `aws s3 cp` puts a large file: in parts (one PutObject may carry 16 MiB to the local cloud).
  const upload = async (key: string, body: string) => {
    await new Upload({ client: fleet.s3, params: { Bucket: fleet.bucket, Key: key, Body: body } }).done();
    return `s3://${fleet.bucket}/${key}`;
  };
  const read = async (key: string) =>
    await (await fleet.s3.send(new GetObjectCommand({ Bucket: fleet.bucket, Key: key }))).Body!.transformToString();

  let csv = '';
  beforeAll(() => {
    const rows = Array.from({ length: DEVICES }, (_, index) => `large-${index},${certificateArn(index)},${coreOf(index)}`);
    csv = ['thingName,principal,coreDeviceThingName', ...rows].join('\n');
  });
  afterAll(() => {
    csv = '';
  });

  it('writes each device once, ordered by core device and then manifest order, in an object of several upload parts', async () => {
    const validated = await validateFleetManifest(input('large-valid', await upload('staged/large.csv', csv)));

    expect(validated).toMatchObject({
      deviceCount: DEVICES,
      coreDeviceCount: CORE_DEVICES,
      devicesKey: fleetRunKeys('large-valid').devices,
    });
    // A multipart object's ETag ends in its part count.
    expect((await fleet.s3.send(new HeadObjectCommand({ Bucket: fleet.bucket, Key: validated.devicesKey }))).ETag).toMatch(/-[2-9]"$/);
    const devices = (await read(validated.devicesKey))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as PlannedDevice);
    expect(devices).toHaveLength(DEVICES);
    expect(new Set(devices.map(({ index }) => index)).size).toBe(DEVICES);
    const outOfOrder = devices.findIndex((device, position) => {
      const previous = devices[position - 1];
      if (previous === undefined) return false;
      const [core, previousCore] = [device.device.coreDeviceThingName!, previous.device.coreDeviceThingName!];
      return core < previousCore || (core === previousCore && device.index < previous.index);
    });
    expect(outOfOrder).toBe(-1);
    expect(devices.find(({ index }) => index === 12_345)).toEqual({
      index: 12_345,
      line: 12_347,
      where: 'line 12347',
      device: { thingName: 'large-12345', principal: certificateArn(12_345), coreDeviceThingName: coreOf(12_345) },
    });
  });

  it(`lists the first ${MAX_LISTED_PROBLEMS} problems of a manifest wrong throughout, with their lines, and counts them all`, async () => {
    // Every thing name twice: each row of the second half duplicates one of the first.
    const duplicated = `${csv}\n${csv.slice(csv.indexOf('\n') + 1)}`;
    const failure = validateFleetManifest(input('large-invalid', await upload('staged/large-invalid.csv', duplicated)));

    await expect(failure).rejects.toMatchObject({
      name: 'InvalidManifest',
      message: expect.stringContaining(`${DEVICES * 2} problems; no device was touched`),
    });
    const problems = JSON.parse(await read(fleetRunKeys('large-invalid').problems)) as {
      problemCount: number;
      listed: number;
      problems: { where: string; field?: string; reason: string }[];
    };
    expect(problems.problemCount).toBe(DEVICES * 2);
    expect(problems.listed).toBe(MAX_LISTED_PROBLEMS);
    expect(problems.problems).toHaveLength(MAX_LISTED_PROBLEMS);
    expect(problems.problems[0]).toEqual({ where: `line ${DEVICES + 2}`, field: 'thingName', reason: 'duplicates line 2 ("large-0")' });
  });
});
