import { taskHandler } from './lambda/middleware.ts';
import { fleetBucket } from './aws/fleet-bucket.ts';
import { readText, writeText } from './aws/fleet-objects.ts';
import { manifestFormatOf, type ManifestProblem, parseManifest, validateManifest, withRequestOverrides } from './domain/fleet-manifest.ts';
import { FLEET_WORKFLOWS, INVALID_MANIFEST, type FleetAction, fleetBatchConcurrency, fleetRunKeys, manifestProblemsReport, normalizedManifest, parseS3Uri } from './domain/fleet-run.ts';
import type { RequestOptions } from './domain/fleet-workflow.ts';
import { quotasFromEnvironment } from './domain/pacing.ts';

export interface ValidateManifestInput {
  fleetRunId: string;
  action: FleetAction;
  /** `s3://<bucket>/<key>` of a CSV or JSON manifest (docs/fleet-cli.md, Manifests). */
  manifest: string;
  /** Request-level fields over the manifest's own, as the CLI's flags are. */
  options: Record<string, unknown>;
}

export interface ValidatedFleet {
  bucket: string;
  /** The run's devices, validated and ordered by core device, one JSON line each: what the Map reads. */
  devicesKey: string;
  resultsPrefix: string;
  deviceCount: number;
  coreDeviceCount: number;
  maxConcurrency: number;
  /** The request-level fields every batch's request carries, defaults resolved. */
  options: RequestOptions;
}

export class InvalidManifestError extends Error {
  override name = INVALID_MANIFEST;
}

/**
 * The fleet run's first step: the whole manifest is read and validated as the CLI validates it before any device
 * is touched. An invalid one leaves its problems in `<run>/problems.json` and fails the run with InvalidManifest,
 * which nothing retries or catches.
 */
export async function validateFleetManifest(input: ValidateManifestInput): Promise<ValidatedFleet> {
  const bucket = fleetBucket();
  const keys = fleetRunKeys(input.fleetRunId);
  const problems = async (found: ManifestProblem[]): Promise<never> => {
    const { document, summary } = manifestProblemsReport(input.manifest, found);
    await writeText(bucket, keys.problems, `${JSON.stringify(document, null, 2)}\n`, 'application/json');
    throw new InvalidManifestError(`${summary}: s3://${bucket}/${keys.problems}`);
  };

  const location = parseS3Uri(input.manifest);
  const format = manifestFormatOf(input.manifest);
  if (!location || !format) return problems([{ where: 'manifest', reason: 'must be s3://<bucket>/<key> ending in .csv or .json' }]);
  const text = await readText(location.bucket, location.key).catch((error: Error) => {
    if (error.name === 'NoSuchKey') return undefined;
    throw error;
  });
  if (text === undefined) return problems([{ where: 'manifest', reason: 'does not exist' }]);
  const parsed = parseManifest(text, format);
  if (!parsed.ok) return problems(parsed.problems);
  const validated = validateManifest(parsed.manifest, withRequestOverrides(parsed.manifest.defaults, input.options), FLEET_WORKFLOWS[input.action]);
  if (!validated.ok) return problems(validated.problems);

  const { options, devices } = validated.value;
  const { jsonl, coreDevices } = normalizedManifest(devices, options);
  await writeText(bucket, keys.devices, jsonl, 'application/x-ndjson');
  return {
    bucket,
    devicesKey: keys.devices,
    resultsPrefix: keys.results,
    deviceCount: devices.length,
    coreDeviceCount: coreDevices,
    maxConcurrency: fleetBatchConcurrency(quotasFromEnvironment(process.env)),
    options,
  };
}

export const handler = taskHandler('validate-manifest', validateFleetManifest);
