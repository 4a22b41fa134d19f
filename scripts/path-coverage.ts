/**
 * `npm run paths`: which states, Retry branches and Catch branches of statemachines/*.asl.yaml the tests drive.
 * The tests run first with PATH_COVERAGE_DIR set; each execution they ran is a trace there
 * (test/support/path-coverage.ts). A retried failed attempt counts for the first retrier of its state whose
 * ErrorEquals names its error (or States.ALL), as Step Functions picks it; a caught one for the first matching catcher.
 *
 *   node scripts/path-coverage.ts <traces dir> [<result json>]
 *
 * Prints every branch with the tests that drive it (--verbose) or only the undriven ones, writes the result as
 * JSON (for scripts/reliability-report.ts), and exits 1 when any branch is undriven.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadServerlessProject, stateMachineDefinition } from '../local-cloud/index.ts';
import { forEachState } from '../local-cloud/services/stepfunctions/asl-states.ts';

/** One execution a test ran, as the tests write it to the traces directory (one JSON line each). */
export interface ExecutionTrace {
  /** The state machine's first state, which names it: ProvisionDevices or DisassociateClientDevices. */
  startAt: string;
  entered: string[];
  retried: Array<{ state: string; error: string }>;
  caught: Array<{ state: string; error: string }>;
  /** A failed attempt that neither a Retry nor a Catch took: the execution (or its Map) failed with it. */
  uncaught: Array<{ state: string; error: string }>;
}

export interface TraceRecord extends ExecutionTrace {
  test: string;
  source: 'local-cloud' | 'aws-local-stepfunctions';
}

/** Keys of serverless.yml's `stepFunctions.stateMachines`. */
const MACHINES = ['provision', 'deprovision'] as const;
type Machine = (typeof MACHINES)[number];

interface Rule {
  ErrorEquals: string[];
  Next?: string;
}

export interface Branch {
  machine: Machine;
  /** `State`, `State Retry[i] (errors)` or `State Catch[i] -> Next`. */
  id: string;
  kind: 'state' | 'retry' | 'catch';
  tests: string[];
}

export interface PathCoverageResult {
  date: string;
  traces: number;
  branches: number;
  driven: number;
  undriven: Array<{ machine: Machine; id: string }>;
  byKind: Record<Branch['kind'], { branches: number; driven: number }>;
}

function matches(rule: Rule, error: string): boolean {
  return rule.ErrorEquals.includes(error) || rule.ErrorEquals.includes('States.ALL');
}

export function pathCoverage(traces: TraceRecord[], definitions: Record<Machine, unknown>): { branches: Branch[]; unmatched: string[] } {
  const branches: Branch[] = [];
  const unmatched: string[] = [];
  const lookup = new Map<string, Branch>();
  const states = new Map<string, { Retry?: Rule[]; Catch?: Rule[] }>();
  const startAt = new Map<string, Machine>();
  const add = (branch: Omit<Branch, 'tests'>, key: string) => {
    const entry = { ...branch, tests: [] };
    branches.push(entry);
    lookup.set(key, entry);
  };
  for (const [machine, definition] of Object.entries(definitions) as Array<[Machine, { StartAt: string }]>) {
    startAt.set(definition.StartAt, machine);
    forEachState(definition, (name, state) => {
      const { Retry = [], Catch = [] } = state as { Retry?: Rule[]; Catch?: Rule[] };
      states.set(`${machine}/${name}`, { Retry, Catch });
      add({ machine, id: name, kind: 'state' }, `${machine}/state/${name}`);
      for (const [index, rule] of Retry.entries())
        add(
          { machine, id: `${name} Retry[${index}] (${rule.ErrorEquals.join(', ')})`, kind: 'retry' },
          `${machine}/retry/${name}/${index}`,
        );
      for (const [index, rule] of Catch.entries())
        add(
          { machine, id: `${name} Catch[${index}] (${rule.ErrorEquals.join(', ')}) -> ${rule.Next}`, kind: 'catch' },
          `${machine}/catch/${name}/${index}`,
        );
    });
  }
  const credit = (key: string, test: string, what: string) => {
    const branch = lookup.get(key);
    if (!branch) return unmatched.push(`${what} (${test})`);
    if (!branch.tests.includes(test)) branch.tests.push(test);
  };
  for (const trace of traces) {
    const machine = startAt.get(trace.startAt);
    if (!machine) {
      unmatched.push(`an execution starting at ${trace.startAt || 'nothing'} (${trace.test})`);
      continue;
    }
    for (const name of new Set(trace.entered)) credit(`${machine}/state/${name}`, trace.test, `state ${name}`);
    for (const [kind, failures] of [
      ['retry', trace.retried],
      ['catch', trace.caught],
    ] as const) {
      for (const { state, error } of failures) {
        const rules = (kind === 'retry' ? states.get(`${machine}/${state}`)?.Retry : states.get(`${machine}/${state}`)?.Catch) ?? [];
        const index = rules.findIndex((rule) => matches(rule, error));
        credit(`${machine}/${kind}/${state}/${index}`, trace.test, `${kind} of ${error} at ${state}`);
      }
    }
  }
  return { branches, unmatched };
}

