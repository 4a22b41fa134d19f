/**
 * Reads Stryker's JSON report (reports/mutation/mutation.json, written by `npm run mutation`) and prints the
 * score per file and every mutant that survived or has no test, by file and line.
 *
 *   node scripts/mutation-report.ts [<report json>] [--survivors]
 */
import { readFileSync } from 'node:fs';

export const MUTATION_REPORT = 'reports/mutation/mutation.json';

interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}

interface Report {
  files: Record<string, { source: string; mutants: Mutant[] }>;
}

export interface FileScore {
  file: string;
  killed: number;
  survived: number;
  noCoverage: number;
  /** Killed and timed out over all valid mutants (those that compile and are not ignored): Stryker's score. */
  score: number;
  mutants: number;
}

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

export function mutationScores(report: Report): { files: FileScore[]; total: FileScore } {
  const files = Object.entries(report.files)
    .map(([file, { mutants }]) => {
      const detected = mutants.filter((mutant) => DETECTED.has(mutant.status)).length;
      const survived = mutants.filter((mutant) => mutant.status === 'Survived').length;
      const noCoverage = mutants.filter((mutant) => mutant.status === 'NoCoverage').length;
      const valid = detected + survived + noCoverage;
      return { file, killed: detected, survived, noCoverage, mutants: valid, score: valid === 0 ? 100 : (100 * detected) / valid };
    })
    .sort((a, b) => a.file.localeCompare(b.file));
  const sum = files.reduce(
    (total, file) => ({
      killed: total.killed + file.killed,
      survived: total.survived + file.survived,
      noCoverage: total.noCoverage + file.noCoverage,
      mutants: total.mutants + file.mutants,
    }),
    { killed: 0, survived: 0, noCoverage: 0, mutants: 0 },
  );
  return { files, total: { file: 'all files', ...sum, score: sum.mutants === 0 ? 100 : (100 * sum.killed) / sum.mutants } };
}

export function survivors(report: Report): string[] {
  return Object.entries(report.files).flatMap(([file, { source, mutants }]) => {
    const lines = source.split('\n');
    return mutants
      .filter((mutant) => UNDETECTED.has(mutant.status))
      .sort((a, b) => a.location.start.line - b.location.start.line)
      .map((mutant) => {
        const line = mutant.location.start.line;
        return `${file}:${line} ${mutant.status} ${mutant.mutatorName}: ${(mutant.replacement ?? '').replace(/\s+/g, ' ').slice(0, 100)}\n    ${(lines[line - 1] ?? '').trim().slice(0, 140)}`;
      });
  });
}

export function readMutationReport(file = MUTATION_REPORT): Report {
  return JSON.parse(readFileSync(file, 'utf8')) as Report;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const report = readMutationReport(args.find((arg) => !arg.startsWith('--')));
  const { files, total } = mutationScores(report);
  for (const file of [...files, total]) {
    console.log(
      `${file.score.toFixed(1).padStart(6)}%  ${String(file.killed).padStart(4)} killed  ${String(file.survived).padStart(3)} survived  ${String(file.noCoverage).padStart(3)} no coverage  ${file.file}`,
    );
  }
  if (args.includes('--survivors')) console.log(`\n${survivors(report).join('\n')}`);
}
