import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { FleetWorkflow } from '../functions/contract.ts';
import { type ManifestProblem, manifestFormatOf, parseManifest, type ValidManifest, validateManifest } from '../functions/contract.ts';
import { defaultCredentials, isLoopback, type PollSchedule, resolveRegion, type SigningCredentials } from './api-client.ts';
import { type CliOptions, flagOf, requestFieldsOf } from './arguments.ts';
import type { ProgressStream } from './progress.ts';
import { reportPaths } from './report.ts';
import { stateFilePath } from './resume.ts';

/** 130: interrupted by SIGINT, as shells report it. */
export const EXIT_CODES = { allDone: 0, someFailed: 1, unusable: 2, unreachable: 3, interrupted: 130 } as const;

export interface CliEnvironment {
  stdout: ProgressStream;
  stderr: ProgressStream;
  env: Record<string, string | undefined>;
  /** Tests poll faster, and give up on a 404 sooner, than people need to. */
  pollBackoff?: PollSchedule;
  /** Aborted on Ctrl-C: the run stops waiting and says how to resume (or, for a fleet run, how to follow it). */
  interrupt?: AbortSignal;
}

/** Stops the run before anything is sent, with exit code 2. */
export class UnusableInput extends Error {}

/**
 * A remote API needs a region and credentials to sign with; both are checked before anything is written or sent,
 * rather than found missing by the first request.
 */
export async function signingFor(
  { apiUrl, region: explicitRegion }: { apiUrl: URL; region?: string },
  env: Record<string, string | undefined>,
): Promise<{ region?: string; credentials?: SigningCredentials }> {
  if (isLoopback(apiUrl)) return {};
  const region = resolveRegion(apiUrl, explicitRegion, env.AWS_REGION ?? env.AWS_DEFAULT_REGION);
  if (region === undefined) {
    throw new UnusableInput(`cannot tell the region of ${apiUrl.host} to sign requests: give --region or set AWS_REGION`);
  }
  const credentials = defaultCredentials();
  await credentials().catch((error: Error) => {
    throw new UnusableInput(`no AWS credentials to sign requests to ${apiUrl.host} with: ${error.message}`);
  });
  return { region, credentials };
}

/**
 * `--report` names a prefix; a directory (one that exists, or a path ending in a separator) gets the default
 * file names inside it. No report or state file may land on an input of the run (the manifest, the template file).
 */
export async function resolveReportPrefix(
  reportPrefix: string,
  workflow: FleetWorkflow,
  inputs: readonly (string | undefined)[],
): Promise<string> {
  const isDirectory =
    /[\\/]$/.test(reportPrefix) ||
    (await stat(reportPrefix).then(
      (found) => found.isDirectory(),
      () => false,
    ));
  const prefix = isDirectory ? join(reportPrefix, basename(workflow.defaultReportPrefix)) : reportPrefix;
  const inputPaths = inputs.filter((path) => path !== undefined).map((path) => resolve(path));
  const { json, csv } = reportPaths(prefix);
  for (const output of [json, csv, stateFilePath(prefix)]) {
    if (inputPaths.includes(resolve(output)))
      throw new UnusableInput(`--report ${reportPrefix} would overwrite ${output}, an input of this run: choose another prefix`);
  }
  return prefix;
}

export interface LoadedManifest {
  manifest: ValidManifest;
  /** The file as it is, for an upload: the service reads the same bytes. */
  bytes: Buffer;
  /** The text of `--template-file`, when given. */
  templateBody?: string;
}

/** Reads and validates the manifest; any problem stops here, before a request is sent. */
export async function loadManifest({ manifestPath, overrides, workflow }: CliOptions): Promise<LoadedManifest> {
  const format = manifestFormatOf(manifestPath);
  if (format === undefined) throw new UnusableInput(`${manifestPath}: the manifest must be a .csv or a .json file`);
  const bytes = await readInput(manifestPath, 'manifest');
  const templateBody =
    overrides.templateFile === undefined ? undefined : (await readInput(overrides.templateFile, 'template file')).toString('utf8');

  const parsed = parseManifest(bytes.toString('utf8'), format);
  if (!parsed.ok) throw new UnusableInput(describeProblems(manifestPath, parsed.problems));
  const validated = validateManifest(parsed.manifest, requestFieldsOf(parsed.manifest.defaults, overrides, templateBody), workflow);
  if (!validated.ok)
    throw new UnusableInput(
      describeProblems(
        manifestPath,
        validated.problems.map((problem) => withFlag(problem, overrides)),
      ),
    );
  return { manifest: validated.value, bytes, ...(templateBody !== undefined && { templateBody }) };
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new UnusableInput(`cannot read the ${what} ${path}: ${(error as Error).message}`);
  }
}

/** A problem of a request option that a flag set names the flag too: the user typed the flag, not the field. */
function withFlag(problem: ManifestProblem, overrides: CliOptions['overrides']): ManifestProblem {
  const flag = problem.where === 'request options' && problem.field !== undefined ? flagOf(problem.field, overrides) : undefined;
  return flag === undefined ? problem : { ...problem, field: `${problem.field} (${flag})` };
}

function describeProblems(manifestPath: string, problems: readonly ManifestProblem[]): string {
  const lines = problems.map(({ where, field, reason }) => `  ${where}: ${field ? `${field} ` : ''}${reason}`);
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return `${manifestPath}: ${count}; nothing was sent.\n${lines.join('\n')}`;
}