function readTraces(directory: string): TraceRecord[] {
  let files: string[];
  try {
    files = readdirSync(directory).filter((file) => file.endsWith('.jsonl'));
  } catch {
    files = [];
  }
  return files.flatMap((file) =>
    readFileSync(join(directory, file), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as TraceRecord),
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const verbose = args.includes('--verbose');
  const [directory, output] = args.filter((arg) => !arg.startsWith('--'));
  if (!directory) {
    console.error('usage: node scripts/path-coverage.ts <traces dir> [<result json>] [--verbose]');
    process.exit(2);
  }
  const traces = readTraces(directory);
  if (traces.length === 0) {
    console.error(`no execution traces in ${directory}: did the tests run with PATH_COVERAGE_DIR set?`);
    process.exit(1);
  }
  const project = await loadServerlessProject();
  const definitions = Object.fromEntries(MACHINES.map((machine) => [machine, stateMachineDefinition(project, machine)])) as Record<
    Machine,
    unknown
  >;
  const { branches, unmatched } = pathCoverage(traces, definitions);
  const undriven = branches.filter((branch) => branch.tests.length === 0);
  const byKind = Object.fromEntries(
    (['state', 'retry', 'catch'] as const).map((kind) => {
      const all = branches.filter((branch) => branch.kind === kind);
      return [kind, { branches: all.length, driven: all.filter((branch) => branch.tests.length > 0).length }];
    }),
  ) as PathCoverageResult['byKind'];

  if (verbose) {
    for (const branch of branches)
      console.log(
        `${branch.tests.length > 0 ? '  driven ' : 'UNDRIVEN'} ${branch.machine} ${branch.id}${branch.tests.length > 0 ? `\n           ${branch.tests.slice(0, 3).join('\n           ')}${branch.tests.length > 3 ? `\n           … and ${branch.tests.length - 3} more` : ''}` : ''}`,
      );
  }
  for (const note of unmatched) console.log(`not in the definitions (a renamed state?): ${note}`);
  const summary = (['state', 'retry', 'catch'] as const)
    .map((kind) => `${byKind[kind].driven}/${byKind[kind].branches} ${kind === 'state' ? 'states' : `${kind} branches`}`)
    .join(', ');
  console.log(`\n${traces.length} executions traced; driven: ${summary}.`);
  if (undriven.length > 0) {
    console.log(`\nNot driven by any test (${undriven.length}):`);
    for (const branch of undriven) console.log(`  ${branch.machine}: ${branch.id}`);
  }
  if (output) {
    const result: PathCoverageResult = {
      date: new Date().toISOString(),
      traces: traces.length,
      branches: branches.length,
      driven: branches.length - undriven.length,
      undriven: undriven.map(({ machine, id }) => ({ machine, id })),
      byKind,
    };
    mkdirSync(dirname(output), { recursive: true });
    writeFileSync(output, `${JSON.stringify(result, null, 2)}\n`);
  }
  process.exit(undriven.length > 0 ? 1 : 0);
}

if (import.meta.main) await main();
