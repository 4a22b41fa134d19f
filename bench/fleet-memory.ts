/**
 * fleetMemory: the peak resident memory of `npm start` — the local cloud, the service's functions and its HTTP API,
 * one process — through a server-side fleet run (`POST /fleet-runs`) of `devices` devices, quotas off. Each size
 * runs in a process of its own, started fresh, so that one run's peak does not bleed into the next; the state is
 * the default one (a temporary database).
 *
 *     node bench/fleet-memory.ts 10000 50000 100000
 *
 * prints one JSON line per size. The peak is the kernel's high-water mark of the process's resident set
 * (`VmHWM` in /proc/<pid>/status, Linux), certificates' creation included.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CreateKeysAndCertificateCommand, IoTClient } from '@aws-sdk/client-iot';
import { ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { round } from './stats.ts';

const START = fileURLToPath(new URL('../local/start.ts', import.meta.url));
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };
/** Devices per core device in the manifest: a gateway with its devices, as a fleet is laid out. */
const DEVICES_PER_CORE = 1000;
const POLL_MS = 2000;
/** Certificates created at once: setting up, not what is measured. */
const CREATE_CONCURRENCY = 32;

export interface FleetMemoryFigure {
  devices: number;
  /** The fleet run, from POST to its end (the certificates' creation before it is not counted). */
  seconds: number;
  devicesPerSecond: number;
  /** The process's resident set at its highest (VmHWM), MiB. */
  peakRssMiB: number;
  /** Its resident set when the run has ended, MiB. */
  endRssMiB: number;
  outcome: string;
  totals: unknown;
}

/**
 * The service's pacing inputs are the quotas it plans for. With the quotas off nothing throttles, so they are raised
 * to let the fleet run as fast as the machine allows: the Map's concurrency, not the fleet's size, sets how many
 * executions are in memory at once.
 */
const UNPACED = { REGISTER_THING_TPS: '1000', ATTACH_THING_PRINCIPAL_TPS: '1000', DESCRIBE_THING_TPS: '1000' };

export interface FleetMemoryProgress {
  devices: number;
  done: number;
  rssMiB: number;
}

/** `onProgress` hears, every poll, how far the run is and the process's resident set at that moment. */
export async function fleetMemory(devices: number, onProgress?: (progress: FleetMemoryProgress) => void): Promise<FleetMemoryFigure> {
  const cores = Array.from(
    { length: Math.ceil(devices / DEVICES_PER_CORE) },
    (_, index) => `memory-core-${String(index).padStart(3, '0')}`,
  );
  const [cloudPort, apiPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [START], {
    env: {
      ...process.env,
      ...UNPACED,
      LOCAL_CLOUD_PORT: String(cloudPort),
      API_PORT: String(apiPort),
      LOCAL_CLOUD_QUOTAS: 'false',
      LOCAL_CLOUD_CORE_DEVICES: cores.join(','),
      LOCAL_CLOUD_KEY_ALGORITHM: 'ec-p256',
      LOCAL_CLOUD_DATA_DIR: '',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const clientConfig = { endpoint: `http://127.0.0.1:${cloudPort}`, region: REGION, credentials: CREDENTIALS };
  const iot = new IoTClient(clientConfig);
  const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  try {
    await ready(child);
    const limit = pLimit(CREATE_CONCURRENCY);
    const principals = await Promise.all(
      Array.from({ length: devices }, () =>
        limit(async () => (await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))).certificateArn!),
      ),
    );
    const rows = principals.map(
      (principal, index) => `memory-${String(index).padStart(6, '0')},${principal},${cores[Math.floor(index / DEVICES_PER_CORE)]}`,
    );
    const { Buckets = [] } = await s3.send(new ListBucketsCommand({}));
    const bucket = Buckets.find((candidate) => candidate.Name?.includes('-fleet-'))?.Name;
    if (!bucket) throw new Error('npm start made no fleet bucket');
    // Not under manifests/: an upload there starts a run of its own.
    const key = `staged/memory-${devices}.csv`;
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: ['thingName,principal,coreDeviceThingName', ...rows].join('\n') }),
    );

    const api = `http://127.0.0.1:${apiPort}`;
    const fleetRunId = `memory-${devices}`;
    const started = performance.now();
    const accepted = await fetch(`${api}/fleet-runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ fleetRunId, manifest: `s3://${bucket}/${key}`, action: 'provision' }),
    });
    if (accepted.status !== 202) throw new Error(`POST /fleet-runs answered ${accepted.status}: ${await accepted.text()}`);
    let status: { executionStatus: string; devices?: { done: number }; outcome?: string; totals?: unknown; error?: unknown } = {
      executionStatus: 'RUNNING',
    };
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`npm start ended during the run (${child.exitCode ?? child.signalCode})`);
      // A poll that fails (a kept-alive socket closed under it) is tried again at the next one.
      const answer = await fetch(`${api}/fleet-runs/${fleetRunId}`).catch(() => undefined);
      if (!answer) continue;
      status = (await answer.json()) as typeof status;
      if (status.executionStatus !== 'RUNNING') break;
      onProgress?.({ devices, done: status.devices?.done ?? 0, rssMiB: round(processMemory(child.pid!).currentKiB / 1024, 1) });
    }
    const seconds = (performance.now() - started) / 1000;
    const memory = processMemory(child.pid!);
    return {
      devices,
      seconds: round(seconds),
      devicesPerSecond: round(devices / seconds, 1),
      peakRssMiB: round(memory.peakKiB / 1024, 1),
      endRssMiB: round(memory.currentKiB / 1024, 1),
      outcome: status.outcome ?? `${status.executionStatus} ${JSON.stringify(status.error)}`,
      totals: status.totals,
    };
  } finally {
    iot.destroy();
    s3.destroy();
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
  }
}

async function ready(child: ChildProcess): Promise<void> {
  let text = '';
  for await (const chunk of child.stdout!) {
    text += String(chunk);
    if (text.includes('Ready:')) return;
  }
  throw new Error(`npm start ended before it was ready: ${text}`);
}

/** The resident set now and at its highest, from the kernel (KiB). */
function processMemory(pid: number): { currentKiB: number; peakKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1]);
  return { currentKiB: kib('VmRSS'), peakKiB: kib('VmHWM') };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

if (import.meta.main) {
  const sizes = process.argv.slice(2).map(Number);
  if (sizes.length === 0 || sizes.some((size) => !Number.isInteger(size) || size < 1)) {
    console.error('usage: node bench/fleet-memory.ts <devices> [<devices> …]');
    process.exit(2);
  }
  let reported = 0;
  const progress = (step: FleetMemoryProgress) => {
    if (Date.now() - reported < 30_000) return;
    reported = Date.now();
    console.error(JSON.stringify({ at: new Date().toISOString(), ...step }));
  };
  for (const devices of sizes) console.log(JSON.stringify(await fleetMemory(devices, progress)));
}
