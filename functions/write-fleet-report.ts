import { readObjectJson, readObjectLines, writeObjectStream } from './aws/fleet-streams.ts';
import { readObjectArrayItems } from './aws/json-array-stream.ts';
import type { PlannedDevice } from './domain/fleet-manifest.ts';
import { type DeviceReportEntry, deviceReportCsv } from './domain/fleet-report.ts';
import {
  type FleetAction,
  type FleetReportHeader,
  type FleetReportLocation,
  FleetReportTally,
  fleetRunKeys,
  type MapRunResult,
} from './domain/fleet-run.ts';
import { ExternalSort } from './lambda/external-sort.ts';
import { taskHandler } from './lambda/middleware.ts';
import type { ValidatedFleet } from './validate-manifest.ts';

export interface WriteFleetReportInput {
  fleetRunId: string;
  action: FleetAction;
  manifest: string;
  /** The execution's start ($$.Execution.StartTime). */
  startedAt: string;
  validated: ValidatedFleet;
  /** The Map's output with a ResultWriter. */
  run: { MapRunArn: string; ResultWriterDetails: { Bucket: string; Key: string } };
}

interface ResultManifest {
  ResultFiles: Record<'SUCCEEDED' | 'FAILED' | 'PENDING', { Key: string }[]>;
}

const RESULT_FILES = { succeeded: 'SUCCEEDED', failed: 'FAILED', pending: 'PENDING' } as const;

/** Devices stringified into one CSV part: one call to csv-stringify per device would cost more than the rows. */
const CSV_ROWS_A_PART = 1_000;

/**
 * The fleet run's report, the CLI's columns, from the Map Run's result files and the run's device list: every
 * device of the manifest exactly once (fleet-run.ts FleetReportTally). Nothing is read or written whole: the result
 * files are parsed as they arrive, each device's line is sorted into manifest order in runs spilled to /tmp, and
 * both report files are uploaded as they are written.
 */
export async function writeFleetReport(input: WriteFleetReportInput): Promise<FleetReportLocation> {
  const { Bucket: resultsBucket, Key: manifestKey } = input.run.ResultWriterDetails;
  const { ResultFiles: files } = await readObjectJson<ResultManifest>(resultsBucket, manifestKey);
  const tally = new FleetReportTally(input.fleetRunId, input.action);
  await using sort = new ExternalSort<number>((left, right) => left - right);
  const add = (device: DeviceReportEntry) => sort.add(device.index, JSON.stringify(device));

  for (const [kind, name] of Object.entries(RESULT_FILES) as [MapRunResult['kind'], keyof typeof files][]) {
    for (const { Key } of files[name]) {
      for await (const entry of readObjectArrayItems<MapRunResult['entry']>(resultsBucket, Key)) {
        for (const device of tally.batch({ kind, entry } as MapRunResult)) await add(device);
      }
    }
  }
  const { bucket } = input.validated;
  for await (const line of readObjectLines(bucket, input.validated.devicesKey)) {
    if (line === '') continue;
    const planned = JSON.parse(line) as PlannedDevice;
    if (!tally.reported(planned.index)) await add(tally.missing(planned));
  }

  const header = tally.header({ manifest: input.manifest, startedAt: new Date(input.startedAt), finishedAt: new Date() });
  const keys = fleetRunKeys(input.fleetRunId);
  const devices = async function* () {
    for await (const { line } of sort.sorted()) yield JSON.parse(line) as DeviceReportEntry;
  };
  await writeObjectStream(bucket, keys.reportJson, reportJson(header, devices()), 'application/json');
  await writeObjectStream(bucket, keys.reportCsv, reportCsv(devices()), 'text/csv');
  return {
    fleetRunId: input.fleetRunId,
    action: input.action,
    outcome: header.outcome,
    totals: header.totals,
    report: { json: `s3://${bucket}/${keys.reportJson}`, csv: `s3://${bucket}/${keys.reportCsv}` },
  };
}

/** The text `JSON.stringify({...header, devices}, null, 2)` makes, a device at a time. */
async function* reportJson(header: FleetReportHeader, devices: AsyncIterable<DeviceReportEntry>): AsyncGenerator<string> {
  const empty = `${JSON.stringify({ ...header, devices: [] }, null, 2)}\n`;
  const devicesAt = empty.lastIndexOf('[]');
  yield empty.slice(0, devicesAt + 1);
  let separator = '\n    ';
  for await (const device of devices) {
    yield separator + JSON.stringify(device, null, 2).replaceAll('\n', '\n    ');
    separator = ',\n    ';
  }
  yield (separator === '\n    ' ? '' : '\n  ') + empty.slice(devicesAt + 1);
}

async function* reportCsv(devices: AsyncIterable<DeviceReportEntry>): AsyncGenerator<string> {
  let part: DeviceReportEntry[] = [];
  let header = true;
  for await (const device of devices) {
    part.push(device);
    if (part.length < CSV_ROWS_A_PART) continue;
    yield deviceReportCsv(part, { header });
    header = false;
    part = [];
  }
  if (part.length > 0 || header) yield deviceReportCsv(part, { header });
}

export const handler = taskHandler('write-report', writeFleetReport);
