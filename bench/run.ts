/**
 * `npm run bench` (everything, a few minutes) or `npm run bench -- --quick` (smaller fleets, under a
 * minute). Each figure runs in a fresh child process (bench/figure.ts) on 127.0.0.1 only; the results go
 * to bench/results/latest.{json,md}, or bench/results/tmp/quick.{json,md} for --quick. Benchmarks, not
 * tests: nothing here fails on a slow figure.
 */
import { fork } from 'node:child_process';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { FigureName } from './figure.ts';
import { describeMachine } from './machine.ts';
import { type BenchResults, renderMarkdown } from './report.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const LOG_DIR = `${RESULTS_DIR}tmp/`;
const FIGURE_SCRIPT = fileURLToPath(new URL('./figure.ts', import.meta.url));
/** A guard against a hung figure, not a timing expectation. */
const FIGURE_TIMEOUT_MS = 20 * 60_000;

interface Plan {
  quotaDevices: number;
  quotaCores: number;
  fleetRunDevices: number;
  fleetRunCores: number;
  fleetMemorySizes: number[];
  costDevices: number;
  latencyRuns: number;
  importRuns: number;
  scalingSizes: number[];
}

const PLANS: Record<BenchResults['mode'], Plan> = {
  full: {
    quotaDevices: 1000,
    quotaCores: 10,
    fleetRunDevices: 20_000,
    fleetRunCores: 20,
    fleetMemorySizes: [10_000, 50_000, 100_000],
    costDevices: 1000,
    latencyRuns: 200,
    importRuns: 11,
    scalingSizes: [1000, 5000, 10_000],
  },
  quick: {
    quotaDevices: 600,
    quotaCores: 6,
    fleetRunDevices: 2000,
    fleetRunCores: 2,
    fleetMemorySizes: [1000, 5000],
    costDevices: 200,
    latencyRuns: 50,
    importRuns: 3,
    scalingSizes: [1000],
  },
};

async function runFigure<T>(label: string, name: FigureName, options: object): Promise<T> {
  const log = await open(`${LOG_DIR}${label}.log`, 'w');
  const started = performance.now();
  process.stdout.write(`${label} … `);
  try {
    const child = fork(FIGURE_SCRIPT, [name, JSON.stringify(options)], { stdio: ['ignore', log.fd, log.fd, 'ipc'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), FIGURE_TIMEOUT_MS);
    const result = await new Promise<T>((resolve, reject) => {
      let received: { value: T } | undefined;
      child.once('message', (message) => (received = { value: message as T }));
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        received
          ? resolve(received.value)
          : reject(new Error(`${label} ended (${signal ?? `exit ${code}`}) without a result; see ${LOG_DIR}${label}.log`)),
      );
    }).finally(() => clearTimeout(timer));
    process.stdout.write(`${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    return result;
  } finally {
    await log.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
  const mode: BenchResults['mode'] = values.quick ? 'quick' : 'full';
  const plan = PLANS[mode];
  await mkdir(LOG_DIR, { recursive: true });
  const started = performance.now();
  const quota = { devices: plan.quotaDevices, coreDevices: plan.quotaCores, quotaScale: 10 };

  const quotaEfficiency = await runFigure<BenchResults['quotaEfficiency']>('quotaEfficiency', 'quotaEfficiency', {
    ...quota,
    peer: true,
  });
  // The issue's fleet: the default quotas ×20, so that RegisterThing's floor is 100 s for 20,000 devices.
  const fleetRun = await runFigure<BenchResults['fleetRun']>('fleetRun', 'fleetRun', {
    devices: plan.fleetRunDevices,
    coreDevices: plan.fleetRunCores,
    quotaScale: 20,
  });
  // Peak RSS of fleet runs with the quotas off, each size in an `npm start` process of its own (bench/fleet-memory.ts).
  const fleetMemory: BenchResults['fleetMemory'] = [];
  for (const devices of plan.fleetMemorySizes) fleetMemory.push(await runFigure(`fleetMemory-${devices}`, 'fleetMemory', { devices }));
  // 100 devices per core device, so each association call carries a full batch.
  const costs = await runFigure<Pick<BenchResults, 'cost' | 'costThrottled'>>('cost', 'cost', {
    devices: plan.costDevices,
    coreDevices: plan.costDevices / 100,
  });
  const latency = await runFigure<BenchResults['latency']>('latency', 'latency', { runs: plan.latencyRuns });
  const bundles = await runFigure<BenchResults['bundles']>('bundles', 'bundles', {
    importRuns: plan.importRuns,
    outDir: `${LOG_DIR}bundles`,
  });
  const scaling: BenchResults['scaling'] = [];
  for (const devices of plan.scalingSizes) scaling.push(await runFigure(`scaling-${devices}`, 'scaling', { devices, coreDevices: 10 }));

  const results: BenchResults = {
    mode,
    date: new Date().toISOString(),
    machine: describeMachine(),
    wallSeconds: Math.round((performance.now() - started) / 1000),
    quotaEfficiency,
    fleetRun,
    fleetMemory,
    ...costs,
    latency,
    bundles,
    scaling,
  };
  const base = mode === 'full' ? `${RESULTS_DIR}latest` : `${LOG_DIR}quick`;
  await writeFile(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(`${base}.md`, renderMarkdown(results));
  process.stdout.write(`\n${renderMarkdown(results)}\nWritten: ${base}.json, ${base}.md\n`);
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
