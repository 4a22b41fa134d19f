import { randomBytes } from 'node:crypto';
import { basename, extname } from 'node:path';
import { DEPROVISIONING, type FleetRunStatus, type FleetWorkflow, PROVISIONING } from '../functions/contract.ts';
import { type ApiFailure, type PollSchedule, pollUntilEnded } from './api-client.ts';
import { type CliOptions, DEFAULT_API_URL, type FollowOptions, requestFieldsOf } from './arguments.ts';
import { createFleetRunApi, type FleetRunApi } from './fleet-run-api.ts';
import { type CliEnvironment, EXIT_CODES, loadManifest, resolveReportPrefix, signingFor } from './inputs.ts';
import { type FleetRunProgressReporter, startFleetRunProgress } from './progress.ts';
import { formatFleetRunSummary, reportPaths } from './report.ts';

/** A fleet run's counts move per batch: a status every few seconds keeps the bar moving and costs the API little. */
const FLEET_RUN_POLL: PollSchedule = { initialMs: 1_000, maxMs: 3_000 };

/** The service reads a manifest by its extension, which loadManifest has checked. */
const CONTENT_TYPES: Record<string, string> = { '.csv': 'text/csv', '.json': 'application/json' };

/** The fleet run's own error for a manifest it found invalid: nothing was touched, as with a manifest the CLI refuses. */
const INVALID_MANIFEST = 'InvalidManifest';

/**
 * `--server`: validates the manifest here (a bad row stops the run before anything is sent, as client-side), uploads
 * it through a presigned URL, starts a fleet run of it, follows the run and downloads its report.
 */
export async function runOnServer(options: CliOptions, environment: CliEnvironment): Promise<number> {
  const { stderr, interrupt } = environment;
  const { manifest, bytes, templateBody } = await loadManifest(options);
  const reportPrefix = await resolveReportPrefix(options.reportPrefix, options.workflow, [
    options.manifestPath,
    options.overrides.templateFile,
  ]);
  const api = createFleetRunApi({
    apiUrl: options.apiUrl,
    ...(await signingFor(options, environment.env)),
    backoff: environment.pollBackoff,
    signal: interrupt,
  });
  const fleetRunId = newFleetRunId(options.manifestPath);
  const follow = followCommand({
    fleetRunId,
    apiUrl: options.apiUrl,
    region: options.region,
    reportPrefix: options.reportPrefix === options.workflow.defaultReportPrefix ? undefined : options.reportPrefix,
  });

  let location: string;
  try {
    const upload = await api.createUpload(basename(options.manifestPath), CONTENT_TYPES[extname(options.manifestPath).toLowerCase()]!);
    if (!upload.ok) return notStarted(environment, options.apiUrl, 'POST /fleet-uploads', upload.failure);
    const put = await api.upload(upload.value, bytes);
    if (!put.ok) return notStarted(environment, options.apiUrl, `the upload of ${options.manifestPath}`, put.failure);
    location = upload.value.manifest;
  } catch (error) {
    if (!interrupt?.aborted) throw error;
    stderr.write('iot-provision: interrupted before the fleet run was started: nothing was started.\n');
    return EXIT_CODES.interrupted;
  }

  try {
    const body = { fleetRunId, manifest: location, action: options.workflow.name, ...requestFieldsOf({}, options.overrides, templateBody) };
    const started = await api.start(body);
    if (!started.ok) return notStarted(environment, options.apiUrl, 'POST /fleet-runs', started.failure);
    stderr.write(
      `iot-provision: fleet run ${fleetRunId} of ${manifest.devices.length} devices started (${started.value.executionArn}). Ctrl-C stops only this command; the run goes on, and this follows it again: ${follow}\n`,
    );
  } catch (error) {
    if (!interrupt?.aborted) throw error;
    stderr.write(
      `iot-provision: interrupted while the fleet run was being started. If it started, it goes on in the service; follow it with:\n  ${follow}\n`,
    );
    return EXIT_CODES.interrupted;
  }
  return watchFleetRun(fleetRunId, {
    api,
    ...environment,
    apiUrl: options.apiUrl,
    follow,
    knownDevices: manifest.devices.length,
    reportPrefix: async () => reportPrefix,
    startProgress: (total, alreadyDone) => startFleetRunProgress(stderr, total, alreadyDone),
  });
}

