import pLimit from 'p-limit';
import {
  batchItems,
  type ChildInput,
  exceedsTolerance,
  type ItemBatcherSpec,
  type ItemReaderSpec,
  itemInputs,
  type ObjectStore,
  readItems,
} from './items.ts';
import { resolveTemplate, selectPath } from './payload-template.ts';
import { StatesError } from './states-error.ts';

/** A DISTRIBUTED Map state's fields, as the definition spells them (JSONPath). */
export interface DistributedMapState {
  ItemsPath?: string;
  ItemReader?: {
    Resource: ItemReaderSpec['resource'];
    ReaderConfig?: ItemReaderSpec['readerConfig'] & { MaxItemsPath?: string };
    Parameters?: Record<string, unknown>;
  };
  ItemSelector?: Record<string, unknown>;
  ItemBatcher?: ItemBatcherSpec & { MaxItemsPerBatchPath?: string; MaxInputBytesPerBatchPath?: string };
  MaxConcurrency?: number;
  MaxConcurrencyPath?: string;
  ToleratedFailureCount?: number;
  ToleratedFailureCountPath?: string;
  ToleratedFailurePercentage?: number;
  ToleratedFailurePercentagePath?: string;
  ResultWriter?: { Resource?: string; Parameters?: { Bucket?: string; Prefix?: string; 'Bucket.$'?: string; 'Prefix.$'?: string } };
  Label?: string;
}

export type ChildStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** What a Map Run keeps of a child while it goes: its outcome is read back when the results are written. */
export type ChildRun = Pick<ChildOutcome, 'executionArn' | 'status'>;

/** A child execution as it closed. */
export interface ChildOutcome {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  input: string;
  status: ChildStatus;
  output?: string;
  error?: string;
  cause?: string;
  startDate: Date;
  stopDate: Date;
}

export interface RunCounts {
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  aborted: number;
  total: number;
  resultsWritten: number;
}

/** What DescribeMapRun shows, kept current while the run goes. */
export interface MapRunRecord {
  mapRunArn: string;
  executionArn: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  startDate: Date;
  stopDate?: Date;
  maxConcurrency: number;
  toleratedFailurePercentage: number;
  toleratedFailureCount: number;
  itemCounts: RunCounts;
  executionCounts: RunCounts;
}

export interface MapRunDependencies {
  objects: ObjectStore;
  /**
   * Starts one child execution of the ItemProcessor with its input (JSON text) and resolves when it has closed;
   * never rejects for the child's own failure.
   */
  runChild(name: string, input: string): Promise<ChildRun>;
  /**
   * A closed child's outcome, read when the results are written rather than kept from its end: a run's memory
   * does not grow with the inputs and outputs of its children (the execution store has them).
   */
  childOutcome(executionArn: string): ChildOutcome;
  /** Called once, when the run is known, before any child starts. */
  started(record: MapRunRecord): void;
}

const emptyCounts = (): RunCounts => ({
  pending: 0,
  running: 0,
  succeeded: 0,
  failed: 0,
  timedOut: 0,
  aborted: 0,
  total: 0,
  resultsWritten: 0,
});
const STATUS_COUNTER = { SUCCEEDED: 'succeeded', FAILED: 'failed', TIMED_OUT: 'timedOut', ABORTED: 'aborted' } as const;

function numberFrom(value: number | undefined, path: string | undefined, input: unknown, context: unknown, fallback: number): number {
  if (path !== undefined) {
    const selected = selectPath(path, input, context);
    if (typeof selected !== 'number' || selected < 0) throw new StatesError('States.Runtime', `${path} must select a non-negative number`);
    return selected;
  }
  return value ?? fallback;
}

/**
 * Runs a Map Run: reads the items (ItemReader or ItemsPath), selects and batches them, runs a child execution
 * per batch (or item) at most MaxConcurrency at once, stops starting children once the failures are more than
 * tolerated, writes the results (ResultWriter), and answers the state's result — or fails it with
 * States.ExceedToleratedFailureThreshold, States.ItemReaderFailed or States.ResultWriterFailed.
 */
