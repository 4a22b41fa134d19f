import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  batchItems,
  exceedsTolerance,
  type ObjectStore,
  readItems,
} from '../../../../../local-cloud/services/stepfunctions/distributed-map/items.ts';
import {
  type ChildOutcome,
  type MapRunRecord,
  runMapRun,
} from '../../../../../local-cloud/services/stepfunctions/distributed-map/map-run.ts';

/** Objects in memory, keyed `bucket/key`: the S3 calls a Map Run makes, without S3. */
function memoryObjects(initial: Record<string, string> = {}): ObjectStore & { objects: Map<string, string> } {
  const objects = new Map(Object.entries(initial));
  return {
    objects,
    get: async (bucket, key) => {
      const body = objects.get(`${bucket}/${key}`);
      if (body === undefined) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
      // In small chunks, as a stream arrives: a line or a character may be split between two.
      return Readable.from(chunked(Buffer.from(body), 2));
    },
    list: async (bucket, prefix) =>
      [...objects.entries()]
        .filter(([path]) => path.startsWith(`${bucket}/${prefix}`))
        .map(([path, body]) => ({
          key: path.slice(bucket.length + 1),
          etag: '"e"',
          size: body.length,
          lastModified: new Date(1_700_000_000_000),
        })),
    put: async (bucket, key, body) => {
      objects.set(`${bucket}/${key}`, [...body].join(''));
    },
  };
}

function* chunked(bytes: Buffer, size: number): Generator<Buffer> {
  for (let start = 0; start < bytes.length; start += size) yield bytes.subarray(start, start + size);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const collected: T[] = [];
  for await (const item of items) collected.push(item);
  return collected;
}

const csvReader = (readerConfig: Record<string, unknown> = {}) => ({
  resource: 'arn:aws:states:::s3:getObject' as const,
  bucket: 'b',
  key: 'fleet.csv',
  readerConfig: { InputType: 'CSV' as const, CSVHeaderLocation: 'FIRST_ROW' as const, ...readerConfig },
});

describe('Distributed Map: reading items', () => {
  it('CSV with a header row: every field a string, short rows padded with "", extra fields dropped, quoted delimiters kept', async () => {
    const objects = memoryObjects({ 'b/fleet.csv': 'thingName,core\nsensor-1,gw\nsensor-2\n"a,b",gw,extra\n' });
    expect(await collect(readItems(csvReader(), objects))).toEqual([
      { thingName: 'sensor-1', core: 'gw' },
      { thingName: 'sensor-2', core: '' },
      { thingName: 'a,b', core: 'gw' },
    ]);
  });

  it('CSV with given headers reads the first row as an item, and MaxItems caps the items', async () => {
    const objects = memoryObjects({ 'b/fleet.csv': 's1,gw\ns2,gw\ns3,gw\n' });
    expect(
      await collect(readItems(csvReader({ CSVHeaderLocation: 'GIVEN', CSVHeaders: ['thingName', 'core'], MaxItems: 2 }), objects)),
    ).toEqual([
      { thingName: 's1', core: 'gw' },
      { thingName: 's2', core: 'gw' },
    ]);
  });

  it('JSON arrays and JSON Lines, read in chunks that split lines and characters', async () => {
    const objects = memoryObjects({ 'b/a.json': '[{"n":1},{"n":2}]', 'b/a.jsonl': '{"n":1}\n\n{"n":"é"}\n' });
    expect(
      await collect(
        readItems({ resource: 'arn:aws:states:::s3:getObject', bucket: 'b', key: 'a.json', readerConfig: { InputType: 'JSON' } }, objects),
      ),
    ).toEqual([{ n: 1 }, { n: 2 }]);
    expect(
      await collect(
        readItems(
          { resource: 'arn:aws:states:::s3:getObject', bucket: 'b', key: 'a.jsonl', readerConfig: { InputType: 'JSONL' } },
          objects,
        ),
      ),
    ).toEqual([{ n: 1 }, { n: 'é' }]);
  });

  it('an S3 listing: one item per object, in the fields AWS gives them', async () => {
    const objects = memoryObjects({ 'b/in/x.csv': 'abc', 'b/out/y.csv': 'z' });
    expect(
      await collect(readItems({ resource: 'arn:aws:states:::s3:listObjectsV2', bucket: 'b', prefix: 'in/', readerConfig: {} }, objects)),
    ).toEqual([{ Etag: '"e"', Key: 'in/x.csv', LastModified: 1_700_000_000, Size: 3, StorageClass: 'STANDARD' }]);
  });

  it.each([
    ['a missing object', 'missing.csv', {}, /GetObject s3:\/\/b\/missing.csv failed/],
    ['a JSON object that is not an array', 'o.json', { InputType: 'JSON' as const }, /does not hold a JSON array/],
    ['a malformed JSON line, with its line number', 'bad.jsonl', { InputType: 'JSONL' as const }, /line 2 is not valid JSON/],
  ] as const)('%s is States.ItemReaderFailed', async (_, key, readerConfig, message) => {
    const objects = memoryObjects({ 'b/o.json': '{"a":1}', 'b/bad.jsonl': '{"a":1}\n{oops\n' });
    await expect(
      collect(readItems({ resource: 'arn:aws:states:::s3:getObject', bucket: 'b', key, readerConfig }, objects)),
    ).rejects.toMatchObject({
      name: 'States.ItemReaderFailed',
      message: expect.stringMatching(message),
    });
  });
});