/** `--follow <fleetRunId>`: the same watch of a run started elsewhere (by another command, or by an upload under manifests/). */
export async function followOnServer(options: FollowOptions, environment: CliEnvironment): Promise<number> {
  const api = createFleetRunApi({
    apiUrl: options.apiUrl,
    ...(await signingFor(options, environment.env)),
    backoff: environment.pollBackoff,
    signal: environment.interrupt,
  });
  return watchFleetRun(options.fleetRunId, {
    api,
    ...environment,
    // The run is known to exist: a 404 is an id this API does not have, not one it does not show yet.
    pollBackoff: { ...(environment.pollBackoff ?? FLEET_RUN_POLL), notVisibleGraceMs: 0 },
    apiUrl: options.apiUrl,
    follow: followCommand(options),
    reportPrefix: (workflow) => resolveReportPrefix(options.reportPrefix ?? workflow.defaultReportPrefix, workflow, []),
    startProgress: (total, alreadyDone) => startFleetRunProgress(environment.stderr, total, alreadyDone),
  });
}

export interface WatchDependencies extends Pick<CliEnvironment, 'stdout' | 'stderr' | 'pollBackoff' | 'interrupt'> {
  api: FleetRunApi;
  apiUrl: URL;
  /** The command that follows this run, printed whenever this one stops before the run's end. */
  follow: string;
  /** The manifest's device count, when this command uploaded it. */
  knownDevices?: number;
  /** Where the report goes, which may depend on the run's action (its default prefix). */
  reportPrefix(workflow: FleetWorkflow): Promise<string>;
  /** Started once the run counts devices; `alreadyDone` were done before this watch and count for no rate. */
  startProgress(totalDevices: number, alreadyDone: number): FleetRunProgressReporter;
}

/** What the progress shows of a run's counts: devices a cancel left untouched are not done, as the report's final line says. */
function settledDevices(devices: NonNullable<FleetRunStatus['devices']>): { total: number; done: number; failed: number } {
  return { total: devices.total, done: devices.done - devices.notStarted, failed: devices.failed };
}

/**
 * Follows a fleet run to its end with a progress that moves with its device counts, then downloads its report to
 * where the client-side mode writes its own. Ctrl-C stops only the watch: the run goes on in the service.
 */
export async function watchFleetRun(fleetRunId: string, dependencies: WatchDependencies): Promise<number> {
  const { api, stdout, stderr, interrupt, follow } = dependencies;
  let progress: FleetRunProgressReporter | undefined;
  const interrupted = () => {
    progress?.stop(false);
    stderr.write(
      `iot-provision: interrupted. The fleet run ${fleetRunId} goes on in the service: Ctrl-C stops only this command. Follow it, and download its report once it ends, with:\n  ${follow}\n`,
    );
    return EXIT_CODES.interrupted;
  };

  let result;
  try {
    result = await pollUntilEnded(
      () => api.status(fleetRunId),
      dependencies.pollBackoff ?? FLEET_RUN_POLL,
      interrupt,
      ({ devices }) => {
        if (devices === undefined) return;
        const counts = settledDevices(devices);
        progress ??= dependencies.startProgress(Math.max(counts.total, dependencies.knownDevices ?? 0), counts.done);
        progress.update(counts);
      },
    );
  } catch (error) {
    if (interrupt?.aborted) return interrupted();
    throw error;
  }
  if (!result.ok) {
    progress?.stop(false);
    return statusUnknown(dependencies, fleetRunId, result.failure);
  }
  const status = result.value;
  const { totals } = status;
  if (status.devices) progress?.update(settledDevices(status.devices));
  progress?.stop(totals !== undefined);

  if (status.error) {
    const { code, message, problems } = status.error;
    stderr.write(
      `iot-provision: fleet run ${fleetRunId} ended ${status.executionStatus}: ${code}: ${message}${problems ? ` (its problems, each with its line: ${problems})` : ''}. No report was written.\n`,
    );
    return code === INVALID_MANIFEST ? EXIT_CODES.unusable : EXIT_CODES.someFailed;
  }
  if (!status.report || !totals) {
    stderr.write(`iot-provision: fleet run ${fleetRunId} ended ${status.executionStatus} without a report. No report was written.\n`);
    return EXIT_CODES.someFailed;
  }
  const workflow = status.action === DEPROVISIONING.name ? DEPROVISIONING : PROVISIONING;
  const paths = reportPaths(await dependencies.reportPrefix(workflow));
  let written = false;
  try {
    written = await downloadReport(dependencies, status, paths);
  } catch (error) {
    if (interrupt?.aborted) return interrupted();
    throw error;
  }
  stdout.write(`${formatFleetRunSummary(status, written ? paths : status.report, workflow)}\n`);
  // Without its report a run has not told every device's outcome, whatever the outcomes were.
  return status.outcome === 'SUCCEEDED' && written ? EXIT_CODES.allDone : EXIT_CODES.someFailed;
}