export async function runMapRun(
  state: DistributedMapState,
  run: { input: unknown; context: unknown; mapRunArn: string; executionArn: string },
  dependencies: MapRunDependencies,
): Promise<unknown> {
  const { input, context } = run;
  // Read, selected and batched an item at a time: neither the object nor its items are held whole.
  const selected = selectedItems(state, input, context, itemsOf(state, input, context, dependencies.objects));
  const batcher = state.ItemBatcher && {
    MaxItemsPerBatch: numberFrom(
      state.ItemBatcher.MaxItemsPerBatch,
      state.ItemBatcher.MaxItemsPerBatchPath,
      input,
      context,
      Number.POSITIVE_INFINITY,
    ),
    MaxInputBytesPerBatch: numberFrom(
      state.ItemBatcher.MaxInputBytesPerBatch,
      state.ItemBatcher.MaxInputBytesPerBatchPath,
      input,
      context,
      256 * 1024,
    ),
    ...(state.ItemBatcher.BatchInput !== undefined && { BatchInput: resolveTemplate(state.ItemBatcher.BatchInput, input, context) }),
  };
  // The items are kept as their children's input texts only: the values are not held for the length of the run.
  const childInputs: (ChildInput | undefined)[] = await (batcher ? batchItems(selected, batcher) : itemInputs(selected));
  const itemsIn = childInputs.map((childInput) => childInput?.items ?? 0);
  const itemTotal = itemsIn.reduce((total, items) => total + items, 0);
  const maxConcurrency = numberFrom(state.MaxConcurrency, state.MaxConcurrencyPath, input, context, 0);
  const tolerated = {
    ...((state.ToleratedFailureCount !== undefined || state.ToleratedFailureCountPath !== undefined) && {
      count: numberFrom(state.ToleratedFailureCount, state.ToleratedFailureCountPath, input, context, 0),
    }),
    ...((state.ToleratedFailurePercentage !== undefined || state.ToleratedFailurePercentagePath !== undefined) && {
      percentage: numberFrom(state.ToleratedFailurePercentage, state.ToleratedFailurePercentagePath, input, context, 0),
    }),
  };

  const record: MapRunRecord = {
    mapRunArn: run.mapRunArn,
    executionArn: run.executionArn,
    status: 'RUNNING',
    startDate: new Date(),
    maxConcurrency,
    toleratedFailurePercentage: tolerated.percentage ?? 0,
    toleratedFailureCount: tolerated.count ?? 0,
    itemCounts: { ...emptyCounts(), pending: itemTotal, total: itemTotal },
    executionCounts: { ...emptyCounts(), pending: childInputs.length, total: childInputs.length },
  };
  dependencies.started(record);

  const move = (
    counts: keyof Pick<MapRunRecord, 'itemCounts' | 'executionCounts'>,
    from: keyof RunCounts,
    to: keyof RunCounts,
    amount: number,
  ) => {
    record[counts][from] -= amount;
    record[counts][to] += amount;
  };
  const outcomes: (ChildRun | undefined)[] = new Array(childInputs.length).fill(undefined);
  let failures = 0;
  let stopped = false;
  const limit = pLimit(maxConcurrency > 0 ? maxConcurrency : 10_000);
  await Promise.all(
    itemsIn.map((items, index) =>
      limit(async () => {
        if (stopped) return;
        move('executionCounts', 'pending', 'running', 1);
        move('itemCounts', 'pending', 'running', items);
        // A started child's input is the execution store's to keep; only those never started are written as PENDING.
        const childInput = childInputs[index]!.json.toString('utf8');
        childInputs[index] = undefined;
        const outcome = await dependencies.runChild(childName(run.mapRunArn, index), childInput);
        outcomes[index] = outcome;
        move('executionCounts', 'running', STATUS_COUNTER[outcome.status], 1);
        move('itemCounts', 'running', STATUS_COUNTER[outcome.status], items);
        if (outcome.status !== 'SUCCEEDED') failures += items;
        if (exceedsTolerance(failures, itemTotal, tolerated)) stopped = true;
      }),
    ),
  );

  const result = state.ResultWriter?.Parameters
    ? await writeResults(state.ResultWriter.Parameters, run, outcomes, childInputs, dependencies, record)
    : undefined;
  record.stopDate = new Date();
  if (stopped) {
    record.status = 'FAILED';
    throw new StatesError(
      'States.ExceedToleratedFailureThreshold',
      `The Map Run failed: ${failures} of ${itemTotal} items failed, more than tolerated`,
    );
  }
  record.status = 'SUCCEEDED';
  return (
    result ??
    outcomes.map((outcome) => JSON.parse((outcome && dependencies.childOutcome(outcome.executionArn).output) ?? 'null') as unknown)
  );
}

/** The items after ItemSelector, each selected as it is taken. */
async function* selectedItems(
  state: DistributedMapState,
  input: unknown,
  context: unknown,
  items: AsyncIterable<unknown> | Iterable<unknown>,
): AsyncGenerator<unknown> {
  let index = 0;
  for await (const item of items) {
    yield state.ItemSelector ? resolveTemplate(state.ItemSelector, input, mapContext(context, item, index)) : item;
    index += 1;
  }
}

function itemsOf(state: DistributedMapState, input: unknown, context: unknown, objects: ObjectStore): AsyncIterable<unknown> | unknown[] {
  if (!state.ItemReader) {
    const items = state.ItemsPath ? selectPath(state.ItemsPath, input, context) : input;
    if (!Array.isArray(items)) throw new StatesError('States.Runtime', 'The items of the Map state are not an array');
    return items;
  }
  const parameters = resolveTemplate(state.ItemReader.Parameters ?? {}, input, context) as {
    Bucket?: unknown;
    Key?: unknown;
    Prefix?: unknown;
  };
  const { MaxItemsPath, ...readerConfig } = state.ItemReader.ReaderConfig ?? {};
  return readItems(
    {
      resource: state.ItemReader.Resource,
      bucket: String(parameters.Bucket ?? ''),
      ...(typeof parameters.Key === 'string' && { key: parameters.Key }),
      ...(typeof parameters.Prefix === 'string' && { prefix: parameters.Prefix }),
      readerConfig: {
        ...readerConfig,
        ...(MaxItemsPath !== undefined && { MaxItems: numberFrom(undefined, MaxItemsPath, input, context, 0) }),
      },
    },
    objects,
  );
}

