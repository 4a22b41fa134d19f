import { randomUUID } from 'node:crypto';
import { SqliteDatabase } from './sqlite-database.ts';

/**
 * What a collection gives back: a copy made from the database, read-only so that the compiler refuses a change
 * made to it in place, which would be lost. A change is a `set` of a new value.
 */
export type Stored<T> = T extends readonly (infer U)[]
  ? readonly Stored<U>[]
  : T extends object
    ? { readonly [K in keyof T]: Stored<T[K]> }
    : T;

/** Values by key, in key order (UTF-8 byte order, as S3 lists keys). */
export interface Collection<V> {
  get(key: string): Stored<V> | undefined;
  has(key: string): boolean;
  /** Inserts or replaces. */
  set(key: string, value: Stored<V>): void;
  /** Whether there was a value to delete. */
  delete(key: string): boolean;
  /** Every value, in key order. */
  values(): Generator<Stored<V>>;
  entries(): Generator<[string, Stored<V>]>;
  /** Values in key order from `key` on (`key` itself left out when `exclusive`); a caller stops by leaving the loop. */
  valuesFrom(key: string, { exclusive }: { exclusive: boolean }): Generator<Stored<V>>;
  /**
   * Up to `limit` values (those passing `accept`) with keys after `afterKey`, in key order. `lastKey`, the last key
   * looked at, is set when more keys remain: a page token that stays valid when that key is deleted in between.
   */
  page(afterKey: string | undefined, limit: number, accept?: (value: Stored<V>) => boolean): { items: Stored<V>[]; lastKey?: string };
  count(): number;
  isEmpty(): boolean;
  clear(): void;
}

/** A collection per scope (a thing's attachments, a bucket's objects…), each with its own keys. */
export interface ScopedCollection<V> {
  in(scope: string): Collection<V>;
}

export type ThingPrincipalType = 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING';

export type CertificateStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED' | 'PENDING_TRANSFER' | 'REGISTER_INACTIVE' | 'PENDING_ACTIVATION';

export interface ThingRecord {
  thingName: string;
  thingId: string;
  thingTypeName?: string;
  billingGroupName?: string;
  attributes: Record<string, string>;
  thingGroups: string[];
  version: number;
  createdAt: number;
}

export interface PrincipalAttachment {
  /** A certificate id (64 hex) for certificates, else the principal as given (a Cognito identity id). */
  principal: string;
  thingPrincipalType: ThingPrincipalType;
  attachedAt: number;
  /** Set by DetachThingPrincipal while the detachment is still propagating. */
  detachedAt?: number;
}

export interface CertificateRecord {
  certificateId: string;
  certificatePem: string;
  status: CertificateStatus;
  caCertificateId?: string;
  /** `SNI_ONLY` for a certificate registered without a CA. */
  certificateMode: 'DEFAULT' | 'SNI_ONLY';
  policyNames: string[];
  createdAt: number;
  lastModifiedAt: number;
  customerVersion: number;
  generationId: string;
  notBefore: number;
  notAfter: number;
}

export interface PolicyRecord {
  policyName: string;
  policyDocument: string;
  createdAt: number;
}

export interface ThingTypeRecord {
  thingTypeName: string;
  thingTypeId: string;
  /** CreateThingType's `thingTypeProperties` as given. */
  thingTypeProperties: Record<string, unknown>;
  deprecated: boolean;
  deprecatedAt?: number;
  createdAt: number;
}

export type CoreDeviceStatus = 'HEALTHY' | 'UNHEALTHY';

export interface CoreDeviceRecord {
  coreDeviceThingName: string;
  coreVersion: string;
  platform: string;
  architecture: string;
  runtime: string;
  status: CoreDeviceStatus;
  lastStatusUpdateTimestamp: number;
  tags: Record<string, string>;
}

export interface ClientDeviceAssociation {
  thingName: string;
  associatedAt: number;
}

export interface KeySchemaElement {
  AttributeName: string;
  KeyType: 'HASH' | 'RANGE';
}

export interface AttributeDefinition {
  AttributeName: string;
  AttributeType: 'S' | 'N' | 'B';
}

