import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** One line to sort, with the key it sorts by. */
export interface KeyedLine<K> {
  key: K;
  line: string;
}

/** Characters of lines held before they are sorted and spilled as one run: memory stays bounded whatever the total. */
const RUN_CHARACTERS = 16 * 1024 * 1024;

/**
 * Sorts more lines than a function's memory holds: lines are sorted in runs of bounded size, each spilled to the
 * function's /tmp, then merged run by run as they are read back. Hand-written because the sort libraries on npm
 * hold everything in memory or bring a stream framework of their own; this is a textbook merge of a few runs.
 * Lines must hold no line break (JSON lines do not); keys must survive JSON.
 */
export class ExternalSort<K> implements AsyncDisposable {
  readonly #compare: (left: K, right: K) => number;
  readonly #runCharacters: number;
  #pending: KeyedLine<K>[] = [];
  #pendingCharacters = 0;
  #directory: string | undefined;
  readonly #runs: string[] = [];

  constructor(compare: (left: K, right: K) => number, runCharacters = RUN_CHARACTERS) {
    this.#compare = compare;
    this.#runCharacters = runCharacters;
  }

  async add(key: K, line: string): Promise<void> {
    this.#pending.push({ key, line });
    this.#pendingCharacters += line.length;
    if (this.#pendingCharacters >= this.#runCharacters) await this.#spill();
  }

  /** Every line added, in key order (stable: equal keys keep the order they were added in). */
  async *sorted(): AsyncGenerator<KeyedLine<K>> {
    if (this.#runs.length === 0) {
      yield* this.#pending.sort((left, right) => this.#compare(left.key, right.key));
      return;
    }
    if (this.#pending.length > 0) await this.#spill();
    const readers = this.#runs.map((path) =>
      createInterface({ input: createReadStream(path), crlfDelay: Infinity })[Symbol.asyncIterator](),
    );
    const heads = await Promise.all(readers.map(nextKeyedLine<K>));
    for (;;) {
      let least = -1;
      heads.forEach((head, run) => {
        // Ties go to the earlier run, which holds the earlier added lines: the merge stays stable.
        if (head !== undefined && (least < 0 || this.#compare(head.key, heads[least]!.key) < 0)) least = run;
      });
      if (least < 0) return;
      yield heads[least]!;
      heads[least] = await nextKeyedLine<K>(readers[least]!);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // Stryker disable next-line BooleanLiteral: equivalent: the directory exists once set, so force spares no error that can occur
    if (this.#directory !== undefined) await rm(this.#directory, { recursive: true, force: true });
  }

  async #spill(): Promise<void> {
    this.#directory ??= await mkdtemp(join(tmpdir(), 'external-sort-'));
    const path = join(this.#directory, `run-${this.#runs.length}.jsonl`);
    const file = createWriteStream(path);
    for (const { key, line } of this.#pending.sort((left, right) => this.#compare(left.key, right.key))) {
      // A JSON key holds no raw tab, so the first tab ends it.
      if (!file.write(`${JSON.stringify(key)}\t${line}\n`)) await once(file, 'drain');
    }
    file.end();
    await once(file, 'finish');
    this.#runs.push(path);
    this.#pending = [];
    this.#pendingCharacters = 0;
  }
}

async function nextKeyedLine<K>(reader: AsyncIterator<string>): Promise<KeyedLine<K> | undefined> {
  const { done, value } = await reader.next();
  if (done) return undefined;
  const tab = value.indexOf('\t');
  return { key: JSON.parse(value.slice(0, tab)) as K, line: value.slice(tab + 1) };
}