describe('Distributed Map: batching and tolerance', () => {
  it('batches by count, with BatchInput beside the items: 1,130 items at 100 a batch make 12 batches', async () => {
    const inputs = await batchItems(
      Array.from({ length: 1_130 }, (_, index) => index),
      { MaxItemsPerBatch: 100, BatchInput: { run: 'r' } },
    );
    const batches = inputs.map((input) => JSON.parse(input.json.toString()) as { BatchInput: unknown; Items: number[] });
    expect(batches.map((batch) => batch.Items.length)).toEqual([...Array(11).fill(100), 30]);
    expect(inputs.map((input) => input.items)).toEqual([...Array(11).fill(100), 30]);
    expect(batches[0]?.BatchInput).toEqual({ run: 'r' });
    expect(batches.flatMap((batch) => batch.Items)).toEqual(Array.from({ length: 1_130 }, (_, index) => index));
  });

  it('the byte cap wins over the count: no batch is larger than MaxInputBytesPerBatch', async () => {
    const item = { name: 'x'.repeat(90) };
    const batches = await batchItems(Array(20).fill(item), { MaxItemsPerBatch: 100, MaxInputBytesPerBatch: 1_000 });
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) expect(batch.json.length).toBeLessThanOrEqual(1_000);
    expect(batches.flatMap((batch) => (JSON.parse(batch.json.toString()) as { Items: unknown[] }).Items)).toEqual(Array(20).fill(item));
  });

  it('an item larger than the byte cap alone is States.ItemReaderFailed', async () => {
    await expect(batchItems([{ big: 'x'.repeat(2_000) }], { MaxInputBytesPerBatch: 1_000 })).rejects.toThrow(
      expect.objectContaining({ name: 'States.ItemReaderFailed' }),
    );
  });

  it.each([
    [1, 100, {}, true],
    [0, 100, {}, false],
    [5, 100, { percentage: 5 }, false],
    [6, 100, { percentage: 5 }, true],
    [2, 100, { count: 2 }, false],
    [3, 100, { count: 2 }, true],
    [3, 100, { count: 5, percentage: 2 }, true],
  ])('%i failed of %i with tolerance %o exceeds it: %s', (failed, total, tolerated, exceeds) => {
    expect(exceedsTolerance(failed, total, tolerated)).toBe(exceeds);
  });
});