/** A DynamoDB table; its items are `LocalCloudState.items` in its name's scope. */
export interface TableRecord {
  tableName: string;
  tableId: string;
  keySchema: KeySchemaElement[];
  attributeDefinitions: AttributeDefinition[];
  createdAt: number;
  timeToLive?: { attributeName: string; enabled: boolean };
}

export type TableSnapshot = TableRecord & { items: Record<string, unknown>[] };

/** An EventBridge rule target, in PutTargets' own member names. */
export interface EventTargetRecord {
  Id: string;
  Arn: string;
  Input?: string;
  InputPath?: string;
  RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
  DeadLetterConfig?: { Arn?: string };
}

export interface EventRuleRecord {
  name: string;
  eventPattern: string;
  state: 'ENABLED' | 'DISABLED';
  description?: string;
  /** Targets by id, in the order they were first put. */
  targets: EventTargetRecord[];
}

/** An event bus; its rules are `LocalCloudState.rules` in its name's scope. */
export interface EventBusRecord {
  name: string;
  description?: string;
  createdAt: number;
}

export type EventBusSnapshot = EventBusRecord & { rules: EventRuleRecord[] };

export type S3ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';

export interface S3Checksum {
  algorithm: S3ChecksumAlgorithm;
  /** Base64, as in `x-amz-checksum-*`; a COMPOSITE one ends in `-<parts>`. */
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

/** An S3 object's metadata; its bytes are the blob `blobId` (StateStore.blobs). Keyed by `key` in its bucket's scope. */
export interface S3ObjectRecord {
  key: string;
  blobId: string;
  size: number;
  /** As S3 sends it: the MD5 hex in quotes, or for a multipart upload the MD5 of the part MD5s and `-<parts>`. */
  etag: string;
  lastModified: number;
  /** Content-Type, Content-Encoding, Cache-Control… and `x-amz-meta-*` as sent (lower-case names): given back on GET and HEAD. */
  headers: Record<string, string>;
  checksum?: S3Checksum;
}

export interface S3PartRecord {
  partNumber: number;
  blobId: string;
  size: number;
  etag: string;
  lastModified: number;
  /** The part's checksum in the upload's algorithm (base64). */
  checksum?: string;
}

/** A multipart upload in progress, in its bucket's scope; its parts are `LocalCloudState.parts` in its id's scope. */
export interface S3UploadRecord {
  uploadId: string;
  key: string;
  initiatedAt: number;
  headers: Record<string, string>;
  checksumAlgorithm?: S3ChecksumAlgorithm;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
}

export interface BucketRecord {
  name: string;
  region: string;
  createdAt: number;
  /** PutBucketNotificationConfiguration's `EventBridgeConfiguration`: every object event goes to EventBridge. */
  eventBridge: boolean;
}

export type BucketSnapshot = BucketRecord & { objects: S3ObjectRecord[]; uploads: Array<S3UploadRecord & { parts: S3PartRecord[] }> };

/**
 * The state of the emulated services, behind the collection interfaces: IoT, Greengrass, DynamoDB, EventBridge
 * and S3's object metadata. Read, change, set: a service never keeps a record across an `await`.
 */
export interface LocalCloudState {
  things: Collection<ThingRecord>;
  /** By thing name: principal → attachment. */
  thingPrincipals: ScopedCollection<PrincipalAttachment>;
  /** By principal: the names of the things it is attached to (the reverse index of `thingPrincipals`, for exclusivity checks). */
  principalThings: ScopedCollection<true>;
  certificates: Collection<CertificateRecord>;
  policies: Collection<PolicyRecord>;
  thingTypes: Collection<ThingTypeRecord>;
  /** Cognito identity id → names of the policies attached to it (a certificate's are on its record). */
  identityPolicies: Collection<string[]>;
  coreDevices: Collection<CoreDeviceRecord>;
  /** By core device thing name: client thing name → association. */
  associations: ScopedCollection<ClientDeviceAssociation>;
  tables: Collection<TableRecord>;
  /** By table name: items by their primary key (dynamodb/items.ts). */
  items: ScopedCollection<Record<string, unknown>>;
  eventBuses: Collection<EventBusRecord>;
  /** By bus name: rules by name. */
  rules: ScopedCollection<EventRuleRecord>;
  buckets: Collection<BucketRecord>;
  /** By bucket name: objects by key. */
  objects: ScopedCollection<S3ObjectRecord>;
  /** By bucket name: multipart uploads in progress by upload id. */
  uploads: ScopedCollection<S3UploadRecord>;
  /** By upload id: parts by `partKey(partNumber)`. */
  parts: ScopedCollection<S3PartRecord>;
}

/** A part's key in `LocalCloudState.parts`: part numbers padded, so that key order is part order. */
export function partKey(partNumber: number): string {
  return String(partNumber).padStart(5, '0');
}

/** The JSON form of the state: what `GET /_local/state` shows. */
export interface StateSnapshot {
  formatVersion: 1;
  things: ThingRecord[];
  thingPrincipals: Record<string, PrincipalAttachment[]>;
  certificates: CertificateRecord[];
  policies: PolicyRecord[];
  thingTypes: ThingTypeRecord[];
  identityPolicies: Record<string, string[]>;
  coreDevices: CoreDeviceRecord[];
  associations: Record<string, ClientDeviceAssociation[]>;
  tables: TableSnapshot[];
  eventBuses: EventBusSnapshot[];
  /** Object bytes are blobs, not in the snapshot. */
  buckets: BucketSnapshot[];
}

/**
 * Object bytes, apart from their metadata, kept in chunks so that no object is read or copied whole: a GET sends
 * them as they are read and CompleteMultipartUpload joins its parts inside the database. Ids are never reused, so a
 * record names its bytes for as long as it exists.
 */
export interface BlobStore {
  put(data: Uint8Array): string;
  /**
   * The bytes from `start` up to `end` (exclusive; the blob's end when absent), a chunk at a time, each read from
   * the database when it is asked for. It ends early, with fewer bytes, when the blob is deleted meanwhile.
   */
  read(id: string, start?: number, end?: number): Generator<Buffer>;
  /** A new blob of the bytes of `ids`, one after another, copied inside the database. */
  join(ids: readonly string[]): string;
  delete(id: string): void;
}

/**
 * State shared by the emulated services, in SQLite (sqlite-database.ts): what the local cloud keeps in memory does
 * not grow with the things, certificates, items or objects it holds. A service's changes in one event-loop turn
 * are one transaction; `commit()` makes them durable before an answer goes out.
 */
export interface StateStore {
  readonly state: LocalCloudState;
  readonly blobs: BlobStore;
  commit(): void;
  /** Forgets everything. */
  reset(): void;
  snapshot(): StateSnapshot;
  close(): void;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS entries (
    collection TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (collection, scope, key)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS blob_chunks (
    id TEXT NOT NULL,
    start INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (id, start)
  );
`;

/** Bytes a blob chunk holds at most (a joined blob keeps its sources' chunks, the last of each shorter). */
const BLOB_CHUNK_BYTES = 1024 * 1024;

/** Rows read at a time when iterating: bounded memory, and writes between two reads are seen. */
const CHUNK = 256;

/** The rows of one collection in one scope (`''` for a collection without scopes). */
class SqliteCollection<V> implements Collection<V> {
  readonly #database: SqliteDatabase;
  readonly #where: [collection: string, scope: string];

  constructor(database: SqliteDatabase, collection: string, scope: string) {
    this.#database = database;
    this.#where = [collection, scope];
  }

  get(key: string): Stored<V> | undefined {
    const row = this.#database.get<{ value: string }>(
      'SELECT value FROM entries WHERE collection = ? AND scope = ? AND key = ?',
      ...this.#where,
      key,
    );
    return row && (JSON.parse(row.value) as Stored<V>);
  }

  has(key: string): boolean {
    return this.#database.get('SELECT 1 FROM entries WHERE collection = ? AND scope = ? AND key = ?', ...this.#where, key) !== undefined;
  }

  set(key: string, value: Stored<V>): void {
    this.#database.run(
      'INSERT INTO entries (collection, scope, key, value) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value',
      ...this.#where,
      key,
      JSON.stringify(value),
    );
  }

  delete(key: string): boolean {
    return this.#database.run('DELETE FROM entries WHERE collection = ? AND scope = ? AND key = ?', ...this.#where, key) > 0;
  }

  *values(): Generator<Stored<V>> {
    for (const [, value] of this.entries()) yield value;
  }

  entries(): Generator<[string, Stored<V>]> {
    return this.#entriesFrom('', false);
  }

  *valuesFrom(key: string, { exclusive }: { exclusive: boolean }): Generator<Stored<V>> {
    for (const [, value] of this.#entriesFrom(key, exclusive)) yield value;
  }

  page(afterKey: string | undefined, limit: number, accept?: (value: Stored<V>) => boolean): { items: Stored<V>[]; lastKey?: string } {
    const items: Stored<V>[] = [];
    let lastKey: string | undefined;
    for (const [key, value] of this.#entriesFrom(afterKey ?? '', afterKey !== undefined)) {
      if (items.length === limit) return { items, ...(lastKey !== undefined && { lastKey }) };
      if (!accept || accept(value)) items.push(value);
      lastKey = key;
    }
    return { items };
  }

  count(): number {
    return (
      this.#database.get<{ count: number }>('SELECT count(*) AS count FROM entries WHERE collection = ? AND scope = ?', ...this.#where)
        ?.count ?? 0
    );
  }

  isEmpty(): boolean {
    return this.#database.get('SELECT 1 FROM entries WHERE collection = ? AND scope = ? LIMIT 1', ...this.#where) === undefined;
  }

  clear(): void {
    this.#database.run('DELETE FROM entries WHERE collection = ? AND scope = ?', ...this.#where);
  }

  *#entriesFrom(key: string, exclusive: boolean): Generator<[string, Stored<V>]> {
    let from = key;
    let after = exclusive;
    for (;;) {
      const rows = this.#database.all<{ key: string; value: string }>(
        `SELECT key, value FROM entries WHERE collection = ? AND scope = ? AND key ${after ? '>' : '>='} ? ORDER BY key LIMIT ${CHUNK}`,
        ...this.#where,
        from,
      );
      for (const row of rows) yield [row.key, JSON.parse(row.value) as Stored<V>];
      const last = rows.at(-1);
      if (rows.length < CHUNK || last === undefined) return;
      from = last.key;
      after = true;
    }
  }
}

class SqliteScopedCollection<V> implements ScopedCollection<V> {
  readonly #database: SqliteDatabase;
  readonly #collection: string;

  constructor(database: SqliteDatabase, collection: string) {
    this.#database = database;
    this.#collection = collection;
  }

  in(scope: string): Collection<V> {
    return new SqliteCollection<V>(this.#database, this.#collection, scope);
  }

  /** Every scope's values, in scope then key order. */
  byScope(): Map<string, V[]> {
    const grouped = new Map<string, V[]>();
    const rows = this.#database.all<{ scope: string; value: string }>(
      'SELECT scope, value FROM entries WHERE collection = ? ORDER BY scope, key',
      this.#collection,
    );
    for (const { scope, value } of rows) {
      const values = grouped.get(scope) ?? [];
      values.push(JSON.parse(value) as V);
      grouped.set(scope, values);
    }
    return grouped;
  }
}

type SqliteState = {
  [K in keyof LocalCloudState]: LocalCloudState[K] extends ScopedCollection<infer V> ? SqliteScopedCollection<V> : LocalCloudState[K];
};

/** The state in the SQLite database at `path`, created when missing; a temporary database when `path` is undefined. */
export function openStateStore(path?: string): StateStore {
  const database = new SqliteDatabase(path, SCHEMA);
  const collection = <V>(name: string): Collection<V> => new SqliteCollection<V>(database, name, '');
  const scoped = <V>(name: string) => new SqliteScopedCollection<V>(database, name);
  const state: SqliteState = {
    things: collection('things'),
    thingPrincipals: scoped('thingPrincipals'),
    principalThings: scoped('principalThings'),
    certificates: collection('certificates'),
    policies: collection('policies'),
    thingTypes: collection('thingTypes'),
    identityPolicies: collection('identityPolicies'),
    coreDevices: collection('coreDevices'),
    associations: scoped('associations'),
    tables: collection('tables'),
    items: scoped('items'),
    eventBuses: collection('eventBuses'),
    rules: scoped('rules'),
    buckets: collection('buckets'),
    objects: scoped('objects'),
    uploads: scoped('uploads'),
    parts: scoped('parts'),
  };
  return {
    state,
    blobs: sqliteBlobs(database),
    commit: () => database.commit(),
    reset: () => database.exec('DELETE FROM entries; DELETE FROM blob_chunks;'),
    snapshot: () => toSnapshot(state),
    close: () => database.close(),
  };
}

function sqliteBlobs(database: SqliteDatabase): BlobStore {
  type Chunk = { start: number; data: Uint8Array };
  const chunkAt = (id: string, offset: number) =>
    database.get<Chunk>('SELECT start, data FROM blob_chunks WHERE id = ? AND start <= ? ORDER BY start DESC LIMIT 1', id, offset);
  const chunkAfter = (id: string, start: number) =>
    database.get<Chunk>('SELECT start, data FROM blob_chunks WHERE id = ? AND start > ? ORDER BY start LIMIT 1', id, start);
  return {
    put(data) {
      const id = randomUUID();
      // An empty blob still has its one (empty) chunk.
      for (let start = 0; start === 0 || start < data.length; start += BLOB_CHUNK_BYTES) {
        database.run(
          'INSERT INTO blob_chunks (id, start, data) VALUES (?, ?, ?)',
          id,
          start,
          data.subarray(start, start + BLOB_CHUNK_BYTES),
        );
      }
      return id;
    },
    *read(id, start = 0, end = Number.POSITIVE_INFINITY) {
      for (let chunk = chunkAt(id, start); chunk !== undefined && chunk.start < end; chunk = chunkAfter(id, chunk.start)) {
        const bytes = Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength);
        yield bytes.subarray(Math.max(0, start - chunk.start), Math.max(0, end - chunk.start));
      }
    },
    join(ids) {
      const id = randomUUID();
      let offset = 0;
      for (const source of ids) {
        // Empty chunks left out: one would start where the next source does.
        database.run(
          'INSERT INTO blob_chunks (id, start, data) SELECT ?, start + ?, data FROM blob_chunks WHERE id = ? AND length(data) > 0',
          id,
          offset,
          source,
        );
        offset =
          database.get<{ end: number }>('SELECT coalesce(max(start + length(data)), 0) AS end FROM blob_chunks WHERE id = ?', id)?.end ?? 0;
      }
      if (offset === 0) database.run("INSERT INTO blob_chunks (id, start, data) VALUES (?, 0, x'')", id);
      return id;
    },
    delete: (id) => void database.run('DELETE FROM blob_chunks WHERE id = ?', id),
  };
}

function toSnapshot(state: SqliteState): StateSnapshot {
  // A snapshot is the caller's to change: its values are plain records.
  const all = <V>(collection: Collection<V>) => [...collection.values()] as V[];
  const scopes = <V>(collection: SqliteScopedCollection<V>) => Object.fromEntries(collection.byScope());
  const items = state.items.byScope();
  const rules = state.rules.byScope();
  const objects = state.objects.byScope();
  const uploads = state.uploads.byScope();
  const parts = state.parts.byScope();
  return {
    formatVersion: 1,
    things: all(state.things),
    thingPrincipals: scopes(state.thingPrincipals),
    certificates: all(state.certificates),
    policies: all(state.policies),
    thingTypes: all(state.thingTypes),
    identityPolicies: Object.fromEntries(state.identityPolicies.entries()) as Record<string, string[]>,
    coreDevices: all(state.coreDevices),
    associations: scopes(state.associations),
    tables: all(state.tables).map((table) => ({ ...table, items: items.get(table.tableName) ?? [] })),
    eventBuses: all(state.eventBuses).map((bus) => ({ ...bus, rules: rules.get(bus.name) ?? [] })),
    buckets: all(state.buckets).map((bucket) => ({
      ...bucket,
      objects: objects.get(bucket.name) ?? [],
      uploads: (uploads.get(bucket.name) ?? []).map((upload) => ({ ...upload, parts: parts.get(upload.uploadId) ?? [] })),
    })),
  };
}
