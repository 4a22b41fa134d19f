import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../../', import.meta.url);
const documents = [
  'README.md',
  ...readdirSync(new URL('docs/', ROOT))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/**
 * osls's `invoke local` resolves only Ref and Fn::ImportValue in a function's environment, and a deployed stage's
 * environment holds an Fn::Join (the state machine ARNs) and AWS::NoValue: it fails before any call there.
 */
describe('sls invoke local in the documentation', () => {
  it('is shown with --stage local only, the one stage whose environment it can resolve', () => {
    const commands = documents.flatMap((path) =>
      readFileSync(new URL(path, ROOT), 'utf8')
        .split('\n')
        .filter((line) => /sls invoke local\s+-f\s/.test(line))
        .map((line) => ({ path, line: line.trim() })),
    );

    expect(commands.length).toBeGreaterThan(0);
    expect(commands.filter(({ line }) => !/--stage local\b/.test(line))).toEqual([]);
  });
});
