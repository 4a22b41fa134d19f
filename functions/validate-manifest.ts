import { fleetBucket } from './aws/fleet-bucket.ts';
import { readObjectStream, writeObjectStream } from './aws/fleet-streams.ts';
import {
  csvManifestRows,
  type ManifestFormat,
  type ManifestProblem,
  type ManifestRow,
  ManifestUnreadable,
  ManifestValidator,
  manifestFormatOf,
  parseManifest,
  withRequestOverrides,
} from './domain/fleet-manifest.ts';
import {
  compareDeviceOrder,
  type DeviceOrder,
  deviceOrder,
  type FleetAction,
  fleetBatchConcurrency,
  fleetRunKeys,
  INVALID_MANIFEST,
  manifestProblemsReport,
  parseS3Uri,
} from './domain/fleet-run.ts';
import { FLEET_WORKFLOWS, type RequestOptions } from './domain/fleet-workflow.ts';
import { quotasFromEnvironment } from './domain/pacing.ts';
import { ExternalSort } from './lambda/external-sort.ts';
import { taskHandler } from './lambda/middleware.ts';

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

/** Problems listed in the problems file; past them, only counted (docs/fleet-runs.md). */
export const MAX_LISTED_PROBLEMS = 1_000;

/**
 * A JSON manifest is parsed whole (its line numbers come from a syntax tree of it, fleet-manifest.ts): this bounds
 * the memory it takes. A CSV manifest is read as it arrives, whatever its size (docs/fleet-runs.md).
 */
export const MAX_JSON_MANIFEST_BYTES = 64 * 1024 * 1024;

/**
 * The fleet run's first step: the whole manifest is read and validated as the CLI validates it before any device
 * is touched. An invalid one leaves its problems in `<run>/problems.json` and fails the run with InvalidManifest,
 * which nothing retries or catches. The manifest streams through: only each thing name (and exclusive principal)
 * is kept for the duplicate checks, and the devices are sorted by core device in runs spilled to /tmp.
 */
export async function validateFleetManifest(input: ValidateManifestInput): Promise<ValidatedFleet> {
  const bucket = fleetBucket();
  const keys = fleetRunKeys(input.fleetRunId);
  const problems = async (found: ManifestProblem[], count?: number): Promise<never> => {
    const { document, summary } = manifestProblemsReport(input.manifest, found, count);
    await writeObjectStream(bucket, keys.problems, `${JSON.stringify(document, null, 2)}\n`, 'application/json');
    throw new InvalidManifestError(`${summary}: s3://${bucket}/${keys.problems}`);
  };

  const location = parseS3Uri(input.manifest);
  const format = manifestFormatOf(input.manifest);
  if (!location || !format) return problems([{ where: 'manifest', reason: 'must be s3://<bucket>/<key> ending in .csv or .json' }]);
  const body = await readObjectStream(location.bucket, location.key).catch((error: Error) => {
    if (error.name === 'NoSuchKey') return undefined;
    throw error;
  });
  if (body === undefined) return problems([{ where: 'manifest', reason: 'does not exist' }]);
  const manifest = await manifestRows(body, format);
  if (!manifest.ok) return problems(manifest.problems);

  const validator = new ManifestValidator(
    format,
    withRequestOverrides(manifest.defaults, input.options),
    FLEET_WORKFLOWS[input.action],
    MAX_LISTED_PROBLEMS,
  );
  await using sort = new ExternalSort<DeviceOrder>(compareDeviceOrder);
  const coreDevices = new Set<string>();
  try {
    for await (const row of manifest.rows) {
      const planned = validator.check(row);
      // Once a row is invalid the run will not start: the rest is only validated.
      if (planned === undefined || !validator.valid) continue;
      const order = deviceOrder(planned, validator.options!);
      coreDevices.add(order[0]);
      await sort.add(order, JSON.stringify(planned));
    }
  } catch (error) {
    // Awaited: a rejection returned unawaited would wait unhandled while the sort's files are removed.
    if (error instanceof ManifestUnreadable) return await problems(error.problems);
    throw error;
  }
  const validation = validator.result();
  if (!validation.ok) return await problems(validation.problems, validation.problemCount);

  await writeObjectStream(bucket, keys.devices, jsonLines(sort.sorted()), 'application/x-ndjson');
  return {
    bucket,
    devicesKey: keys.devices,
    resultsPrefix: keys.results,
    deviceCount: validation.deviceCount,
    coreDeviceCount: coreDevices.size,
    maxConcurrency: fleetBatchConcurrency(quotasFromEnvironment(process.env)),
    options: validation.options,
  };
}

type ManifestRows =
  | { ok: true; defaults: Record<string, unknown>; rows: AsyncIterable<ManifestRow> | Iterable<ManifestRow> }
  | { ok: false; problems: ManifestProblem[] };

async function manifestRows(body: AsyncIterable<Uint8Array>, format: ManifestFormat): Promise<ManifestRows> {
  if (format === 'csv') return { ok: true, defaults: {}, rows: csvManifestRows(body) };
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.byteLength;
    if (bytes > MAX_JSON_MANIFEST_BYTES) {
      return {
        ok: false,
        problems: [
          {
            where: 'manifest',
            reason: `is over ${MAX_JSON_MANIFEST_BYTES / 1024 / 1024} MiB: a JSON manifest is read whole; give a larger fleet as CSV, which is read as it arrives`,
          },
        ],
      };
    }
    chunks.push(chunk);
  }
  const parsed = parseManifest(new TextDecoder().decode(Buffer.concat(chunks)), 'json');
  return parsed.ok ? { ok: true, defaults: parsed.manifest.defaults, rows: parsed.manifest.rows } : parsed;
}

async function* jsonLines(sorted: AsyncIterable<{ line: string }>): AsyncGenerator<string> {
  for await (const { line } of sorted) yield `${line}\n`;
}

export const handler = taskHandler('validate-manifest', validateFleetManifest);
