import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { coreDeviceOf, DEPROVISIONING, type FleetWorkflow, PROVISIONING } from '../functions/contract.ts';
import { createFleetApi } from './api-client.ts';
import { API_URL_VARIABLE, type CliOptions, HELP_TEXT, parseArguments } from './arguments.ts';
import { FleetApiUnreachable, FleetRunInterrupted, resumePlan, runFleet } from './fleet-run.ts';
import { type CliEnvironment, EXIT_CODES, loadManifest, resolveReportPrefix, signingFor, UnusableInput } from './inputs.ts';
import { type FleetPlan, planRequests, REQUEST_LIMITS } from './plan.ts';
import { startProgress } from './progress.ts';
import { buildReport, formatSummary, reportPaths, writeReport } from './report.ts';
import {
  createStateRecorder,
  type FleetRunRecord,
  loadRun,
  newRun,
  type ResumeState,
  saveRun,
  stateFilePath,
  undoneSince,
} from './resume.ts';
import { followOnServer, runOnServer } from './server-mode.ts';

export async function runCli(argv: readonly string[], environment: CliEnvironment): Promise<number> {
  const { stdout, stderr } = environment;
  const parsed = parseArguments(argv, environment.env);
  if (parsed.kind === 'help') {
    stdout.write(HELP_TEXT);
    return EXIT_CODES.allDone;
  }
  if (parsed.kind === 'usage-error') {
    stderr.write(`iot-provision: ${parsed.message}\nRun iot-provision --help for usage.\n`);
    return EXIT_CODES.unusable;
  }
  try {
    if (parsed.kind === 'follow') return await followOnServer(parsed.options, environment);
    return await (parsed.options.server ? runOnServer : run)(parsed.options, environment);
  } catch (error) {
    if (!(error instanceof UnusableInput)) throw error;
    stderr.write(`iot-provision: ${error.message}\n`);
    return EXIT_CODES.unusable;
  }
}

async function run(options: CliOptions, environment: CliEnvironment): Promise<number> {
  const { stdout, stderr } = environment;
  const startedAt = new Date();
  const { manifest } = await loadManifest(options);
  const reportPrefix = await resolveReportPrefix(options.reportPrefix, options.workflow, [
    options.manifestPath,
    options.overrides.templateFile,
  ]);
  const signing = options.dryRun ? undefined : await signingFor(options, environment.env);
  const statePath = stateFilePath(reportPrefix);
  const fleetRun = await openRun(statePath);
  const undone = await undoneByOtherWorkflow(reportPrefix, options.workflow, statePath, fleetRun.state);
  if (undone.size > 0) {
    const other = options.workflow === PROVISIONING ? DEPROVISIONING : PROVISIONING;
    stderr.write(
      `iot-provision: ${undone.size} of the devices ${statePath} records as ${options.workflow.done} were ${other.done} by a later run: ` +
        `they are sent again.\n`,
    );
  }
  const plan = planRequests(manifest, fleetRun.runId);
  if (options.dryRun) {
    stdout.write(describePlan(options.manifestPath, plan, fleetRun.state, undone));
    return EXIT_CODES.allDone;
  }

  const recorder = createStateRecorder(statePath, fleetRun, (error) => {
    stderr.write(
      `iot-provision: could not update ${statePath}: ${error.message}. The run goes on; a re-run sends the requests missing from it again, and the API answers with their existing executions.\n`,
    );
  });
  let result;
  try {
    result = await runFleet(plan, {
      api: createFleetApi({
        apiUrl: options.apiUrl,
        workflow: plan.workflow,
        ...signing,
        backoff: environment.pollBackoff,
        signal: environment.interrupt,
      }),
      state: fleetRun.state,
      undone,
      recordFinished: recorder.record,
      startProgress: (total, alreadyDone) => startProgress(stderr, total, alreadyDone),
      concurrency: options.concurrency,
      pollBackoff: environment.pollBackoff,
      interrupt: environment.interrupt,
    });
  } catch (error) {
    if (error instanceof FleetApiUnreachable) {
      await recorder.settled();
      stderr.write(
        `iot-provision: the API at ${options.apiUrl.href} cannot be reached (${error.message}). Start it (npm start) or point ` +
          `--api-url (or ${API_URL_VARIABLE}) at it, then run the same command again to resume. No report was written.\n`,
      );
      return EXIT_CODES.unreachable;
    }
    if (!(error instanceof FleetRunInterrupted)) throw error;
    await recorder.settled();
    stderr.write(
      `iot-provision: interrupted. Requests already sent go on running in the service. Run the same command again ` +
        `to resume: it skips what ${statePath} records as finished and waits for the rest. No report was written.\n`,
    );
    return EXIT_CODES.interrupted;
  }

  const context = {
    workflow: plan.workflow,
    manifest: options.manifestPath,
    apiUrl: options.apiUrl.href,
    startedAt,
    finishedAt: new Date(),
  };
  const report = buildReport(context, result);
  const paths = reportPaths(reportPrefix);
  const written = await writeReport(paths, report).then(
    () => true,
    (error: Error) => {
      stderr.write(`iot-provision: could not write the report (${paths.json}, ${paths.csv}): ${error.message}\n`);
      return false;
    },
  );
  stdout.write(`${formatSummary(report, paths, plan.workflow)}\n`);
  // Without its report a run has not told every device's outcome, whatever the outcomes were.
  return report.totals.failed > 0 || !written ? EXIT_CODES.someFailed : EXIT_CODES.allDone;
}