async function downloadReport(
  { api, stderr }: WatchDependencies,
  status: FleetRunStatus,
  paths: { json: string; csv: string },
): Promise<boolean> {
  const urls = status.reportUrls;
  if (urls === undefined) {
    stderr.write(
      `iot-provision: the API answers no download URLs for the report of fleet run ${status.fleetRunId}: it is at ${status.report!.json} and ${status.report!.csv}.\n`,
    );
    return false;
  }
  const downloads = await Promise.all([api.download(urls.json, paths.json), api.download(urls.csv, paths.csv)]);
  const failures = downloads.flatMap((download) => (download.ok ? [] : [`${download.failure.code}: ${download.failure.message}`]));
  if (failures.length === 0) return true;
  stderr.write(
    `iot-provision: could not download the report (${paths.json}, ${paths.csv}): ${failures.join('; ')}. It is at ${status.report!.json} and ${status.report!.csv}.\n`,
  );
  return false;
}

/** The API refused, or never answered, a call made before the fleet run started: nothing was started. */
function notStarted({ stderr }: CliEnvironment, apiUrl: URL, call: string, failure: ApiFailure): number {
  if (failure.code === 'Unreachable') {
    stderr.write(`iot-provision: the API at ${apiUrl.href} cannot be reached (${failure.message}). Nothing was started.\n`);
    return EXIT_CODES.unreachable;
  }
  const fieldErrors = (failure.fieldErrors ?? []).map(({ field, reason }) => `; ${field}: ${reason}`).join('');
  const noFleetStack =
    failure.code === 'Forbidden' || failure.code === 'NotFound'
      ? ' Without the fleet stack, run the same command without --server: the CLI then sends the requests itself.'
      : '';
  stderr.write(
    `iot-provision: ${sentence(`${call} failed with ${failure.code}: ${failure.message}${fieldErrors}`)} Nothing was started.${noFleetStack}\n`,
  );
  return failure.code === 'InvalidRequest' ? EXIT_CODES.unusable : EXIT_CODES.someFailed;
}

/** The run's status could not be read: it may still be running, so the message says how to pick it up again. */
function statusUnknown({ stderr, apiUrl, follow }: WatchDependencies, fleetRunId: string, failure: ApiFailure): number {
  if (failure.code === 'Unreachable') {
    stderr.write(
      `iot-provision: the API at ${apiUrl.href} cannot be reached (${failure.message}). The fleet run ${fleetRunId} goes on in the service; once the API answers, follow it with:\n  ${follow}\n`,
    );
    return EXIT_CODES.unreachable;
  }
  if (failure.code === 'NotFound') {
    stderr.write(`iot-provision: the API at ${apiUrl.href} has no fleet run ${fleetRunId} (${failure.message}).\n`);
    return EXIT_CODES.unusable;
  }
  stderr.write(
    `iot-provision: could not read the status of fleet run ${fleetRunId} (${failure.code}: ${failure.message}). It may still be running; follow it with:\n  ${follow}\n`,
  );
  return EXIT_CODES.someFailed;
}

/** Ends the text with a full stop unless it ends a sentence already (a message may end in one, or in a question). */
function sentence(text: string): string {
  return /[.?!]$/.test(text) ? text : `${text}.`;
}

/** Named after the manifest, so that a list of runs reads; the random part makes each command its own run. */
function newFleetRunId(manifestPath: string): string {
  const stem = basename(manifestPath, extname(manifestPath))
    .replaceAll(/[^A-Za-z0-9_-]+/g, '-')
    .slice(0, 40)
    .replaceAll(/^-+|-+$/g, '');
  return `${stem || 'fleet'}-${randomBytes(4).toString('hex')}`;
}

/** The exact command that follows the run, with the flags that make it reach the same API and write the same report. */
export function followCommand({ fleetRunId, apiUrl, region, reportPrefix }: FollowOptions): string {
  const args = ['npx', 'iot-provision', '--follow', fleetRunId];
  if (apiUrl.href !== new URL(DEFAULT_API_URL).href) args.push('--api-url', apiUrl.href);
  if (region !== undefined) args.push('--region', region);
  if (reportPrefix !== undefined) args.push('--report', reportPrefix);
  return args.map(shellWord).join(' ');
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
