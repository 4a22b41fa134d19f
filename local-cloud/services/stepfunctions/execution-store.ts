import { SqliteDatabase } from '../../sqlite-database.ts';
import type { MapRunRecord } from './distributed-map/map-run.ts';
import type { ExecutionOutcome, HistoryEvent } from './execution-history.ts';

export type ExecutionStatus = 'RUNNING' | ExecutionOutcome['status'];

/** What DescribeExecution and ListExecutions show of an execution, running or closed. */
export interface ExecutionView {
  readonly arn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  /** The input as the caller sent it (a JSON string). */
  readonly input: string;
  /** The Map Run this execution is a child of. */
  readonly mapRunArn: string | undefined;
  /** Epoch milliseconds. */
  readonly startDate: number;
  readonly status: ExecutionStatus;
  readonly stopDate: number | undefined;
  readonly outcome: ExecutionOutcome | undefined;
}

/** Where one execution's history and outcome go as they happen. */
export interface ExecutionJournal {
  append(event: HistoryEvent): void;
  close(outcome: ExecutionOutcome, stopDate: number): void;
}

export interface MapRunEntry {
  record: MapRunRecord;
  /** The child state machine's ARN. */
  stateMachineArn: string;
}

/** A page of rows after the key of the previous one; undefined when that key is none of the list's. */
export type StoredPage<V> = { items: V[]; lastKey?: string } | undefined;

/** What the local cloud writes in a history when it finds, at start, an execution its previous process left running. */
export const RESTARTED_ERROR = 'LocalCloud.Restarted';
export const RESTARTED_CAUSE =
  'The local cloud stopped (its process ended or was killed) while this execution ran; an execution does not resume across a restart.';

