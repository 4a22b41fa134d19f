import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';

/**
 * A `node:sqlite` database as the local cloud's stores use it: in a file that a restart reopens, or, without a
 * path, in a temporary database SQLite deletes when it is closed (its pages beyond the cache go to a temporary
 * file, so what it holds costs no memory).
 *
 * Writes of one event-loop turn share one transaction, committed on the next turn or by `commit()`: a turn's
 * writes are one change that no other request sees half-done, and a commit per row would cost more than the
 * row. Reads go through the same connection, so they see what is not yet committed. A process killed between
 * two commits loses the writes of that turn only.
 */
export class SqliteDatabase {
  readonly #database: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #commit: NodeJS.Immediate | undefined;

  /** `path` undefined: a temporary database. `schema` is run at open (`CREATE … IF NOT EXISTS`). */
  constructor(path: string | undefined, schema: string) {
    if (path !== undefined) mkdirSync(dirname(path), { recursive: true });
    this.#database = new DatabaseSync(path ?? '');
    // WAL without syncing survives the process being killed (the OS has the pages), not the machine failing; a
    // temporary database outlives nothing, so it keeps no journal on disk.
    this.#database.exec(`PRAGMA journal_mode = ${path === undefined ? 'MEMORY' : 'WAL'}; PRAGMA synchronous = OFF;`);
    this.#database.exec(schema);
  }

  /** Runs a write in this turn's transaction; returns how many rows it changed. */
  run(sql: string, ...values: SQLInputValue[]): number {
    this.#begin();
    return Number(this.#statement(sql).run(...values).changes);
  }

  /** Runs a write in this turn's transaction and returns the row its RETURNING clause gives. */
  runReturning<Row>(sql: string, ...values: SQLInputValue[]): Row {
    this.#begin();
    return this.#statement(sql).get(...values) as Row;
  }

  /** Runs statements without parameters in this turn's transaction. */
  exec(sql: string): void {
    this.#begin();
    this.#database.exec(sql);
  }

  get<Row>(sql: string, ...values: SQLInputValue[]): Row | undefined {
    return this.#statement(sql).get(...values) as Row | undefined;
  }

  all<Row>(sql: string, ...values: SQLInputValue[]): Row[] {
    return this.#statement(sql).all(...values) as Row[];
  }

  /** Commits this turn's writes now, so that what a caller is about to be told is on disk before it is told. */
  commit(): void {
    if (this.#commit === undefined) return;
    clearImmediate(this.#commit);
    this.#commit = undefined;
    this.#database.exec('COMMIT');
  }

  close(): void {
    this.commit();
    this.#database.close();
  }

  #begin(): void {
    if (this.#commit !== undefined) return;
    this.#database.exec('BEGIN');
    this.#commit = setImmediate(() => this.commit());
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#database.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