/** The context an ItemSelector sees: the execution's, plus the item and its index. */
function mapContext(context: unknown, value: unknown, index: number): unknown {
  return { ...(context as object), Map: { Item: { Index: index, Value: value } } };
}

/** Named as a retried batch would be: the same run and index reach the same name. */
function childName(mapRunArn: string, index: number): string {
  return `${mapRunArn.slice(mapRunArn.lastIndexOf(':') + 1).slice(0, 60)}-${index}`;
}

async function writeResults(
  parameters: NonNullable<NonNullable<DistributedMapState['ResultWriter']>['Parameters']>,
  run: { input: unknown; context: unknown; mapRunArn: string },
  outcomes: readonly (ChildRun | undefined)[],
  childInputs: readonly (ChildInput | undefined)[],
  { objects, childOutcome }: Pick<MapRunDependencies, 'objects' | 'childOutcome'>,
  record: MapRunRecord,
): Promise<unknown> {
  const { Bucket: bucket, Prefix: prefix = '' } = resolveTemplate(parameters, run.input, run.context) as {
    Bucket: string;
    Prefix?: string;
  };
  const mapRunId = run.mapRunArn.slice(run.mapRunArn.lastIndexOf(':') + 1);
  const folder = `${prefix ? `${prefix.replace(/\/$/, '')}/` : ''}${mapRunId}`;
  const closed = outcomes.filter((outcome): outcome is ChildRun => outcome !== undefined);
  // Entry by entry, each child's outcome read and serialised as the upload takes it: no file is held whole.
  const entries = (children: ChildRun[]) => children.map((child) => () => JSON.stringify(resultEntry(childOutcome(child.executionArn))));
  const files = {
    SUCCEEDED: entries(closed.filter((outcome) => outcome.status === 'SUCCEEDED')),
    FAILED: entries(closed.filter((outcome) => outcome.status !== 'SUCCEEDED')),
    PENDING: childInputs.flatMap((input) =>
      input ? [() => JSON.stringify({ Input: input.json.toString('utf8'), InputDetails: { Included: true } })] : [],
    ),
  };
  const resultFiles: Record<string, { Key: string; Size: number }[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  try {
    for (const [kind, serialised] of Object.entries(files)) {
      if (serialised.length === 0) continue;
      const key = `${folder}/${kind}_0.json`;
      const body = jsonArray(serialised);
      await objects.put(bucket, key, body.text);
      resultFiles[kind]?.push({ Key: key, Size: body.bytes() });
    }
    const manifestKey = `${folder}/manifest.json`;
    await objects.put(bucket, manifestKey, [
      JSON.stringify({ DestinationBucket: bucket, MapRunArn: run.mapRunArn, ResultFiles: resultFiles }),
    ]);
    record.executionCounts.resultsWritten = closed.length;
    record.itemCounts.resultsWritten =
      record.itemCounts.succeeded + record.itemCounts.failed + record.itemCounts.timedOut + record.itemCounts.aborted;
    return { MapRunArn: run.mapRunArn, ResultWriterDetails: { Bucket: bucket, Key: manifestKey } };
  } catch (error) {
    throw new StatesError(
      'States.ResultWriterFailed',
      `Writing the results to s3://${bucket}/${folder} failed: ${(error as Error).message}`,
    );
  }
}

/** The text of a JSON array of the entries, made as it is read, and its length in bytes once it has been. */
function jsonArray(entries: readonly (() => string)[]): { text: Iterable<string>; bytes(): number } {
  let bytes = 0;
  function* text() {
    for (const [index, entry] of entries.entries()) {
      const piece = `${index === 0 ? '[' : ','}${entry()}${index === entries.length - 1 ? ']' : ''}`;
      bytes += Buffer.byteLength(piece);
      yield piece;
    }
  }
  return { text: text(), bytes: () => bytes };
}

/** One entry of a SUCCEEDED_n.json or FAILED_n.json file, in the fields AWS writes. */
function resultEntry(outcome: ChildOutcome): Record<string, unknown> {
  const succeeded = outcome.status === 'SUCCEEDED';
  return {
    ExecutionArn: outcome.executionArn,
    Input: outcome.input,
    InputDetails: { Included: true },
    Name: outcome.name,
    ...(succeeded
      ? { Output: outcome.output ?? 'null', OutputDetails: { Included: true } }
      : { Error: outcome.error, Cause: outcome.cause }),
    RedriveCount: 0,
    RedriveStatus: succeeded ? 'NOT_REDRIVABLE' : 'REDRIVABLE_BY_MAP_RUN',
    ...(succeeded && { RedriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven' }),
    StartDate: outcome.startDate.toISOString(),
    StateMachineArn: outcome.stateMachineArn,
    Status: outcome.status,
    StopDate: outcome.stopDate.toISOString(),
  };
}
