import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
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

export interface LocalCloudState {
  things: OrderedMap<ThingRecord>;
  /** thing name → principal → attachment. */
  thingPrincipals: Map<string, OrderedMap<PrincipalAttachment>>;
  /** principal → names of the things it is attached to (reverse index for exclusivity checks). */
  principalThings: Map<string, Set<string>>;
  certificates: OrderedMap<CertificateRecord>;
  policies: Map<string, PolicyRecord>;
  coreDevices: OrderedMap<CoreDeviceRecord>;
  /** core device thing name → client thing name → association. */
  associations: Map<string, OrderedMap<ClientDeviceAssociation>>;
}

/** The JSON form of the state: what `GET /_local/state` shows and what a state file holds. */
export interface StateSnapshot {
  formatVersion: 1;
  things: ThingRecord[];
  thingPrincipals: Record<string, PrincipalAttachment[]>;
  certificates: CertificateRecord[];
  policies: PolicyRecord[];
  coreDevices: CoreDeviceRecord[];
  associations: Record<string, ClientDeviceAssociation[]>;
}

/**
 * State shared by the emulated services. Services mutate `state` directly (one event-loop turn is
 * one transaction) and then call `changed()` so a persistent store can save.
 */
export interface StateStore {
  readonly state: LocalCloudState;
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
    coreDevices: new OrderedMap(),
    associations: new Map(),
  };
}

export function createMemoryStore(): StateStore {
  const state = emptyState();
  return {
    state,
    changed() {},
    reset: () => clearState(state),
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
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  let closed = false;

  const persist = () => {
    timer = undefined;
    const json = JSON.stringify(toSnapshot(state));
    writing = writing.then(() =>
      writeFileAtomic(path, json).catch((error: unknown) => {
        console.error(`local cloud: cannot write the state file ${path}: ${(error as Error).message}`);
      }),
    );
  };
  const schedule = () => {
    if (!closed && timer === undefined) timer = setTimeout(persist, PERSIST_DELAY_MS);
  };

  return {
    state,
    changed: schedule,
    reset() {
      clearState(state);
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
  state.coreDevices.clear();
  state.associations.clear();
}

function toSnapshot(state: LocalCloudState): StateSnapshot {
  return {
    formatVersion: 1,
    things: state.things.sortedValues(),
    thingPrincipals: mapOfOrderedToRecord(state.thingPrincipals),
    certificates: state.certificates.sortedValues(),
    policies: [...state.policies.values()],
    coreDevices: state.coreDevices.sortedValues(),
    associations: mapOfOrderedToRecord(state.associations),
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
  for (const core of snapshot.coreDevices) state.coreDevices.set(core.coreDeviceThingName, core);
  for (const [coreName, associations] of Object.entries(snapshot.associations)) {
    const byClient = new OrderedMap<ClientDeviceAssociation>();
    for (const association of associations) byClient.set(association.thingName, association);
    state.associations.set(coreName, byClient);
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
