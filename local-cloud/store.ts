import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { scanPage } from './wire/pagination.ts';

/**
 * A map that also keeps its keys sorted, so list operations page in O(log n + page) from the
 * last key of the previous page.
 */
export class OrderedMap<V> {
  readonly #values = new Map<string, V>();
  readonly #keys: string[] = [];

  get size(): number {
    return this.#values.size;
  }

  get(key: string): V | undefined {
    return this.#values.get(key);
  }

  has(key: string): boolean {
    return this.#values.has(key);
  }

  set(key: string, value: V): void {
    if (!this.#values.has(key)) this.#keys.splice(this.#firstIndexAfter(key, false), 0, key);
    this.#values.set(key, value);
  }

  delete(key: string): boolean {
    if (!this.#values.delete(key)) return false;
    this.#keys.splice(this.#firstIndexAfter(key, false), 1);
    return true;
  }

  clear(): void {
    this.#values.clear();
    this.#keys.length = 0;
  }

  values(): IterableIterator<V> {
    return this.#values.values();
  }

  /** Values in key order from `key` on (`key` itself left out when `exclusive`); a caller stops by leaving the loop. */
  *valuesFrom(key: string, { exclusive }: { exclusive: boolean }): Generator<V> {
    for (let index = this.#firstIndexAfter(key, exclusive); index < this.#keys.length; index++) {
      yield this.#values.get(this.#keys[index] as string) as V;
    }
  }

  /** Values in key order. */
  sortedValues(): V[] {
    return this.#keys.map((key) => this.#values.get(key) as V);
  }

  /**
   * Up to `limit` values (those passing `accept`) with keys after `afterKey`, in key order.
   * `lastKey` is set when more keys remain to scan.
   */
  page(afterKey: string | undefined, limit: number, accept?: (value: V) => boolean): { items: V[]; lastKey?: string } {
    const start = afterKey === undefined ? 0 : this.#firstIndexAfter(afterKey, true);
    const keyAt = (index: number) => this.#keys[index] as string;
    return scanPage(this.#keys.length, start, limit, (index) => this.#values.get(keyAt(index)) as V, keyAt, accept);
  }

  /** Index of the first key greater than (or, when `strict` is false, equal to) `key`. */
  #firstIndexAfter(key: string, strict: boolean): number {
    let low = 0;
    let high = this.#keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const probe = this.#keys[middle] as string;
      if (probe < key || (strict && probe === key)) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

export type ThingPrincipalType = 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING';

export type CertificateStatus =
  | 'ACTIVE'
  | 'INACTIVE'
  | 'REVOKED'
  | 'PENDING_TRANSFER'
  | 'REGISTER_INACTIVE'
  | 'PENDING_ACTIVATION';

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
  /** `SNI_ONLY` for a certificate registered without a CA; absent (DEFAULT) in state files written before. */
  certificateMode?: 'DEFAULT' | 'SNI_ONLY';
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

/** A DynamoDB table; `items` are keyed by their primary key in key-schema order (dynamodb/items.ts). */
export interface TableRecord {
  tableName: string;
  tableId: string;
  keySchema: KeySchemaElement[];
  attributeDefinitions: AttributeDefinition[];
  createdAt: number;
  timeToLive?: { attributeName: string; enabled: boolean };
  items: OrderedMap<Record<string, unknown>>;
}

/** The key `TableRecord.items` holds an item under: its key attributes' values in key-schema order. */
export function itemKey(keySchema: readonly KeySchemaElement[], item: Record<string, unknown>): string {
  return JSON.stringify(keySchema.map((element) => item[element.AttributeName]));
}

export type TableSnapshot = Omit<TableRecord, 'items'> & { items: Record<string, unknown>[] };

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

export interface EventBusRecord {
  name: string;
  description?: string;
  createdAt: number;
  rules: OrderedMap<EventRuleRecord>;
}

export type EventBusSnapshot = Omit<EventBusRecord, 'rules'> & { rules: EventRuleRecord[] };

export type S3ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';

export interface S3Checksum {
  algorithm: S3ChecksumAlgorithm;
  /** Base64, as in `x-amz-checksum-*`; a COMPOSITE one ends in `-<parts>`. */
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

/** An S3 object's metadata; its bytes are the blob `blobId` (StateStore.blobs). */
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

export interface S3UploadRecord {
  uploadId: string;
  key: string;
  initiatedAt: number;
  headers: Record<string, string>;
  checksumAlgorithm?: S3ChecksumAlgorithm;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
  /** By part number. */
  parts: Record<string, S3PartRecord>;
}

export interface BucketRecord {
  name: string;
  region: string;
  createdAt: number;
  /** PutBucketNotificationConfiguration's `EventBridgeConfiguration`: every object event goes to EventBridge. */
  eventBridge: boolean;
  objects: OrderedMap<S3ObjectRecord>;
  /** Multipart uploads in progress, by upload id. */
  uploads: Record<string, S3UploadRecord>;
}

export type BucketSnapshot = Omit<BucketRecord, 'objects'> & { objects: S3ObjectRecord[] };

export interface LocalCloudState {
  things: OrderedMap<ThingRecord>;
  /** thing name → principal → attachment. */
  thingPrincipals: Map<string, OrderedMap<PrincipalAttachment>>;
  /** principal → names of the things it is attached to (reverse index for exclusivity checks). */
  principalThings: Map<string, Set<string>>;
  certificates: OrderedMap<CertificateRecord>;
  policies: Map<string, PolicyRecord>;
  thingTypes: OrderedMap<ThingTypeRecord>;
  /** Cognito identity id → names of the policies attached to it (a certificate's are on its record). */
  identityPolicies: Map<string, string[]>;
  coreDevices: OrderedMap<CoreDeviceRecord>;
  /** core device thing name → client thing name → association. */
  associations: Map<string, OrderedMap<ClientDeviceAssociation>>;
  tables: Map<string, TableRecord>;
  eventBuses: OrderedMap<EventBusRecord>;
  buckets: OrderedMap<BucketRecord>;
}

/** The JSON form of the state: what `GET /_local/state` shows and what a state file holds. */
export interface StateSnapshot {
  formatVersion: 1;
  things: ThingRecord[];
  thingPrincipals: Record<string, PrincipalAttachment[]>;
  certificates: CertificateRecord[];
  policies: PolicyRecord[];
  /** Absent in state files written before thing types were emulated. */
  thingTypes?: ThingTypeRecord[];
  identityPolicies?: Record<string, string[]>;
  coreDevices: CoreDeviceRecord[];
  associations: Record<string, ClientDeviceAssociation[]>;
  /** Absent in state files written before DynamoDB was emulated. */
  tables?: TableSnapshot[];
  /** Absent in state files written before EventBridge was emulated. */
  eventBuses?: EventBusSnapshot[];
  /** Absent in state files written before S3 was emulated. Object bytes are blobs, not in the snapshot. */
  buckets?: BucketSnapshot[];
}

/**
 * Object bytes, kept out of the JSON state so that a state write costs the metadata only: in memory,
 * or one file each beside a state file. Ids are never reused, so a record names its bytes for as long
 * as it exists.
 */
export interface BlobStore {
  put(data: Uint8Array): string;
  get(id: string): Buffer;
  /** Forgets the bytes; a file store removes them only once a state write no longer names them. */
  delete(id: string): void;
}

/**
 * State shared by the emulated services. Services mutate `state` directly (one event-loop turn is
 * one transaction) and then call `changed()` so a persistent store can save.
 */
export interface StateStore {
  readonly state: LocalCloudState;
  readonly blobs: BlobStore;
  changed(): void;
  reset(): void;
  snapshot(): StateSnapshot;
  /** Waits for pending writes; stops persisting. */
  close(): Promise<void>;
}

function emptyState(): LocalCloudState {
  return {
    things: new OrderedMap(),
    thingPrincipals: new Map(),
    principalThings: new Map(),
    certificates: new OrderedMap(),
    policies: new Map(),
    thingTypes: new OrderedMap(),
    identityPolicies: new Map(),
    coreDevices: new OrderedMap(),
    associations: new Map(),
    tables: new Map(),
    eventBuses: new OrderedMap(),
    buckets: new OrderedMap(),
  };
}

export function createMemoryStore(): StateStore {
  const state = emptyState();
  const blobs = new Map<string, Buffer>();
  return {
    state,
    blobs: {
      put(data) {
        const id = randomUUID();
        blobs.set(id, Buffer.from(data));
        return id;
      },
      get: (id) => blobs.get(id) ?? missingBlob(id),
      delete: (id) => void blobs.delete(id),
    },
    changed() {},
    reset() {
      clearState(state);
      blobs.clear();
    },
    snapshot: () => toSnapshot(state),
    close: async () => {},
  };
}

/** How long writes are coalesced: a burst of provisioning calls costs one file write. */
const PERSIST_DELAY_MS = 50;

/**
 * Keeps state in memory and writes it to `path` atomically (write to a temporary file, rename)
 * shortly after changes, so a restart with the same file resumes where the last run stopped.
 * The file's directory is created at start. A failed write is reported and does not stop later
 * ones: each write holds the whole state, so the next successful one makes up for it.
 */
export function createFileStore(path: string): StateStore {
  const state = loadState(path);
  mkdirSync(dirname(path), { recursive: true });
  const blobDirectory = `${path}.blobs`;
  mkdirSync(blobDirectory, { recursive: true });
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  let closed = false;
  // Deleted blobs stay on disk until a state write that no longer names them has succeeded, so the
  // file on disk never names bytes that are gone (a crash in between leaves unnamed files at worst).
  let unnamedBlobs: string[] = [];

  const persist = () => {
    timer = undefined;
    const json = JSON.stringify(toSnapshot(state));
    const removable = unnamedBlobs;
    unnamedBlobs = [];
    writing = writing.then(() =>
      writeFileAtomic(path, json).then(
        () => {
          for (const id of removable) rmSync(join(blobDirectory, id), { force: true });
        },
        (error: unknown) => {
          unnamedBlobs.push(...removable);
          console.error(`local cloud: cannot write the state file ${path}: ${(error as Error).message}`);
        },
      ),
    );
  };
  const schedule = () => {
    if (!closed && timer === undefined) timer = setTimeout(persist, PERSIST_DELAY_MS);
  };

  return {
    state,
    blobs: {
      put(data) {
        const id = randomUUID();
        writeFileSync(join(blobDirectory, id), data);
        return id;
      },
      get(id) {
        try {
          return readFileSync(join(blobDirectory, id));
        } catch {
          return missingBlob(id);
        }
      },
      delete: (id) => void unnamedBlobs.push(id),
    },
    changed: schedule,
    reset() {
      clearState(state);
      unnamedBlobs.push(...readdirSync(blobDirectory));
      schedule();
    },
    snapshot: () => toSnapshot(state),
    async close() {
      if (timer !== undefined) {
        clearTimeout(timer);
        persist();
      }
      closed = true;
      await writing;
    },
  };
}

function missingBlob(id: string): never {
  throw new Error(`The local cloud has no bytes for blob ${id}`);
}

function loadState(path: string): LocalCloudState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw error;
  }
  const snapshot = JSON.parse(text) as StateSnapshot;
  if (snapshot.formatVersion !== 1) {
    throw new Error(`State file ${path} has unsupported formatVersion ${String(snapshot.formatVersion)}`);
  }
  return fromSnapshot(snapshot);
}

function clearState(state: LocalCloudState): void {
  state.things.clear();
  state.thingPrincipals.clear();
  state.principalThings.clear();
  state.certificates.clear();
  state.policies.clear();
  state.thingTypes.clear();
  state.identityPolicies.clear();
  state.coreDevices.clear();
  state.associations.clear();
  state.tables.clear();
  state.eventBuses.clear();
  state.buckets.clear();
}

function toSnapshot(state: LocalCloudState): StateSnapshot {
  return {
    formatVersion: 1,
    things: state.things.sortedValues(),
    thingPrincipals: mapOfOrderedToRecord(state.thingPrincipals),
    certificates: state.certificates.sortedValues(),
    policies: [...state.policies.values()],
    thingTypes: state.thingTypes.sortedValues(),
    identityPolicies: Object.fromEntries(state.identityPolicies),
    coreDevices: state.coreDevices.sortedValues(),
    associations: mapOfOrderedToRecord(state.associations),
    tables: [...state.tables.values()].map((table) => ({ ...table, items: table.items.sortedValues() })),
    eventBuses: state.eventBuses.sortedValues().map((bus) => ({ ...bus, rules: bus.rules.sortedValues() })),
    buckets: state.buckets.sortedValues().map((bucket) => ({ ...bucket, objects: bucket.objects.sortedValues() })),
  };
}

function fromSnapshot(snapshot: StateSnapshot): LocalCloudState {
  const state = emptyState();
  for (const thing of snapshot.things) state.things.set(thing.thingName, thing);
  for (const [thingName, attachments] of Object.entries(snapshot.thingPrincipals)) {
    const byPrincipal = new OrderedMap<PrincipalAttachment>();
    for (const attachment of attachments) {
      byPrincipal.set(attachment.principal, attachment);
      const things = state.principalThings.get(attachment.principal) ?? new Set<string>();
      things.add(thingName);
      state.principalThings.set(attachment.principal, things);
    }
    state.thingPrincipals.set(thingName, byPrincipal);
  }
  for (const certificate of snapshot.certificates) state.certificates.set(certificate.certificateId, certificate);
  for (const policy of snapshot.policies) state.policies.set(policy.policyName, policy);
  for (const thingType of snapshot.thingTypes ?? []) state.thingTypes.set(thingType.thingTypeName, thingType);
  for (const [identity, policyNames] of Object.entries(snapshot.identityPolicies ?? {})) state.identityPolicies.set(identity, policyNames);
  for (const core of snapshot.coreDevices) state.coreDevices.set(core.coreDeviceThingName, core);
  for (const [coreName, associations] of Object.entries(snapshot.associations)) {
    const byClient = new OrderedMap<ClientDeviceAssociation>();
    for (const association of associations) byClient.set(association.thingName, association);
    state.associations.set(coreName, byClient);
  }
  for (const table of snapshot.tables ?? []) {
    const items = new OrderedMap<Record<string, unknown>>();
    for (const item of table.items) items.set(itemKey(table.keySchema, item), item);
    state.tables.set(table.tableName, { ...table, items });
  }
  for (const bus of snapshot.eventBuses ?? []) {
    const rules = new OrderedMap<EventRuleRecord>();
    for (const rule of bus.rules) rules.set(rule.name, rule);
    state.eventBuses.set(bus.name, { ...bus, rules });
  }
  for (const bucket of snapshot.buckets ?? []) {
    const objects = new OrderedMap<S3ObjectRecord>();
    for (const object of bucket.objects) objects.set(object.key, object);
    state.buckets.set(bucket.name, { ...bucket, objects });
  }
  return state;
}

function mapOfOrderedToRecord<V>(map: Map<string, OrderedMap<V>>): Record<string, V[]> {
  const record: Record<string, V[]> = {};
  for (const [key, values] of [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (values.size > 0) record[key] = values.sortedValues();
  }
  return record;
}