/** The StopExecution reason of the executions a closing local cloud stops. */
export const CLOSED_ERROR = 'LocalCloud.Closed';
export const CLOSED_CAUSE = 'The local cloud was closed while this execution ran; an execution does not resume across a restart.';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    map_run_arn TEXT,
    input TEXT NOT NULL,
    start_date REAL NOT NULL,
    status TEXT NOT NULL,
    stop_date REAL,
    output TEXT,
    error TEXT,
    cause TEXT
  );
  CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (state_machine_arn, seq);
  CREATE INDEX IF NOT EXISTS executions_by_map_run ON executions (map_run_arn, seq);
  CREATE TABLE IF NOT EXISTS events (
    execution_seq INTEGER NOT NULL,
    id INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (execution_seq, id)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS map_runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL UNIQUE,
    execution_arn TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    record TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS map_runs_by_execution ON map_runs (execution_arn, seq);
`;

interface ExecutionRow {
  seq: number;
  arn: string;
  name: string;
  state_machine_arn: string;
  map_run_arn: string | null;
  input: string;
  start_date: number;
  status: ExecutionStatus;
  stop_date: number | null;
  output: string | null;
  error: string | null;
  cause: string | null;
}

/**
 * Executions, their histories and Map Runs in SQLite, so that what the local cloud keeps in memory does not grow
 * with the executions it has run. A history is appended one event at a time, in the turn's transaction.
 */
export class ExecutionStore {
  readonly #database: SqliteDatabase;

  /** `path` undefined: a temporary database. */
  constructor(path?: string) {
    this.#database = new SqliteDatabase(path, SCHEMA);
  }

  insert(execution: Omit<ExecutionView, 'status' | 'stopDate' | 'outcome'>): ExecutionJournal {
    const { seq } = this.#database.runReturning<{ seq: number }>(
      'INSERT INTO executions (arn, name, state_machine_arn, map_run_arn, input, start_date, status) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq',
      execution.arn,
      execution.name,
      execution.stateMachineArn,
      execution.mapRunArn ?? null,
      execution.input,
      execution.startDate,
      'RUNNING',
    );
    return {
      append: (event) => this.#append(seq, event),
      close: (outcome, stopDate) => this.#close(seq, outcome, stopDate),
    };
  }

  execution(arn: string): ExecutionView | undefined {
    const row = this.#database.get<ExecutionRow>('SELECT * FROM executions WHERE arn = ?', arn);
    return row && viewOf(row);
  }

  /** Newest first, of one state machine or one Map Run; a page token names the last execution of the previous page. */
  executions(
    of: { stateMachineArn: string } | { mapRunArn: string },
    status: string | undefined,
    afterArn: string | undefined,
    limit: number,
  ): StoredPage<ExecutionView> {
    const [column, value] = 'mapRunArn' in of ? ['map_run_arn', of.mapRunArn] : ['state_machine_arn', of.stateMachineArn];
    let before = Number.MAX_SAFE_INTEGER;
    if (afterArn !== undefined) {
      const after = this.#database.get<{ seq: number }>(`SELECT seq FROM executions WHERE arn = ? AND ${column} = ?`, afterArn, value);
      if (!after) return undefined;
      before = after.seq;
    }
    const rows = this.#database.all<ExecutionRow>(
      `SELECT * FROM executions WHERE ${column} = ? AND seq < ? AND (? IS NULL OR status = ?) ORDER BY seq DESC LIMIT ?`,
      value,
      before,
      status ?? null,
      status ?? null,
      limit + 1,
    );
    return pageOf(rows.map(viewOf), limit, (execution) => execution.arn);
  }

  /** A page of an execution's history; a page token names the id of the last event of the previous page. */
  history(arn: string, reverse: boolean, afterId: string | undefined, limit: number): StoredPage<HistoryEvent> {
    const execution = this.#database.get<{ seq: number }>('SELECT seq FROM executions WHERE arn = ?', arn);
    if (!execution) return { items: [] };
    const lastId = this.#lastEventId(execution.seq);
    let bound = reverse ? lastId + 1 : 0;
    if (afterId !== undefined) {
      const id = Number(afterId);
      if (!Number.isInteger(id) || id < 1 || id > lastId) return undefined;
      bound = id;
    }
    const rows = this.#database.all<{ event: string }>(
      reverse
        ? 'SELECT event FROM events WHERE execution_seq = ? AND id < ? ORDER BY id DESC LIMIT ?'
        : 'SELECT event FROM events WHERE execution_seq = ? AND id > ? ORDER BY id LIMIT ?',
      execution.seq,
      bound,
      limit + 1,
    );
    return pageOf(
      rows.map((row) => JSON.parse(row.event) as HistoryEvent),
      limit,
      (event) => String(event.id),
    );
  }

  /** Inserts or updates a Map Run as it stands. */
  putMapRun({ record, stateMachineArn }: MapRunEntry): void {
    this.#database.run(
      'INSERT INTO map_runs (arn, execution_arn, state_machine_arn, record) VALUES (?, ?, ?, ?) ON CONFLICT (arn) DO UPDATE SET record = excluded.record',
      record.mapRunArn,
      record.executionArn,
      stateMachineArn,
      JSON.stringify(record),
    );
  }

  mapRun(arn: string): MapRunEntry | undefined {
    const row = this.#database.get<{ state_machine_arn: string; record: string }>(
      'SELECT state_machine_arn, record FROM map_runs WHERE arn = ?',
      arn,
    );
    return row && mapRunEntryOf(row);
  }

  /** An execution's Map Runs, newest first. */
  mapRuns(executionArn: string, afterArn: string | undefined, limit: number): StoredPage<MapRunEntry> {
    let before = Number.MAX_SAFE_INTEGER;
    if (afterArn !== undefined) {
      const after = this.#database.get<{ seq: number }>(
        'SELECT seq FROM map_runs WHERE arn = ? AND execution_arn = ?',
        afterArn,
        executionArn,
      );
      if (!after) return undefined;
      before = after.seq;
    }
    const rows = this.#database.all<{ state_machine_arn: string; record: string }>(
      'SELECT state_machine_arn, record FROM map_runs WHERE execution_arn = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
      executionArn,
      before,
      limit + 1,
    );
    return pageOf(rows.map(mapRunEntryOf), limit, ({ record }) => record.mapRunArn);
  }

  /**
   * Closes what a previous process left running: each execution FAILED with RESTARTED_ERROR (its history ends
   * with that ExecutionFailed event), each Map Run FAILED. Returns how many executions it closed.
   */
  failInterrupted(now: number): number {
    const running = this.#database.all<ExecutionRow>("SELECT * FROM executions WHERE status = 'RUNNING'");
    const outcome: ExecutionOutcome = { status: 'FAILED', error: RESTARTED_ERROR, cause: RESTARTED_CAUSE };
    for (const row of running) {
      const lastId = this.#lastEventId(row.seq);
      this.#append(row.seq, {
        id: lastId + 1,
        previousEventId: lastId,
        timestamp: now / 1000,
        type: 'ExecutionFailed',
        executionFailedEventDetails: { error: RESTARTED_ERROR, cause: RESTARTED_CAUSE },
      });
      this.#close(row.seq, outcome, now);
    }
    const runs = this.#database.all<{ state_machine_arn: string; record: string }>('SELECT state_machine_arn, record FROM map_runs');
    for (const entry of runs.map(mapRunEntryOf)) {
      if (entry.record.status !== 'RUNNING') continue;
      this.putMapRun({ ...entry, record: { ...entry.record, status: 'FAILED', stopDate: new Date(now) } });
    }
    return running.length;
  }

  clear(): void {
    this.#database.exec('DELETE FROM events; DELETE FROM executions; DELETE FROM map_runs;');
  }

  close(): void {
    this.#database.close();
  }

  #append(seq: number, event: HistoryEvent): void {
    this.#database.run('INSERT INTO events (execution_seq, id, event) VALUES (?, ?, ?)', seq, event.id, JSON.stringify(event));
  }

  #lastEventId(seq: number): number {
    return this.#database.get<{ id: number | null }>('SELECT max(id) AS id FROM events WHERE execution_seq = ?', seq)?.id ?? 0;
  }

  #close(seq: number, outcome: ExecutionOutcome, stopDate: number): void {
    this.#database.run(
      'UPDATE executions SET status = ?, stop_date = ?, output = ?, error = ?, cause = ? WHERE seq = ?',
      outcome.status,
      stopDate,
      outcome.output ?? null,
      outcome.error ?? null,
      outcome.cause ?? null,
      seq,
    );
  }
}

function viewOf(row: ExecutionRow): ExecutionView {
  const closed = row.status !== 'RUNNING';
  return {
    arn: row.arn,
    name: row.name,
    stateMachineArn: row.state_machine_arn,
    input: row.input,
    mapRunArn: row.map_run_arn ?? undefined,
    startDate: row.start_date,
    status: row.status,
    stopDate: row.stop_date ?? undefined,
    outcome: closed
      ? {
          status: row.status as ExecutionOutcome['status'],
          ...(row.output !== null && { output: row.output }),
          ...(row.error !== null && { error: row.error }),
          ...(row.cause !== null && { cause: row.cause }),
        }
      : undefined,
  };
}

function mapRunEntryOf(row: { state_machine_arn: string; record: string }): MapRunEntry {
  const stored = JSON.parse(row.record) as Omit<MapRunRecord, 'startDate' | 'stopDate'> & { startDate: string; stopDate?: string };
  const { startDate, stopDate, ...counts } = stored;
  const record: MapRunRecord = {
    ...counts,
    startDate: new Date(startDate),
    ...(stopDate !== undefined && { stopDate: new Date(stopDate) }),
  };
  return { record, stateMachineArn: row.state_machine_arn };
}

/** `rows` holds up to one row more than a page, which tells whether another page follows. */
function pageOf<V>(rows: V[], limit: number, keyOf: (value: V) => string): { items: V[]; lastKey?: string } {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, lastKey: keyOf(items[items.length - 1] as V) };
}
