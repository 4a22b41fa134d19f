/** latest.json's shape, the targets of the "Fleet scale" issue, and latest.md rendered from them. */
import type { FleetMemoryFigure } from './fleet-memory.ts';
import type { Machine } from './machine.ts';

export interface CostFigure {
  devices: number;
  transitionsPerDevice: number;
  billedTransitionsPerDevice: number;
  apiCallsPerDevice: number;
  apiCallsPerDeviceWithoutRollback: number;
  lost: number;
}

export interface BundleFigure {
  name: string;
  bytes: number;
  importMs: number;
  fastestImportMs: number;
  importCpuMs: number;
  largestPackages: { name: string; bytes: number }[];
  /** The same handler built with serverless-esbuild's defaults, for the functions that use an SDK client. */
  peer?: { bytes: number; importMs: number; fastestImportMs: number; importCpuMs: number; importRatio: number; cpuRatio: number };
}

export interface FleetRunFigure {
  devices: number;
  coreDevices: number;
  quotaScale: number;
  seconds: number;
  floorSeconds: number;
  ratio: number;
  lost: number;
  peakRssMiB: number;
  throttled: number;
}

export interface BenchResults {
  mode: 'full' | 'quick';
  date: string;
  machine: Machine;
  wallSeconds: number;
  quotaEfficiency: {
    devices: number;
    quotaFloorSeconds: number;
    seconds: number;
    ratio: number;
    throttled: number;
    lost: number;
    deviceStepSeconds: number;
    deviceConcurrency: number;
    peer: { seconds: number; ratio: number; throttled: number; lost: number };
  };
  fleetRun: FleetRunFigure;
  fleetMemory: FleetMemoryFigure[];
  cost: CostFigure;
  costThrottled: CostFigure;
  latency: { runs: number; p50Ms: number; p99Ms: number; executionP50Ms: number; executionP99Ms: number };
  bundles: { importRuns: number; nodeHttpsImportMs: number; functions: BundleFigure[] };
  scaling: { devices: number; seconds: number; devicesPerSecond: number; peakRssMB: number; lost: number }[];
}

const TARGETS = {
  quotaEfficiencyRatio: 0.9,
  fleetRunRatio: 0.85,
  fleetRunPeakRssMiB: 1024,
  /** The largest fleet's peak over the smallest's: memory must not grow with the fleet. */
  fleetMemoryGrowth: 1.3,
  fleetMemoryPeakRssMiB: 1024,
  transitionsPerDevice: 6,
  apiCallsPerDevice: 2.05,
  /** Settled: rollback's DescribeThing is what keeps it from removing a thing that existed before. */
  apiCallsPerDeviceWithRollback: 3.01,
  latencyP50Ms: 50,
  bundleBytes: 400 * 1024,
  importRatio: 0.6,
} as const;

const mark = (met: boolean) => (met ? 'yes' : '**no**');
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

/** One row per size, then whether memory stayed flat: the largest fleet's peak against the smallest's. */
function fleetMemoryRows(figures: FleetMemoryFigure[]): string[] {
  const sized = figures.map(
    ({ devices, peakRssMiB, endRssMiB, seconds, outcome }) =>
      `| fleetMemory: ${devices.toLocaleString('en')} devices, one manifest, quotas off: peak RSS of the whole process | ${peakRssMiB} MiB (${endRssMiB} MiB at the end; ${seconds} s, ${outcome}) | ≤ ${TARGETS.fleetMemoryPeakRssMiB} MiB | ${mark(peakRssMiB <= TARGETS.fleetMemoryPeakRssMiB)} |`,
  );
  const [smallest, largest] = [figures[0], figures.at(-1)];
  if (!smallest || !largest || smallest === largest) return sized;
  const growth = Math.round((largest.peakRssMiB / smallest.peakRssMiB) * 100) / 100;
  return [
    ...sized,
    `| fleetMemory: peak at ${largest.devices.toLocaleString('en')} / at ${smallest.devices.toLocaleString('en')} devices | ${growth} | ≤ ${TARGETS.fleetMemoryGrowth} | ${mark(growth <= TARGETS.fleetMemoryGrowth)} |`,
  ];
}

