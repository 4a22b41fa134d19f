/** latest.json's shape, the targets of the "Fleet scale" issue, and latest.md rendered from them. */
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
  largestPackages: { name: string; bytes: number }[];
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
  cost: CostFigure;
  costThrottled: CostFigure;
  latency: { runs: number; p50Ms: number; p99Ms: number; executionP50Ms: number; executionP99Ms: number };
  bundles: { importRuns: number; nodeHttpsImportMs: number; functions: BundleFigure[] };
  scaling: { devices: number; seconds: number; devicesPerSecond: number; peakRssMB: number; lost: number }[];
}

const TARGETS = {
  quotaEfficiencyRatio: 0.9,
  transitionsPerDevice: 6,
  apiCallsPerDevice: 2.05,
  latencyP50Ms: 50,
  bundleBytes: 400 * 1024,
  importMs: 60,
} as const;

const mark = (met: boolean) => (met ? 'yes' : '**no**');
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

/** The issue sets targets for the run without faults; the throttled run is reported beside it. */
function costRows(label: string, figure: CostFigure, judged: boolean): string[] {
  const target = (limit: number) => (judged ? `≤ ${limit}` : '—');
  const met = (ok: boolean) => (judged ? mark(ok) : '—');
  return [
    `| ${label}: state transitions / device | ${figure.transitionsPerDevice} (billed with retries: ${figure.billedTransitionsPerDevice}) | ${target(TARGETS.transitionsPerDevice)} | ${met(figure.transitionsPerDevice <= TARGETS.transitionsPerDevice)} |`,
    `| ${label}: IoT + Greengrass calls / device, rollbackOnFailure true (default) | ${figure.apiCallsPerDevice} | ${target(TARGETS.apiCallsPerDevice)} | ${met(figure.apiCallsPerDevice <= TARGETS.apiCallsPerDevice)} |`,
    `| ${label}: IoT + Greengrass calls / device, rollbackOnFailure false | ${figure.apiCallsPerDeviceWithoutRollback} | ${target(TARGETS.apiCallsPerDevice)} | ${met(figure.apiCallsPerDeviceWithoutRollback <= TARGETS.apiCallsPerDevice)} |`,
  ];
}

export function renderMarkdown(results: BenchResults): string {
  const { machine, quotaEfficiency: quota, latency } = results;
  const bundles = results.bundles.functions;
  const largest = bundles.reduce((max, next) => (next.bytes > max.bytes ? next : max));
  const slowest = bundles.reduce((max, next) => (next.importMs > max.importMs ? next : max));
  const lines = [
    `# Benchmark results (${results.mode})`,
    '',
    `${results.date} · ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB · Node ${machine.node} (${machine.platform}) · \`npm run bench${results.mode === 'quick' ? ' -- --quick' : ''}\` took ${results.wallSeconds} s`,
    '',
    '| Figure | Measured | Target | Met |',
    '|---|---|---|---|',
    `| quotaEfficiency: ${quota.devices} devices, quota floor ${quota.quotaFloorSeconds} s / measured | ${quota.ratio} (${quota.seconds} s, ${quota.throttled} throttled, ${quota.lost} lost; the product's pacing: DEVICE_STEP_SECONDS ${quota.deviceStepSeconds} → ${quota.deviceConcurrency} devices in flight for a lone request, shared by concurrent ones) | ≥ ${TARGETS.quotaEfficiencyRatio}, 0 lost | ${mark(quota.ratio >= TARGETS.quotaEfficiencyRatio && quota.lost === 0)} |`,
    `| peer (CDF greengrass2-provisioning style), same quotas | ${quota.peer.ratio} (${quota.peer.seconds} s, ${quota.peer.throttled} throttled, **${quota.peer.lost} lost**) | — | — |`,
    ...costRows('cost', results.cost, true),
    ...costRows('costThrottled (30% on every API)', results.costThrottled, false),
    `| latency: one device to SUCCEEDED, p50 / p99 (${latency.runs} runs, GET polled every 2 ms) | ${latency.p50Ms} / ${latency.p99Ms} ms (execution alone: ${latency.executionP50Ms} / ${latency.executionP99Ms} ms) | p50 ≤ ${TARGETS.latencyP50Ms} ms | ${mark(latency.p50Ms <= TARGETS.latencyP50Ms)} |`,
    `| bundles: largest (${largest.name}) | ${kib(largest.bytes)} | ≤ ${kib(TARGETS.bundleBytes)} each | ${mark(bundles.every(({ bytes }) => bytes <= TARGETS.bundleBytes))} |`,
    `| bundles: slowest cold import (${slowest.name}, median of ${results.bundles.importRuns}) | ${slowest.importMs} ms | ≤ ${TARGETS.importMs} ms each | ${mark(bundles.every(({ importMs }) => importMs <= TARGETS.importMs))} |`,
    '',
    '## Bundles',
    '',
    `Cold import: median and fastest of ${results.bundles.importRuns} rounds, each importing every bundle once in a fresh Node process. For scale, \`import('node:https')\` alone, which every bundle with an SDK client pays, took ${results.bundles.nodeHttpsImportMs} ms (median) in the same rounds.`,
    '',
    '| Function | Bundle | Cold import (median · fastest) | Largest packages |',
    '|---|---|---|---|',
    ...bundles.map(
      (fn) =>
        `| ${fn.name} | ${kib(fn.bytes)} | ${fn.importMs} · ${fn.fastestImportMs} ms | ${fn.largestPackages
          .slice(0, 3)
          .map(({ name, bytes }) => `${name} ${kib(bytes)}`)
          .join(', ')} |`,
    ),
    '',
    '## Scaling (quotas off, timeScale 0, one process per size)',
    '',
    '| Devices | Time | Devices / s | Peak RSS | Lost |',
    '|---|---|---|---|---|',
    ...results.scaling.map((size) => `| ${size.devices} | ${size.seconds} s | ${size.devicesPerSecond} | ${size.peakRssMB} MiB | ${size.lost} |`),
    '',
  ];
  return lines.join('\n');
}
