import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FaultSettingsError, type FaultSettingsPatch, parseFaultSettingsPatch } from './faults.ts';
import { KEY_ALGORITHMS, type KeyAlgorithm } from './services/iot/certificate-authority.ts';

export interface LocalCloudConfig {
  host: string;
  port: number;
  /**
   * Keeps everything across restarts when set: IoT, Greengrass, DynamoDB, EventBridge and S3 (metadata and bytes)
   * in `state.sqlite`, Step Functions executions, their histories and Map Runs in `executions.sqlite`.
   */
  dataDir?: string;
  faults: FaultSettingsPatch;
  /** Core devices registered at start and after every reset (see registerCoreDevice). */
  coreDevices: unknown[];
  /** The key pairs IoT CreateKeysAndCertificate makes; `rsa-2048` (as AWS) unless set. */
  keyAlgorithm?: KeyAlgorithm;
}

const DEFAULT_PORT = 4566;
/** Said to whoever still names the JSON state file the store was before it was a database. */
const STATE_FILE_REPLACED =
  '--state-file (LOCAL_CLOUD_STATE_FILE, stateFile) is replaced by --data-dir (LOCAL_CLOUD_DATA_DIR, dataDir): a directory that keeps the whole state in SQLite';

export function localCloudUrl({ host, port }: Pick<LocalCloudConfig, 'host' | 'port'>): string {
  return `http://${host}:${port}`;
}

/** Where a data directory keeps each part of the state. */
export function dataDirFiles(dataDir: string): { stateDatabase: string; executionsDatabase: string } {
  return { stateDatabase: join(dataDir, 'state.sqlite'), executionsDatabase: join(dataDir, 'executions.sqlite') };
}

/** The account in every ARN the local cloud, and the functions it runs, make. */
export const LOCAL_ACCOUNT_ID = '000000000000';

/** Registered in every local cloud started from the command line, so the demo and the sample events have a core. */
export const DEMO_CORE_DEVICE = 'demo-core';

