/**
 * `npm run reliability`: after `vitest run test/integration/reliability` has run every scenario of
 * test/integration/reliability/scenarios.ts with RELIABILITY_FIGURES_DIR set (each writes one JSON file there),
 * prints the figures table and writes the results file (bench/results/reliability.json), which
 * docs/reliability.md quotes. It also reports the latest mutation score (`npm run mutation`,
 * reports/mutation/mutation.json) and the latest path coverage of the state machines (`npm run paths`,
 * reports/paths/path-coverage.json). A markdown file instead writes both between its figures and suite markers.
 * `--suite` refreshes only those two in the results file and the page that quotes it, the scenario figures
 * left as the last reliability run wrote them.
 *
 *   node scripts/reliability-report.ts <figures dir> [<results .json | markdown file>]
 *   node scripts/reliability-report.ts --suite <results .json> <markdown file>
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { MUTATION_REPORT, mutationScores, readMutationReport } from './mutation-report.ts';
import type { PathCoverageResult } from './path-coverage.ts';

const PATH_COVERAGE_RESULT = 'reports/paths/path-coverage.json';
/** The files whose mutants decide what rollback and deprovisioning delete or detach: each is named in the report. */
const DELETION_DECIDING = [
  'functions/domain/rollback.ts',
  'functions/domain/execution-input.ts',
  'functions/domain/provisioning-template.ts',
  'functions/domain/deprovisioning-request.ts',
  'functions/domain/errors.ts',
  'functions/aws/iot-operations.ts',
  'functions/aws/greengrass-operations.ts',
  'functions/tasks/removal-step.ts',
];

/** What one run of a scenario did. */
export interface RunFigures {
  succeeded: number;
  failed: number;
  rolledBack: number;
  /** Failed Lambda attempts in the execution history, by error name: each one was retried or caught. */
  failedAttempts: Record<string, number>;
  /** Batch calls made again for error entries (the only Wait states of both machines are these re-drives). */
  redrives: number;
  /** Failed devices whose rollback did not finish (`rollback.incomplete`). */
  incompleteRollbacks: number;
  /** States entered, the unit Step Functions bills (retries of a Task are billed too, and not counted here). */
  stateTransitions: number;
  violations: string[];
  /** Devices a cancel left NOT_STARTED. */
  notStarted: number;
  /** A cancelled run: after how many finished iterations the cancel was sent, and the HTTP status it was answered with. */
  cancel?: { afterIterations: number; statusCode: number };
}

/** The figures file each reliability scenario writes: its first run under faults and the re-run without. */
export interface ScenarioFigures {
  scenario: string;
  kind: 'provision' | 'deprovision';
  faultDescription: string;
  devices: number;
  cores: number;
  first: RunFigures;
  rerun: RunFigures;
  /**
   * The local cloud's counters during the first run, summed over the operations the service calls (not
   * the harness's polling). `failed` also counts the DescribeThing 404 with which inspection finds that
   * a thing is new: one per new device.
   */
  cloudCalls: { calls: number; throttled: number; failed: number };
  wallMs: number;
}

const [directory, output] = process.argv.slice(2);
if (directory === '--suite') {
  const [resultsFile, page] = process.argv.slice(3);
  if (!resultsFile || !page) {
    console.error('usage: node scripts/reliability-report.ts --suite <results .json> <markdown file>');
    process.exit(2);
  }
  const suite = suiteFigures();
  const recorded = JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(resultsFile, `${JSON.stringify({ ...recorded, suite }, null, 2)}\n`);
  writeFileSync(page, between(readFileSync(page, 'utf8'), 'suite', suite));
  console.log(`${suite}\n\nwritten to ${resultsFile} and ${page}`);
  process.exit(0);
}
if (!directory) {
  console.error('usage: node scripts/reliability-report.ts <figures dir> [<markdown file>]');
  process.exit(2);
}

const results: ScenarioFigures[] = readdirSync(directory)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => JSON.parse(readFileSync(join(directory, file), 'utf8')) as ScenarioFigures);
if (results.length === 0) {
  console.error(`no scenario figures in ${directory}: did the reliability tests run?`);
  process.exit(1);
}

