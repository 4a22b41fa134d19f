/**
 * `npm run reliability`: after `vitest run test/reliability` has run every scenario of
 * test/reliability/scenarios.ts with RELIABILITY_FIGURES_DIR set (each writes one JSON file there),
 * prints the figures table and writes it into docs/reliability.md, between its figures markers.
 *
 *   node scripts/reliability-report.ts <figures dir> [<markdown file>]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { ScenarioResult } from '../test/reliability/scenarios.ts';

type Figures = Omit<ScenarioResult, 'first' | 'rerun'> & {
  first: Omit<ScenarioResult['first'], 'summary'>;
  rerun: Omit<ScenarioResult['rerun'], 'summary'>;
};

const [directory, output] = process.argv.slice(2);
if (!directory) {
  console.error('usage: node scripts/reliability-report.ts <figures dir> [<markdown file>]');
  process.exit(2);
}

const results: Figures[] = readdirSync(directory)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => JSON.parse(readFileSync(join(directory, file), 'utf8')) as Figures);
if (results.length === 0) {
  console.error(`no scenario figures in ${directory}: did the reliability tests run?`);
  process.exit(1);
}

const attempts = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([, a], [, b]) => b - a)
    .map(([error, count]) => `${error} ${count}`)
    .join(', ') || '—';
const outcome = (run: Figures['first'], kind: Figures['kind']) =>
  `${run.succeeded} ${kind === 'provision' ? 'provisioned' : 'removed'}, ${run.failed} failed${kind === 'provision' ? ` (${run.rolledBack} rolled back)` : ''}`;

const header = [
  '| Scenario | Faults injected | Devices / cores | Cloud calls (throttled / failed) | Failed attempts retried or caught | Entry re-drives | First run | Invariant violations | Re-run, new requestId | Wall time |',
  '|---|---|---|---|---|---|---|---|---|---|',
];
const rows = results.map((result) =>
  [
    `\`${result.scenario}\``,
    result.faultDescription,
    `${result.devices} / ${result.cores}`,
    `${result.cloudCalls.calls} (${result.cloudCalls.throttled} / ${result.cloudCalls.failed})`,
    attempts(result.first.failedAttempts),
    String(result.first.redrives),
    outcome(result.first, result.kind),
    String(result.first.violations.length + result.rerun.violations.length),
    outcome(result.rerun, result.kind),
    `${(result.wallMs / 1000).toFixed(1)} s`,
  ].join(' | '),
);
const totals = results.reduce(
  (sum, result) => ({
    devices: sum.devices + result.devices,
    calls: sum.calls + result.cloudCalls.calls,
    throttled: sum.throttled + result.cloudCalls.throttled,
    failed: sum.failed + result.cloudCalls.failed,
    violations: sum.violations + result.first.violations.length + result.rerun.violations.length,
  }),
  { devices: 0, calls: 0, throttled: 0, failed: 0, violations: 0 },
);
const table = [...header, ...rows.map((row) => `| ${row} |`)].join('\n');
const footer =
  `${results.length} scenarios, ${totals.devices} devices per run, ${totals.calls} calls to the local cloud in the first runs ` +
  `(${totals.throttled} throttled, ${totals.failed} failed), ${totals.violations} invariant violations.`;

console.log(`\n${table}\n\n${footer}`);
if (output) {
  // The document keeps its prose; only what lies between the markers is the run's.
  const start = '<!-- figures:start -->';
  const end = '<!-- figures:end -->';
  const document = readFileSync(output, 'utf8');
  const [before, rest] = document.split(start);
  const after = rest?.split(end)[1];
  if (before === undefined || after === undefined) throw new Error(`${output} has no ${start} … ${end} markers`);
  const run = `Run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores, Node ${process.version}.`;
  writeFileSync(output, `${before}${start}\n${run}\n\n${table}\n\n${footer}\n${end}${after}`);
  console.log(`\nwritten to ${output}`);
}
