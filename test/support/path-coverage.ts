import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { expect } from 'vitest';
import type { ExecutionTrace, TraceRecord } from '../../scripts/path-coverage.ts';

export type { ExecutionTrace } from '../../scripts/path-coverage.ts';

/*
 * Which states, retriers and catchers of the state machines the tests drive. While PATH_COVERAGE_DIR is set
 * (`npm run paths`), every execution a test runs is reduced to a trace (the states it entered, the failed
 * attempts it retried and those it caught, by error name) and appended to that directory with the test's name;
 * scripts/path-coverage.ts then matches the traces against statemachines/*.asl.yaml. Two sources feed it: the
 * execution histories of the local cloud (every cloud from service-cloud.ts, after each test) and the event logs
 * of aws-local-stepfunctions runs with stubbed tasks.
 */

export function pathCoverageDir(): string | undefined {
  return process.env.PATH_COVERAGE_DIR || undefined;
}

/** Appends the traces of one test (one file per worker process, so concurrent test files never interleave). */
export function recordTraces(test: string, source: TraceRecord['source'], traces: ExecutionTrace[]): void {
  const dir = pathCoverageDir();
  if (!dir || traces.length === 0) return;
  mkdirSync(dir, { recursive: true });
  const lines = traces.map((trace) => `${JSON.stringify({ test, source, ...trace } satisfies TraceRecord)}\n`).join('');
  appendFileSync(path.join(dir, `traces-${process.pid}.jsonl`), lines);
}

/** Sources of executions the tests ran, asked after each test (see vitest-setup.ts). */
type TraceSource = () => Promise<ExecutionTrace[]>;
const sources = new Set<TraceSource>();

export function registerTraceSource(source: TraceSource): () => void {
  sources.add(source);
  return () => sources.delete(source);
}

/** The running test, as `file > describe > title`. */
export function currentTestLabel(): string {
  const { testPath, currentTestName } = expect.getState();
  return `${testPath ? path.relative(process.cwd(), testPath) : '?'} > ${currentTestName ?? '?'}`;
}

export async function collectRegisteredTraces(): Promise<void> {
  for (const source of [...sources]) recordTraces(currentTestLabel(), 'local-cloud', await source());
}

/** Records an aws-local-stepfunctions run of the running test, given every event of its log. */
export function recordInterpreterRun(events: ReadonlyArray<InterpreterEvent>): void {
  recordTraces(currentTestLabel(), 'aws-local-stepfunctions', [traceOfInterpreterEvents(events)]);
}

/**
 * A trace from an AWS execution history. Events carry `previousEventId` along their lane (the root, or one Map
 * iteration), so a failed Lambda attempt's state is the Task entered last before it in its lane, and what follows
 * it in the lane says what became of it: scheduled again (a Retry), the state exited (a Catch), or neither.
 */
export function traceOfHistory(events: HistoryEvent[]): ExecutionTrace {
  const byId = new Map(events.map((event) => [event.id, event]));
  const nextInLane = new Map<number, HistoryEvent>();
  for (const event of events) {
    const previous = event.previousEventId;
    if (previous !== undefined && !nextInLane.has(previous)) nextInLane.set(previous, event);
  }
  const trace: ExecutionTrace = { startAt: '', entered: [], retried: [], caught: [], uncaught: [] };
  for (const event of events) {
    const entered = event.stateEnteredEventDetails?.name;
    if (entered !== undefined && event.type?.endsWith('StateEntered')) {
      if (trace.entered.length === 0) trace.startAt = entered;
      trace.entered.push(entered);
    }
    const failure = event.lambdaFunctionFailedEventDetails ?? event.lambdaFunctionTimedOutEventDetails;
    if (!failure || event.id === undefined) continue;
    let cursor: HistoryEvent | undefined = event;
    while (cursor && cursor.type !== 'TaskStateEntered')
      cursor = cursor.previousEventId === undefined ? undefined : byId.get(cursor.previousEventId);
    const state = cursor?.stateEnteredEventDetails?.name ?? '?';
    const error = failure.error ?? '';
    const next = nextInLane.get(event.id);
    if (next?.type === 'LambdaFunctionScheduled') trace.retried.push({ state, error });
    else if (next?.type === 'TaskStateExited') trace.caught.push({ state, error });
    else trace.uncaught.push({ state, error });
  }
  return trace;
}

/** The parts of aws-local-stepfunctions' event log that a trace needs (the package does not export the type). */
export type InterpreterEvent =
  | { type: 'StateEntered' | 'StateExited'; state: { name: string }; index?: number }
  | { type: 'StateFailed'; state: { name: string }; index?: number; Error: string }
  | { type: 'StateRetried' | 'StateCaught'; state: { name: string }; index?: number }
  | { type: string };

/** A trace from the event log of an aws-local-stepfunctions run: it names retries and catches itself. */
export function traceOfInterpreterEvents(events: ReadonlyArray<InterpreterEvent>): ExecutionTrace {
  const trace: ExecutionTrace = { startAt: '', entered: [], retried: [], caught: [], uncaught: [] };
  const pending = new Map<string, { state: string; error: string }>();
  const settle = () => {
    for (const failure of pending.values()) trace.uncaught.push(failure);
    pending.clear();
  };
  for (const event of events) {
    if (!('state' in event)) continue;
    const key = `${event.index ?? 'root'}/${event.state.name}`;
    switch (event.type) {
      case 'StateEntered':
        if (trace.entered.length === 0) trace.startAt = event.state.name;
        trace.entered.push(event.state.name);
        break;
      case 'StateFailed':
        pending.set(key, { state: event.state.name, error: (event as { Error: string }).Error });
        break;
      case 'StateRetried':
      case 'StateCaught': {
        const failure = pending.get(key);
        pending.delete(key);
        if (failure) (event.type === 'StateRetried' ? trace.retried : trace.caught).push(failure);
        break;
      }
    }
  }
  settle();
  return trace;
}