/**
 * Configuration, later sources winning: defaults, the JSON file named by `--config` or
 * `LOCAL_CLOUD_CONFIG`, `LOCAL_CLOUD_*` variables, command-line flags.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv.slice(2)): LocalCloudConfig {
  const { values: flags } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'state-file': { type: 'string' },
      seed: { type: 'string' },
      'quota-scale': { type: 'string' },
      'no-quotas': { type: 'boolean' },
      'core-device': { type: 'string', multiple: true },
      'key-algorithm': { type: 'string' },
    },
    strict: true,
  });

  const config: LocalCloudConfig = {
    host: '127.0.0.1',
    port: DEFAULT_PORT,
    faults: {},
    coreDevices: [{ coreDeviceThingName: DEMO_CORE_DEVICE }],
  };
  const file = flags.config ?? env['LOCAL_CLOUD_CONFIG'];
  if (file) mergeFile(config, file);

  const fromEnv = (name: string) => env[name] || undefined;
  const faults: FaultSettingsPatch = { ...config.faults };
  config.host = flags.host ?? fromEnv('LOCAL_CLOUD_HOST') ?? config.host;
  config.port = parsePort('LOCAL_CLOUD_PORT / --port', flags.port ?? fromEnv('LOCAL_CLOUD_PORT'), config.port);
  const dataDir = flags['data-dir'] ?? fromEnv('LOCAL_CLOUD_DATA_DIR');
  if (dataDir) config.dataDir = dataDir;
  if (flags['state-file'] !== undefined || fromEnv('LOCAL_CLOUD_STATE_FILE') !== undefined) throw new Error(STATE_FILE_REPLACED);
  const keyAlgorithm = flags['key-algorithm'] ?? fromEnv('LOCAL_CLOUD_KEY_ALGORITHM');
  if (keyAlgorithm !== undefined) config.keyAlgorithm = parseKeyAlgorithm('LOCAL_CLOUD_KEY_ALGORITHM / --key-algorithm', keyAlgorithm);

  const seed = flags.seed ?? fromEnv('LOCAL_CLOUD_SEED');
  if (seed !== undefined) faults.seed = parseNumber('LOCAL_CLOUD_SEED / --seed', seed);
  const quotaScale = flags['quota-scale'] ?? fromEnv('LOCAL_CLOUD_QUOTA_SCALE');
  if (quotaScale !== undefined) faults.quotaScale = parseNumber('LOCAL_CLOUD_QUOTA_SCALE / --quota-scale', quotaScale);
  const quotas = fromEnv('LOCAL_CLOUD_QUOTAS');
  if (quotas !== undefined) faults.quotas = parseBoolean('LOCAL_CLOUD_QUOTAS', quotas);
  if (flags['no-quotas']) faults.quotas = false;
  const detachDelay = fromEnv('LOCAL_CLOUD_DETACH_PROPAGATION_MS');
  if (detachDelay !== undefined) faults.detachPropagationMs = parseNumber('LOCAL_CLOUD_DETACH_PROPAGATION_MS', detachDelay);
  for (const [variable, field] of [
    ['LOCAL_CLOUD_THROTTLE', 'throttle'],
    ['LOCAL_CLOUD_SERVER_ERROR', 'serverError'],
    ['LOCAL_CLOUD_FAIL_AFTER_COMMIT', 'failAfterCommit'],
    ['LOCAL_CLOUD_ENTRY_RETRYABLE', 'entryRetryable'],
    ['LOCAL_CLOUD_ENTRY_PERMANENT', 'entryPermanent'],
  ] as const) {
    const value = fromEnv(variable);
    if (value !== undefined) Object.assign(faults, checkFaults(variable, { [field]: parseProbabilities(variable, value) }));
  }
  config.faults = faults;

  const coreDeviceNames = [...(flags['core-device'] ?? []), ...(fromEnv('LOCAL_CLOUD_CORE_DEVICES')?.split(',') ?? [])];
  for (const name of coreDeviceNames.map((n) => n.trim()).filter(Boolean)) {
    config.coreDevices.push({ coreDeviceThingName: name });
  }
  return config;
}

function mergeFile(config: LocalCloudConfig, path: string): void {
  let parsed: Partial<LocalCloudConfig>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LocalCloudConfig>;
  } catch (error) {
    throw new Error(`Cannot read local cloud config file ${path}: ${(error as Error).message}`);
  }
  if (parsed.host !== undefined) config.host = parsed.host;
  if (parsed.port !== undefined) config.port = parsePort(`port in ${path}`, String(parsed.port), config.port);
  if (parsed.dataDir !== undefined) config.dataDir = parsed.dataDir;
  if (Object.hasOwn(parsed, 'stateFile')) throw new Error(`${path}: ${STATE_FILE_REPLACED}`);
  if (parsed.faults !== undefined) config.faults = checkFaults(`faults in ${path}`, parsed.faults);
  if (parsed.coreDevices !== undefined) config.coreDevices = [...parsed.coreDevices];
  if (parsed.keyAlgorithm !== undefined) config.keyAlgorithm = parseKeyAlgorithm(`keyAlgorithm in ${path}`, String(parsed.keyAlgorithm));
}

function parseKeyAlgorithm(name: string, value: string): KeyAlgorithm {
  if (!(KEY_ALGORITHMS as readonly string[]).includes(value))
    throw new Error(`${name} must be one of ${KEY_ALGORITHMS.join(', ')}, got ${JSON.stringify(value)}`);
  return value as KeyAlgorithm;
}

/** `value` as a port to listen on (0 = any free port), `fallback` when absent; `name` says where the value came from. */
export function parsePort(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (value.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return port;
}

/** What to report when listening failed: a port in use is named, with the variable that chooses another. */
export function listenError(error: unknown, host: string, port: number, portVariable: string): unknown {
  if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') return error;
  return new Error(
    `Port ${port} on ${host} is already in use: stop whatever holds it, or choose another port with ${portVariable} (0 picks a free one).`,
  );
}

function parseNumber(name: string, value: string, expected = 'a number'): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number)) throw new Error(`${name} must be ${expected}, got ${JSON.stringify(value)}`);
  return number;
}

function parseBoolean(name: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`${name} must be true or false, got ${JSON.stringify(value)}`);
}

const PROBABILITY_FORMS =
  'a number from 0 to 1 (every operation) or a JSON object of them by operation name, such as {"RegisterThing":0.3}';

/** `0.3` (every operation) or JSON such as `{"RegisterThing": 0.3}`; checked by checkFaults. */
function parseProbabilities(name: string, value: string): unknown {
  if (value.trim().startsWith('{')) {
    try {
      return JSON.parse(value);
    } catch (error) {
      throw new Error(`${name} is not valid JSON (${(error as Error).message}); it must be ${PROBABILITY_FORMS}`);
    }
  }
  return parseNumber(name, value, PROBABILITY_FORMS);
}

/** Fault settings from `source` (a variable, a file), so that a bad one stops the start with its source named. */
function checkFaults(source: string, patch: unknown): FaultSettingsPatch {
  try {
    return parseFaultSettingsPatch(patch);
  } catch (error) {
    throw error instanceof FaultSettingsError ? new Error(`${source}: ${error.message}`) : error;
  }
}
