import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExternalSort } from '../../../../functions/lambda/external-sort.ts';

const sortRuns = async () => (await readdir(tmpdir())).filter((name) => name.startsWith('external-sort-'));

describe('ExternalSort', () => {
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
});
