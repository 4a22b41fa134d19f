import { taskHandler } from './lambda/middleware.ts';
import { readJson, readText, writeText } from './aws/fleet-objects.ts';
import type { PlannedDevice } from './domain/fleet-manifest.ts';
import { deviceReportCsv } from './domain/fleet-report.ts';
import { buildFleetReport, type FleetAction, type FleetReportLocation, fleetRunKeys, type MapRunResults } from './domain/fleet-run.ts';
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

/**
 * The fleet run's report, the CLI's columns, from the Map Run's result files and the run's device list: every
 * device of the manifest exactly once (fleet-run.ts buildFleetReport).
 */
export async function writeFleetReport(input: WriteFleetReportInput): Promise<FleetReportLocation> {
  const { Bucket: bucket, Key: manifestKey } = input.run.ResultWriterDetails;
  const { ResultFiles: files } = await readJson<ResultManifest>(bucket, manifestKey);
  const entries = async <T>(list: { Key: string }[]) => (await Promise.all(list.map(({ Key }) => readJson<T[]>(bucket, Key)))).flat();
  const results: MapRunResults = {
    succeeded: await entries(files.SUCCEEDED),
    failed: await entries(files.FAILED),
    pending: await entries(files.PENDING),
  };
  const jsonl = await readText(input.validated.bucket, input.validated.devicesKey);
  const devices = jsonl.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as PlannedDevice);

  const report = buildFleetReport(
    { fleetRunId: input.fleetRunId, action: input.action, manifest: input.manifest, startedAt: new Date(input.startedAt), finishedAt: new Date(), devices },
    results,
  );
  const keys = fleetRunKeys(input.fleetRunId);
  await writeText(input.validated.bucket, keys.reportJson, `${JSON.stringify(report, null, 2)}\n`, 'application/json');
  await writeText(input.validated.bucket, keys.reportCsv, deviceReportCsv(report.devices), 'text/csv');
  return {
    fleetRunId: input.fleetRunId,
    action: input.action,
    outcome: report.outcome,
    totals: report.totals,
    report: { json: `s3://${input.validated.bucket}/${keys.reportJson}`, csv: `s3://${input.validated.bucket}/${keys.reportCsv}` },
  };
}

export const handler = taskHandler('write-report', writeFleetReport);