describe('Distributed Map: a Map Run', () => {
  /** The closed children, as the execution store would keep them for the results to be read from. */
  const closed = new Map<string, ChildOutcome>();
  const childOutcome = (executionArn: string) => closed.get(executionArn)!;
  /** `input` is the child's input as the Map Run sends it, JSON text. */
  const outcome = (name: string, input: string, status: ChildOutcome['status'], output?: unknown) => {
    const child: ChildOutcome = {
      executionArn: `arn:aws:states:us-east-1:000000000000:execution:fleet/batches:${name}`,
      name,
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:fleet/batches',
      input,
      status,
      ...(output !== undefined && { output: JSON.stringify(output) }),
      ...(status !== 'SUCCEEDED' && { error: 'Boom', cause: 'it broke' }),
      startDate: new Date(0),
      stopDate: new Date(1_000),
    };
    closed.set(child.executionArn, child);
    return { executionArn: child.executionArn, status };
  };
  const run = {
    input: { bucket: 'b', key: 'fleet.csv', runId: 'r-1' },
    context: { Execution: { Id: 'parent' } },
    mapRunArn: 'arn:aws:states:us-east-1:000000000000:mapRun:fleet/batches:run-1',
    executionArn: 'parent',
  };

  it('reads, selects and batches the items, runs a child per batch at most MaxConcurrency at once, and writes the results AWS writes', async () => {
    const objects = memoryObjects({ 'b/fleet.csv': `thingName\n${Array.from({ length: 7 }, (_, index) => `d${index}`).join('\n')}\n` });
    let running = 0;
    let mostAtOnce = 0;
    let record: MapRunRecord | undefined;
    const result = await runMapRun(
      {
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'CSV', CSVHeaderLocation: 'FIRST_ROW' },
          Parameters: { 'Bucket.$': '$.bucket', 'Key.$': '$.key' },
        },
        ItemSelector: { 'device.$': '$$.Map.Item.Value.thingName', 'index.$': '$$.Map.Item.Index' },
        ItemBatcher: { MaxItemsPerBatch: 3, BatchInput: { 'runId.$': '$.runId' } },
        MaxConcurrency: 2,
        ResultWriter: { Resource: 'arn:aws:states:::s3:putObject', Parameters: { Bucket: 'b', Prefix: 'results' } },
      },
      run,
      {
        objects,
        childOutcome,
        started: (started) => {
          record = started;
        },
        runChild: async (name, input) => {
          running += 1;
          mostAtOnce = Math.max(mostAtOnce, running);
          await new Promise((resolve) => setImmediate(resolve));
          running -= 1;
          return outcome(name, input, 'SUCCEEDED', { done: (JSON.parse(input) as { Items: unknown[] }).Items.length });
        },
      },
    );

    expect(result).toEqual({ MapRunArn: run.mapRunArn, ResultWriterDetails: { Bucket: 'b', Key: 'results/run-1/manifest.json' } });
    expect(mostAtOnce).toBe(2);
    const succeeded = JSON.parse(objects.objects.get('b/results/run-1/SUCCEEDED_0.json') ?? '[]') as {
      Input: string;
      Status: string;
      Output: string;
    }[];
    expect(succeeded.map((entry) => JSON.parse(entry.Input))).toEqual([
      {
        BatchInput: { runId: 'r-1' },
        Items: [
          { device: 'd0', index: 0 },
          { device: 'd1', index: 1 },
          { device: 'd2', index: 2 },
        ],
      },
      {
        BatchInput: { runId: 'r-1' },
        Items: [
          { device: 'd3', index: 3 },
          { device: 'd4', index: 4 },
          { device: 'd5', index: 5 },
        ],
      },
      { BatchInput: { runId: 'r-1' }, Items: [{ device: 'd6', index: 6 }] },
    ]);
    expect(succeeded.every((entry) => entry.Status === 'SUCCEEDED')).toBe(true);
    const manifest = JSON.parse(objects.objects.get('b/results/run-1/manifest.json') ?? '{}');
    expect(manifest).toEqual({
      DestinationBucket: 'b',
      MapRunArn: run.mapRunArn,
      ResultFiles: {
        FAILED: [],
        PENDING: [],
        SUCCEEDED: [
          { Key: 'results/run-1/SUCCEEDED_0.json', Size: Buffer.byteLength(objects.objects.get('b/results/run-1/SUCCEEDED_0.json') ?? '') },
        ],
      },
    });
    expect(record).toMatchObject({
      status: 'SUCCEEDED',
      itemCounts: { total: 7, succeeded: 7, pending: 0, running: 0, resultsWritten: 7 },
      executionCounts: { total: 3, succeeded: 3, pending: 0, running: 0, resultsWritten: 3 },
    });
  });

  it("without a ResultWriter the result is the children's outputs, in order", async () => {
    const result = await runMapRun(
      { ItemsPath: '$.items' },
      { ...run, input: { items: [1, 2, 3] } },
      {
        objects: memoryObjects(),
        childOutcome,
        started: () => undefined,
        runChild: async (name, input) => outcome(name, input, 'SUCCEEDED', Number(input) * 10),
      },
    );
    expect(result).toEqual([10, 20, 30]);
  });

  it('more failures than tolerated: no further child starts, the results say which failed and which never ran, and the state fails', async () => {
    const objects = memoryObjects();
    let record: MapRunRecord | undefined;
    const started: unknown[] = [];
    const failure = runMapRun(
      { ItemsPath: '$.items', MaxConcurrency: 1, ToleratedFailureCount: 1, ResultWriter: { Parameters: { Bucket: 'b', Prefix: 'out' } } },
      { ...run, input: { items: [1, 2, 3, 4, 5] } },
      {
        objects,
        childOutcome,
        started: (value) => {
          record = value;
        },
        runChild: async (name, input) => {
          started.push(JSON.parse(input));
          return outcome(name, input, Number(input) <= 2 ? 'FAILED' : 'SUCCEEDED', JSON.parse(input));
        },
      },
    );

    await expect(failure).rejects.toMatchObject({ name: 'States.ExceedToleratedFailureThreshold' });
    expect(started).toEqual([1, 2]);
    const manifest = JSON.parse(objects.objects.get('b/out/run-1/manifest.json') ?? '{}') as {
      ResultFiles: Record<string, { Key: string }[]>;
    };
    expect(manifest.ResultFiles.SUCCEEDED).toEqual([]);
    expect(JSON.parse(objects.objects.get('b/out/run-1/FAILED_0.json') ?? '[]')).toEqual([
      expect.objectContaining({ Input: '1', Status: 'FAILED', Error: 'Boom', RedriveStatus: 'REDRIVABLE_BY_MAP_RUN' }),
      expect.objectContaining({ Input: '2', Status: 'FAILED' }),
    ]);
    expect(JSON.parse(objects.objects.get('b/out/run-1/PENDING_0.json') ?? '[]').map((entry: { Input: string }) => entry.Input)).toEqual([
      '3',
      '4',
      '5',
    ]);
    expect(record).toMatchObject({ status: 'FAILED', itemCounts: { failed: 2, pending: 3, succeeded: 0 } });
  });

  it('a ResultWriter that cannot write fails the state with States.ResultWriterFailed', async () => {
    const objects = { ...memoryObjects(), put: async () => Promise.reject(new Error('NoSuchBucket')) };
    await expect(
      runMapRun(
        { ItemsPath: '$.items', ResultWriter: { Parameters: { Bucket: 'missing' } } },
        { ...run, input: { items: [1] } },
        {
          objects,
          childOutcome,
          started: () => undefined,
          runChild: async (name, input) => outcome(name, input, 'SUCCEEDED', 1),
        },
      ),
    ).rejects.toMatchObject({ name: 'States.ResultWriterFailed', message: expect.stringContaining('NoSuchBucket') });
  });
});
