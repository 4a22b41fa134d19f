import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ExternalSort } from '../../../../functions/lambda/external-sort.ts';

const sortRuns = async () => (await readdir(tmpdir())).filter((name) => name.startsWith('external-sort-'));

describe('ExternalSort', () => {
  // A temporary directory of these tests' own, so that another process's sorts do not show among theirs.
  let ownTmp: string;
  beforeAll(async () => {
    ownTmp = await mkdtemp(join(tmpdir(), 'sort-tests-'));
    vi.stubEnv('TMPDIR', ownTmp);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await rm(ownTmp, { recursive: true, force: true });
  });

  it('gives back every line in key order, equal keys in the order added, whether its runs spill or not', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: 20 }), { maxLength: 300 }), fc.integer({ min: 1, max: 400 }), async (keys, runCharacters) => {
        await using sort = new ExternalSort<number>((left, right) => left - right, runCharacters);
        for (const [position, key] of keys.entries()) await sort.add(key, `item ${position}`);
        const sorted = [];
        for await (const { key, line } of sort.sorted()) sorted.push([key, line]);
        const expected = keys.map((key, position) => [key, `item ${position}`]).sort(([left], [right]) => Number(left) - Number(right));
        expect(sorted).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });

  it('spills its runs to a temporary directory, keeping lines with tabs whole, and removes it when disposed', async () => {
    const before = await sortRuns();
    {
      await using sort = new ExternalSort<[string, number]>((left, right) => left[0].localeCompare(right[0]) || left[1] - right[1], 1_000);
      for (let index = 0; index < 500; index++) await sort.add([`core-${index % 7}`, index], JSON.stringify({ index, tab: '\t' }));
      expect((await sortRuns()).length).toBe(before.length + 1);
      let count = 0;
      for await (const { line } of sort.sorted()) count += JSON.parse(line).tab === '\t' ? 1 : 0;
      expect(count).toBe(500);
    }
    expect(await sortRuns()).toEqual(before);
  });

  /** The run files of the sort directories made since `before`. */
  const runFiles = async (before: string[]) => {
    const made = (await sortRuns()).filter((name) => !before.includes(name));
    return (await Promise.all(made.map((name) => readdir(join(tmpdir(), name))))).flat();
  };

  it('spills a run once its lines reach the run size, and never an empty one; lines under it stay in memory', async () => {
    const before = await sortRuns();
    const tenCharacters = (index: number) => `line ${String(index).padStart(5, '0')}`;
    {
      await using small = new ExternalSort<number>((left, right) => left - right, 100);
      for (let index = 9; index > 0; index--) await small.add(index, tenCharacters(index));
      const sorted = [];
      for await (const { line } of small.sorted()) sorted.push(line);
      expect(sorted).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map(tenCharacters));
      expect(await sortRuns()).toEqual(before);

      await using full = new ExternalSort<number>((left, right) => left - right, 100);
      for (let index = 10; index > 0; index--) await full.add(index, tenCharacters(index));
      expect(await runFiles(before)).toEqual(['run-0.jsonl']);
      const merged = [];
      for await (const { line } of full.sorted()) merged.push(line);
      expect(merged).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(tenCharacters));
      expect(await runFiles(before)).toEqual(['run-0.jsonl']);
    }
    expect(await sortRuns()).toEqual(before);
  });

  it('keeps 100 KB of lines in memory under its default run size', async () => {
    const before = await sortRuns();
    // Loaded afresh, so that the default run size the module sets when it loads is this test's to check.
    vi.resetModules();
    const fresh = await import('../../../../functions/lambda/external-sort.ts');
    await using sort = new fresh.ExternalSort<number>((left, right) => left - right);
    for (let index = 999; index >= 0; index--) await sort.add(index, 'x'.repeat(100));
    let count = 0;
    for await (const _ of sort.sorted()) count += 1;
    expect(count).toBe(1_000);
    expect(await sortRuns()).toEqual(before);
  });

  it('spills runs larger than a write buffer whole', async () => {
    // Runs of 200 KB, past a write stream's buffer (64 KiB): the spill waits for it to drain.
    await using sort = new ExternalSort<number>((left, right) => left - right, 200_000);
    const line = (index: number) => `${index}:${'x'.repeat(1_000)}`;
    for (let index = 299; index >= 0; index--) await sort.add(index, line(index));
    const sorted = [];
    for await (const { line: sortedLine } of sort.sorted()) sorted.push(sortedLine);
    expect(sorted).toEqual(Array.from({ length: 300 }, (_, index) => line(index)));
  });
});