/** The issue sets targets for the run without faults; the throttled run is reported beside it. */
function costRows(label: string, figure: CostFigure, judged: boolean): string[] {
  const target = (limit: number) => (judged ? `≤ ${limit}` : '—');
  const met = (ok: boolean) => (judged ? mark(ok) : '—');
  return [
    `| ${label}: state transitions / device | ${figure.transitionsPerDevice} (billed with retries: ${figure.billedTransitionsPerDevice}) | ${target(TARGETS.transitionsPerDevice)} | ${met(figure.transitionsPerDevice <= TARGETS.transitionsPerDevice)} |`,
    `| ${label}: IoT + Greengrass calls / device, rollbackOnFailure true (default) | ${figure.apiCallsPerDevice} | ${target(TARGETS.apiCallsPerDeviceWithRollback)} | ${met(figure.apiCallsPerDevice <= TARGETS.apiCallsPerDeviceWithRollback)} |`,
    `| ${label}: IoT + Greengrass calls / device, rollbackOnFailure false | ${figure.apiCallsPerDeviceWithoutRollback} | ${target(TARGETS.apiCallsPerDevice)} | ${met(figure.apiCallsPerDeviceWithoutRollback <= TARGETS.apiCallsPerDevice)} |`,
  ];
}

export function renderMarkdown(results: BenchResults): string {
  const { machine, quotaEfficiency: quota, latency } = results;
  const bundles = results.bundles.functions;
  const largest = bundles.reduce((max, next) => (next.bytes > max.bytes ? next : max));
  const withPeers = bundles.filter((fn) => fn.peer !== undefined);
  const worstRatio = withPeers.reduce((max, next) => (next.peer!.importRatio > max.peer!.importRatio ? next : max));
  const worstCpuRatio = withPeers.reduce((max, next) => (next.peer!.cpuRatio > max.peer!.cpuRatio ? next : max));
  const fleet = results.fleetRun;
  const lines = [
    `# Benchmark results (${results.mode})`,
    '',
    `${results.date} · ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB · Node ${machine.node} (${machine.platform}) · \`npm run bench${results.mode === 'quick' ? ' -- --quick' : ''}\` took ${results.wallSeconds} s`,
    '',
    '| Figure | Measured | Target | Met |',
    '|---|---|---|---|',
    `| quotaEfficiency: ${quota.devices} devices, quota floor ${quota.quotaFloorSeconds} s / measured | ${quota.ratio} (${quota.seconds} s, ${quota.throttled} throttled, ${quota.lost} lost; the product's pacing: DEVICE_STEP_SECONDS ${quota.deviceStepSeconds} → ${quota.deviceConcurrency} devices in flight for a lone request, shared by concurrent ones) | ≥ ${TARGETS.quotaEfficiencyRatio}, 0 lost | ${mark(quota.ratio >= TARGETS.quotaEfficiencyRatio && quota.lost === 0)} |`,
    `| peer (CDF greengrass2-provisioning style), same quotas | ${quota.peer.ratio} (${quota.peer.seconds} s, ${quota.peer.throttled} throttled, **${quota.peer.lost} lost**) | — | — |`,
    `| fleetRun: ${fleet.devices} devices over ${fleet.coreDevices} core devices, one manifest (POST /fleet-runs), quotas ×${fleet.quotaScale}: floor ${fleet.floorSeconds} s / measured | ${fleet.ratio} (${fleet.seconds} s, ${fleet.throttled} throttled, ${fleet.lost} lost, peak RSS ${fleet.peakRssMiB} MiB) | ≥ ${TARGETS.fleetRunRatio}, 0 lost, ≤ ${TARGETS.fleetRunPeakRssMiB} MiB | ${mark(fleet.ratio >= TARGETS.fleetRunRatio && fleet.lost === 0 && fleet.peakRssMiB <= TARGETS.fleetRunPeakRssMiB)} |`,
    ...fleetMemoryRows(results.fleetMemory),
    ...costRows('cost', results.cost, true),
    ...costRows('costThrottled (30% on every API)', results.costThrottled, false),
    `| latency: one device to SUCCEEDED, p50 / p99 (${latency.runs} runs, GET polled every 2 ms) | ${latency.p50Ms} / ${latency.p99Ms} ms (execution alone: ${latency.executionP50Ms} / ${latency.executionP99Ms} ms) | p50 ≤ ${TARGETS.latencyP50Ms} ms | ${mark(latency.p50Ms <= TARGETS.latencyP50Ms)} |`,
    `| bundles: largest (${largest.name}) | ${kib(largest.bytes)} | ≤ ${kib(TARGETS.bundleBytes)} each | ${mark(bundles.every(({ bytes }) => bytes <= TARGETS.bundleBytes))} |`,
    `| bundles: cold import / its peer's, serverless-esbuild's defaults (highest: ${worstRatio.name}, medians of ${results.bundles.importRuns} rounds) | ${worstRatio.peer!.importRatio} (${worstRatio.importMs} / ${worstRatio.peer!.importMs} ms) | ≤ ${TARGETS.importRatio} each | ${mark(withPeers.every(({ peer }) => peer!.importRatio <= TARGETS.importRatio))} |`,
    `| bundles: the same in CPU time (highest: ${worstCpuRatio.name}) | ${worstCpuRatio.peer!.cpuRatio} (${worstCpuRatio.importCpuMs} / ${worstCpuRatio.peer!.importCpuMs} ms) | — | — |`,
    '',
    '## Bundles',
    '',
    `Cold import: median and fastest of ${results.bundles.importRuns} rounds, each importing every bundle once in a fresh Node process. The peer of a function that uses an SDK client is the same handler built with serverless-esbuild's defaults (CommonJS, not minified, the SDK's default entry points), loaded next to it in each round as Lambda loads each (ours by \`import()\`, the peer's CommonJS by \`require()\`), which of the two first alternating from round to round; the ratio is of the two medians. CPU: the process's CPU time over the same load (all threads; median), which other work on the machine delays but hardly adds to. For scale, \`import('node:https')\` alone, which every bundle with an SDK client pays, took ${results.bundles.nodeHttpsImportMs} ms (median) in the same rounds.`,
    '',
    "| Function | Bundle | Cold import (median · fastest) | Peer: bundle, import (median · fastest) | Import / peer's | CPU: ours / peer's | Largest packages |",
    '|---|---|---|---|---|---|---|',
    ...bundles.map(
      (fn) =>
        `| ${fn.name} | ${kib(fn.bytes)} | ${fn.importMs} · ${fn.fastestImportMs} ms | ${fn.peer ? `${kib(fn.peer.bytes)}, ${fn.peer.importMs} · ${fn.peer.fastestImportMs} ms` : '— (no SDK client)'} | ${fn.peer?.importRatio ?? '—'} | ${fn.peer ? `${fn.importCpuMs} / ${fn.peer.importCpuMs} ms = ${fn.peer.cpuRatio}` : `${fn.importCpuMs} ms`} | ${fn.largestPackages
          .slice(0, 3)
          .map(({ name, bytes }) => `${name} ${kib(bytes)}`)
          .join(', ')} |`,
    ),
    '',
    '## Scaling (quotas off, timeScale 0, one process per size)',
    '',
    '| Devices | Time | Devices / s | Peak RSS | Lost |',
    '|---|---|---|---|---|',
    ...results.scaling.map(
      (size) => `| ${size.devices} | ${size.seconds} s | ${size.devicesPerSecond} | ${size.peakRssMB} MiB | ${size.lost} |`,
    ),
    '',
  ];
  return lines.join('\n');
}
