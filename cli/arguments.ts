import { parseArgs } from 'node:util';
import {
  DEPROVISIONING,
  FLEET_RUN_ID_PATTERN,
  type FleetWorkflow,
  MAX_DEVICES_PER_REQUEST,
  PROVISIONING,
  withRequestOverrides,
} from '../functions/contract.ts';

export interface CliOptions {
  workflow: FleetWorkflow;
  manifestPath: string;
  apiUrl: URL;
  region?: string;
  concurrency: number;
  reportPrefix: string;
  dryRun: boolean;
  /** Hand the manifest to the service's fleet runs (--server) instead of sending its requests from here. */
  server: boolean;
  overrides: RequestOverrides;
}

/** `--follow <fleetRunId>`: watch a fleet run already started, and download its report. */
export interface FollowOptions {
  fleetRunId: string;
  apiUrl: URL;
  region?: string;
  /** As given; without --report, the default of the run's action. */
  reportPrefix?: string;
}

/** Request-level fields given on the command line; they win over the manifest's own. */
interface RequestOverrides {
  coreDeviceThingName?: string;
  templateName?: string;
  templateFile?: string;
  templateParameters: Record<string, string>;
  thingPrincipalType?: string;
  rollbackOnFailure?: boolean;
  disassociate?: boolean;
  detachPrincipals?: boolean;
  deleteThings?: boolean;
}

type ParsedArguments =
  | { kind: 'help' }
  | { kind: 'run'; options: CliOptions }
  | { kind: 'follow'; options: FollowOptions }
  | { kind: 'usage-error'; message: string };

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';
/** Where the API is when --api-url does not say: set once per shell rather than on every command. */
export const API_URL_VARIABLE = 'IOT_PROVISION_API_URL';
const PROVISIONING_FLAGS = ['template', 'template-file', 'param', 'principal-type', 'rollback'] as const;
const DEPROVISIONING_FLAGS = ['disassociate', 'detach', 'delete'] as const;
/** A fleet run the service carries out paces itself and has no plan to print. */
const CLIENT_SIDE_FLAGS = ['concurrency', 'dry-run'] as const;
/** A run being followed was started with its manifest, action and request options. */
const START_FLAGS = ['core', ...PROVISIONING_FLAGS, 'deprovision', ...DEPROVISIONING_FLAGS, ...CLIENT_SIDE_FLAGS] as const;
export const DEFAULT_CONCURRENCY = 4;