/**
 * The run the report prefix's state file records, or a new one, whose state file is written before anything
 * is sent (by a dry run too, so that the run which follows sends the requests it printed).
 */
async function openRun(statePath: string): Promise<FleetRunRecord> {
  const recorded = await loadRun(statePath).catch((error: Error) => {
    throw new UnusableInput(`cannot resume from ${statePath}: ${error.message}. Delete it to start over.`);
  });
  if (recorded) return recorded;
  const fleetRun = newRun();
  await saveRun(statePath, fleetRun).catch((error: Error) => {
    throw new UnusableInput(`cannot write ${statePath}, which a run needs in order to be resumed: ${error.message}`);
  });
  return fleetRun;
}

/**
 * Each workflow keeps its own state file, so a fleet provisioned, then deprovisioned, is still recorded as
 * provisioned in the first: resuming from it must not report as done what the service no longer holds. The other
 * workflow's records count when they came later: in this same state file (both runs given the same --report), or
 * in its state file under the default name beside this one, written after this one.
 */
async function undoneByOtherWorkflow(
  reportPrefix: string,
  workflow: FleetWorkflow,
  statePath: string,
  state: ResumeState,
): Promise<Set<string>> {
  const other = workflow === PROVISIONING ? DEPROVISIONING : PROVISIONING;
  if (state.size === 0) return new Set();
  let laterOtherRun: ResumeState | undefined;
  if (basename(reportPrefix) === basename(workflow.defaultReportPrefix)) {
    const otherStatePath = join(dirname(reportPrefix), `${basename(other.defaultReportPrefix)}.state.json`);
    const modified = (path: string) =>
      stat(path).then(
        (found) => found.mtimeMs,
        () => undefined,
      );
    const [mine, theirs] = await Promise.all([modified(statePath), modified(otherStatePath)]);
    if (mine !== undefined && theirs !== undefined && theirs > mine)
      laterOtherRun = (await loadRun(otherStatePath).catch(() => undefined))?.state;
  }
  return undoneSince(state, workflow, other, laterOtherRun);
}

function describePlan(manifestPath: string, plan: FleetPlan, state: ResumeState, undone: ReadonlySet<string>): string {
  const devices = plan.chunks.flatMap((chunk) => chunk.devices);
  const lines = [
    `${manifestPath}: ${counted(devices.length, 'device')} to ${plan.workflow.name} in ${counted(plan.chunks.length, 'request')} ` +
      `(at most ${REQUEST_LIMITS.maxDevices} devices and ${REQUEST_LIMITS.maxBytes} bytes each).`,
    `Request options: ${describeOptions(plan.options)}`,
    'Requests:',
  ];
  const { done } = plan.workflow;
  for (const { chunk, resumption } of resumePlan(plan, state, undone)) {
    const { next } = resumption;
    const action =
      next === undefined
        ? `skip: ${done} by an earlier run`
        : next.attempt === 0
          ? 'send'
          : `send ${next.devices.length} not yet ${done} as ${next.requestId}`;
    lines.push(`  ${chunk.requestId}  ${counted(chunk.devices.length, 'device').padStart(11)}  ${action}`);
  }
  // A deprovisioning that does not disassociate leaves the core devices alone, whatever the manifest names.
  const touchesCoreDevices = !('disassociate' in plan.options) || plan.options.disassociate;
  if (touchesCoreDevices) {
    const perCore = new Map<string, number>();
    for (const { device } of devices) {
      const core = coreDeviceOf(device, plan.options);
      if (core !== undefined) perCore.set(core, (perCore.get(core) ?? 0) + 1);
    }
    lines.push('Devices per core device:');
    for (const [core, count] of [...perCore].sort(([left], [right]) => left.localeCompare(right))) lines.push(`  ${core}  ${count}`);
  }
  return `${lines.join('\n')}\n`;
}

function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** `name=value` for each option; a long value (an inline template) by its length. */
function describeOptions(options: Record<string, unknown>): string {
  return Object.entries(options)
    .map(([name, value]) => {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      return `${name}=${text.length > 60 ? `<${text.length} characters>` : text}`;
    })
    .join(', ');
}
