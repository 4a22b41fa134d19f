import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

function quoted(document: string, marker: string): string | undefined {
  return new RegExp(`<!-- ${marker}:start -->\\n([\\s\\S]*?)\\n?<!-- ${marker}:end -->`).exec(document)?.[1];
}

/** `npm run reliability` writes its figures to a results file, not into the page: the page quotes them, and must not drift. */
describe('docs/reliability.md', () => {
  it('quotes the summary and the suite figures of bench/results/reliability.json as they are', () => {
    const results = JSON.parse(read('bench/results/reliability.json')) as { summary: string; suite: string };
    const page = read('docs/reliability.md');

    expect(quoted(page, 'reliability-summary')).toBe(results.summary);
    expect(quoted(page, 'suite') ?? '').toBe(results.suite);
  });
});