export const HELP_TEXT = `Usage: iot-provision <manifest.csv|manifest.json> [options]
       iot-provision <manifest.csv|manifest.json> --server [options]
       iot-provision --follow <fleetRunId> [--api-url <url>] [--region <region>] [--report <path-prefix>]

Provisions a fleet (or, with --deprovision, removes it) through the service's API: validates every
device first (nothing is sent if any row is wrong), splits the fleet into requests of at most ${MAX_DEVICES_PER_REQUEST}
devices, sends them, waits for each execution and writes a report of every device's outcome.

Manifest
  CSV   header row; columns thingName, principal, coreDeviceThingName and param.<Name> for each
        device parameter <Name>. An empty cell means "not given".
  JSON  an array of devices ({thingName, principal?, coreDeviceThingName?, parameters?}), or an
        object with request fields (coreDeviceThingName, templateName, templateParameters, ...)
        and a "devices" array.

Request options (they override the manifest's)
  --core <name>              default Greengrass core device
  --template <name>          shipped provisioning template
  --template-file <path>     inline provisioning template (JSON), sent as templateBody
  --param <Name=Value>       template parameter shared by all devices (repeatable)
  --principal-type <type>    EXCLUSIVE_THING (default) or NON_EXCLUSIVE_THING
  --no-rollback              keep what was created for a device that failed

Run options
  --api-url <url>            the service's API (default: $${API_URL_VARIABLE}, else ${DEFAULT_API_URL},
                             started by npm start); requests to a non-loopback URL are
                             SigV4-signed with the default AWS credentials
  --region <region>          region for signing (default: from the URL host, then AWS_REGION)
  --concurrency <n>          requests in flight (default ${DEFAULT_CONCURRENCY})
  --report <path-prefix>     writes <prefix>.json, <prefix>.csv and <prefix>.state.json
                             (default ${PROVISIONING.defaultReportPrefix}; a directory gets
                             the default names inside it)
  --dry-run                  validate and print the plan; send nothing
  -h, --help                 this text

Deprovisioning
  --deprovision              remove the manifest's devices instead: disassociate each from its core
                             device, detach its principals, delete its thing (the manifest that
                             provisioned the fleet will do; principals and parameters are ignored)
  --no-disassociate          leave the devices associated with their core devices (with
                             --no-delete, or deleteThings false in the manifest)
  --no-delete                keep the things
  --no-detach                keep the things' principals attached (with --no-delete, or
                             deleteThings false in the manifest)
  The report goes to ${DEPROVISIONING.defaultReportPrefix} unless --report says otherwise.

Server-side fleet runs (an API with the fleet stack deployed)
  --server                   validate the manifest here, upload it (POST /fleet-uploads), start a
                             fleet run (POST /fleet-runs), follow its progress and download its
                             report to --report; not with --concurrency or --dry-run
  --follow <fleetRunId>      follow a fleet run already started and download its report; no manifest
                             and no request options
  Ctrl-C leaves the fleet run going and prints the --follow command that picks it up.

Resuming: run the same command again (after Ctrl-C too). Requests whose devices were all done
are skipped; devices that failed are sent again in a new request (<request id>-r<n>).

Exit codes: 0 all devices done, 1 some device failed (or no report written), 2 bad input or
usage (nothing sent), 3 the API cannot be reached (re-run to resume), 130 interrupted. With --server
and --follow: 0 the run provisioned (or deprovisioned) every device and its report is written.
`;

export function parseArguments(argv: readonly string[], env: Record<string, string | undefined> = {}): ParsedArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      allowNegative: true,
      options: {
        core: { type: 'string' },
        template: { type: 'string' },
        'template-file': { type: 'string' },
        param: { type: 'string', multiple: true },
        'principal-type': { type: 'string' },
        rollback: { type: 'boolean' },
        deprovision: { type: 'boolean' },
        disassociate: { type: 'boolean' },
        detach: { type: 'boolean' },
        delete: { type: 'boolean' },
        'api-url': { type: 'string' },
        region: { type: 'string' },
        concurrency: { type: 'string' },
        report: { type: 'string' },
        'dry-run': { type: 'boolean' },
        server: { type: 'boolean', default: false },
        follow: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const apiUrl = values['api-url'] ?? (env[API_URL_VARIABLE] || DEFAULT_API_URL);
  if (!URL.canParse(apiUrl) || !/^https?:$/.test(new URL(apiUrl).protocol)) {
    const source = values['api-url'] === undefined ? API_URL_VARIABLE : '--api-url';
    return usageError(`${source} must be an http or https URL, got "${apiUrl}"`);
  }
  const given = (flags: readonly (keyof typeof values)[]) =>
    flags.filter((flag) => values[flag] !== undefined).map((flag) => (values[flag] === false ? `--no-${flag}` : `--${flag}`));
  if (values.follow !== undefined) {
    if (positionals.length > 0) return usageError('--follow watches a fleet run already started: give no manifest');
    const refused = given(START_FLAGS);
    if (refused.length > 0)
      return usageError(
        `${refused.join(', ')}: not with --follow (the fleet run has the manifest, action and options it was started with)`,
      );
    if (!FLEET_RUN_ID_PATTERN.test(values.follow))
      return usageError(`--follow takes a fleetRunId (1-72 of A-Z, a-z, 0-9, _ and -), got "${values.follow}"`);
    return {
      kind: 'follow',
      options: { fleetRunId: values.follow, apiUrl: new URL(apiUrl), region: values.region, reportPrefix: values.report },
    };
  }
  if (values.server) {
    const refused = given(CLIENT_SIDE_FLAGS);
    if (refused.length > 0)
      return usageError(
        `${refused.join(', ')}: not with --server (the service paces a fleet run's batches itself, and plans them from the manifest it reads)`,
      );
  }
  if (positionals.length !== 1)
    return usageError(positionals.length === 0 ? 'give the manifest file' : `give one manifest file, not ${positionals.length}`);
  if (values.template !== undefined && values['template-file'] !== undefined)
    return usageError('give --template or --template-file, not both');
  const workflow = values.deprovision ? DEPROVISIONING : PROVISIONING;
  const foreignFlags = (values.deprovision ? PROVISIONING_FLAGS : DEPROVISIONING_FLAGS).filter((flag) => values[flag] !== undefined);
  if (foreignFlags.length > 0) {
    const flags = foreignFlags.map((flag) => (values[flag] === false ? `--no-${flag}` : `--${flag}`)).join(', ');
    return usageError(values.deprovision ? `${flags}: not for --deprovision` : `${flags}: only with --deprovision`);
  }

  const concurrency = Number(values.concurrency ?? DEFAULT_CONCURRENCY);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    return usageError(`--concurrency must be a positive integer, got "${values.concurrency}"`);
  const templateParameters: Record<string, string> = {};
  for (const assignment of values.param ?? []) {
    const separator = assignment.indexOf('=');
    if (separator < 0) return usageError(`--param takes Name=Value, got "${assignment}"`);
    templateParameters[assignment.slice(0, separator)] = assignment.slice(separator + 1);
  }

  return {
    kind: 'run',
    options: {
      workflow,
      manifestPath: positionals[0]!,
      apiUrl: new URL(apiUrl),
      region: values.region,
      concurrency,
      reportPrefix: values.report ?? workflow.defaultReportPrefix,
      dryRun: values['dry-run'] ?? false,
      server: values.server,
      overrides: {
        coreDeviceThingName: values.core,
        templateName: values.template,
        templateFile: values['template-file'],
        templateParameters,
        thingPrincipalType: values['principal-type'],
        rollbackOnFailure: values.rollback,
        disassociate: values.disassociate,
        detachPrincipals: values.detach,
        deleteThings: values.delete,
      },
    },
  };
}