const attempts = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([, a], [, b]) => b - a)
    .map(([error, count]) => `${error} ${count}`)
    .join(', ') || '—';
const outcome = (run: RunFigures, kind: ScenarioFigures['kind']) =>
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

function minute(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The latest mutation score and path coverage, each as the command that measured it last left it. */
function suiteFigures(): string {
  const lines: string[] = [];
  if (existsSync(MUTATION_REPORT)) {
    const { files, total } = mutationScores(readMutationReport(MUTATION_REPORT));
    const percent = (score: number) => `${score.toFixed(1)}%`;
    lines.push(
      `Mutation score (\`npm run mutation\`, ${minute(statSync(MUTATION_REPORT).mtime)}): **${percent(total.score)}** of ${total.mutants} mutants of functions/domain, aws, api, tasks and lambda ` +
        `(${total.killed} killed, ${total.survived} survived, ${total.noCoverage} without a test).`,
      '',
      '| File that decides what is deleted or detached | Score | Survived | Without a test |',
      '|---|---|---|---|',
      ...DELETION_DECIDING.map((name) => {
        const file = files.find((candidate) => candidate.file === name);
        return file
          ? `| \`${name}\` | ${percent(file.score)} | ${file.survived} | ${file.noCoverage} |`
          : `| \`${name}\` | not mutated | — | — |`;
      }),
    );
  } else {
    lines.push(`Mutation score: not measured (no ${MUTATION_REPORT}: run \`npm run mutation\`).`);
  }
  lines.push('');
  if (existsSync(PATH_COVERAGE_RESULT)) {
    const paths = JSON.parse(readFileSync(PATH_COVERAGE_RESULT, 'utf8')) as PathCoverageResult;
    const kinds = `${paths.byKind.state.driven}/${paths.byKind.state.branches} states, ${paths.byKind.retry.driven}/${paths.byKind.retry.branches} Retry branches, ${paths.byKind.catch.driven}/${paths.byKind.catch.branches} Catch branches`;
    lines.push(
      `Path coverage of the state machines (\`npm run paths\`, ${minute(new Date(paths.date))}): **${paths.driven} of ${paths.branches}** driven by a named test (${kinds}), from ${paths.traces} executions.` +
        (paths.undriven.length === 0 ? '' : ` Not driven: ${paths.undriven.map(({ machine, id }) => `${machine} \`${id}\``).join(', ')}.`),
    );
  } else {
    lines.push(`Path coverage: not measured (no ${PATH_COVERAGE_RESULT}: run \`npm run paths\`).`);
  }
  return lines.join('\n');
}

/** The document keeps its prose; only what lies between a pair of markers is the run's. */
function between(document: string, name: string, content: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const [before, rest] = document.split(start);
  const after = rest?.split(end)[1];
  if (before === undefined || after === undefined) throw new Error(`the page has no ${start} … ${end} markers`);
  return `${before}${start}\n${content}\n${end}${after}`;
}

const suite = suiteFigures();
console.log(`\n${table}\n\n${footer}\n\n${suite}`);
if (output?.endsWith('.json')) {
  // The data, and the same text as printed, for the documentation to quote.
  const run = { date: new Date().toISOString(), cores: cpus().length, node: process.version };
  writeFileSync(
    output,
    `${JSON.stringify({ run, totals: { scenarios: results.length, ...totals }, summary: footer, table, suite, scenarios: results }, null, 2)}\n`,
  );
  console.log(`\nwritten to ${output}`);
} else if (output) {
  const run = `Run of ${minute(new Date())} on ${cpus().length} cores, Node ${process.version}.`;
  const document = between(readFileSync(output, 'utf8'), 'figures', `${run}\n\n${table}\n\n${footer}`);
  writeFileSync(output, document.includes('<!-- suite:start -->') ? between(document, 'suite', suite) : document);
  console.log(`\nwritten to ${output}`);
}