/** The request-level fields for validation: the manifest's, overridden by the command line. */
export function requestFieldsOf(
  manifestDefaults: Record<string, unknown>,
  overrides: RequestOverrides,
  templateBody: string | undefined,
): Record<string, unknown> {
  // The file's text is the field; its path is not.
  const { templateParameters, templateFile, ...fields } = { ...overrides, templateBody };
  return withRequestOverrides(manifestDefaults, { ...fields, ...(Object.keys(templateParameters).length > 0 && { templateParameters }) });
}

function usageError(message: string): ParsedArguments {
  return { kind: 'usage-error', message };
}

/** The flag behind each request field the command line may set; `--template-file` gives the template's body. */
const FLAG_OF_FIELD = {
  coreDeviceThingName: 'core',
  templateName: 'template',
  templateBody: 'template-file',
  thingPrincipalType: 'principal-type',
  rollbackOnFailure: 'rollback',
  disassociate: 'disassociate',
  detachPrincipals: 'detach',
  deleteThings: 'delete',
} as const;

/** The command-line flag that set a request field, as the user typed it; undefined when the manifest set it. */
export function flagOf(field: string, overrides: RequestOverrides): string | undefined {
  const parameter = /^templateParameters\.(.+)$/.exec(field)?.[1];
  if (parameter !== undefined) return parameter in overrides.templateParameters ? `--param ${parameter}=…` : undefined;
  if (!Object.hasOwn(FLAG_OF_FIELD, field)) return undefined;
  const flag = FLAG_OF_FIELD[field as keyof typeof FLAG_OF_FIELD];
  const value = field === 'templateBody' ? overrides.templateFile : overrides[field as Exclude<keyof typeof FLAG_OF_FIELD, 'templateBody'>];
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value ? `--${flag}` : `--no-${flag}`;
  return `--${flag} ${value}`;
}
