import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import * as z from 'zod/mini';
import type { Clock } from './wire/context.ts';
import { InjectedFault } from './wire/injected-fault.ts';

/** Probability per operation name; `*` applies to operations not listed. */
export type ProbabilityTable = Readonly<Record<string, number>>;

export interface RateLimit {
  /** Tokens added per second. */
  rate: number;
  /** Bucket size: how many calls may burst after a quiet period. */
  burst: number;
}

export interface FaultSettings {
  /** Seed of the generator behind every probabilistic fault, so a run can be replayed. */
  seed: number;
  /** Whether the per-API rate quotas are enforced. */
  quotas: boolean;
  /** One factor applied to every quota's rate and burst (the benchmark uses 10). */
  quotaScale: number;
  /** Quotas by operation name, before scaling. Operations not listed are not rate limited. */
  rateLimits: Readonly<Record<string, RateLimit>>;
  /** Extra throttling on top of the quotas. */
  throttle: ProbabilityTable;
  /** InternalFailure / ServiceUnavailable before the operation runs. */
  serverError: ProbabilityTable;
  /** The operation runs and commits, then the caller gets a 500. */
  failAfterCommit: ProbabilityTable;
  /** Per entry of a batch: a retryable error entry (the entry is not applied). */
  entryRetryable: ProbabilityTable;
  /** Per entry of a batch: a permanent error entry (the entry is not applied). */
  entryPermanent: ProbabilityTable;
  /** How long a detached principal still counts as attached (IoT detaches asynchronously). */
  detachPropagationMs: number;
}

type ProbabilityName = 'throttle' | 'serverError' | 'failAfterCommit' | 'entryRetryable' | 'entryPermanent';

const PROBABILITY_NAMES: readonly ProbabilityName[] = ['throttle', 'serverError', 'failAfterCommit', 'entryRetryable', 'entryPermanent'];

function perSecond(rate: number, burst = rate): RateLimit {
  return { rate, burst };
}

/** An operation with no default quota. */
const NOT_LIMITED = null;

/**
 * Every operation the emulated services resolve (`ResolvedOperation.name`): the names quotas and
 * fault tables accept. A service that gains an operation adds it here, or no quota or fault can
 * name it. Each comes with its default quota: Service Quotas defaults where published, assumptions
 * elsewhere (which is which: docs/local-cloud.md, "Default quotas"). Step Functions limits its other
 * calls too; only the quotas of StartExecution, DescribeMapRun and ListMapRuns are emulated.
 */
const OPERATIONS = {
  RegisterThing: perSecond(10),
  CreateKeysAndCertificate: perSecond(10),
  DescribeCertificate: perSecond(10),
  UpdateCertificate: perSecond(10),
  DeleteCertificate: perSecond(10),
  CreatePolicy: perSecond(10),
  AttachThingPrincipal: perSecond(100),
  DetachThingPrincipal: perSecond(100),
  DeleteThing: perSecond(100),
  DescribeThing: perSecond(350),
  ListThingPrincipals: perSecond(10),
  ListThingPrincipalsV2: perSecond(10),
  ListThings: perSecond(10),
  CreateThing: perSecond(100),
  UpdateThing: perSecond(100),
  ListPrincipalThings: perSecond(10),
  ListPrincipalThingsV2: perSecond(10),
  CreateThingType: perSecond(15),
  DescribeThingType: perSecond(50),
  DeprecateThingType: perSecond(15),
  DeleteThingType: perSecond(15),
  AttachPolicy: perSecond(15),
  DetachPolicy: perSecond(15),
  ListAttachedPolicies: perSecond(15),
  AttachPrincipalPolicy: perSecond(15),
  DetachPrincipalPolicy: perSecond(15),
  ListPrincipalPolicies: perSecond(15),
  ListTargetsForPolicy: perSecond(15),
  ListCertificates: perSecond(10),
  CreateCertificateFromCsr: perSecond(10),
  RegisterCertificate: perSecond(10),
  RegisterCertificateWithoutCA: perSecond(10),
  DescribeEndpoint: perSecond(10),
  GetCoreDevice: perSecond(10),
  ListCoreDevices: perSecond(10),
  BatchAssociateClientDeviceWithCoreDevice: perSecond(10),
  BatchDisassociateClientDeviceFromCoreDevice: perSecond(10),
  ListClientDevicesAssociatedWithCoreDevice: perSecond(10),
  StartExecution: perSecond(300, 1300),
  ListStateMachines: NOT_LIMITED,
  DescribeStateMachine: NOT_LIMITED,
  DescribeExecution: NOT_LIMITED,
  ListExecutions: NOT_LIMITED,
  GetExecutionHistory: NOT_LIMITED,
  StopExecution: NOT_LIMITED,
  DescribeMapRun: perSecond(1, 200),
  ListMapRuns: perSecond(1, 100),
  // On-demand tables scale far past what one request asks of them: no quota is emulated.
  CreateTable: NOT_LIMITED,
  DescribeTable: NOT_LIMITED,
  DeleteTable: NOT_LIMITED,
  ListTables: NOT_LIMITED,
  UpdateTimeToLive: NOT_LIMITED,
  DescribeTimeToLive: NOT_LIMITED,
  GetItem: NOT_LIMITED,
  PutItem: NOT_LIMITED,
  UpdateItem: NOT_LIMITED,
  DeleteItem: NOT_LIMITED,
  Scan: NOT_LIMITED,
  TransactWriteItems: NOT_LIMITED,
  // EventBridge's published PutEvents quota (us-east-1; smaller in other regions); its other calls are not limited here.
  PutEvents: perSecond(10_000),
  CreateEventBus: NOT_LIMITED,
  DescribeEventBus: NOT_LIMITED,
  ListEventBuses: NOT_LIMITED,
  DeleteEventBus: NOT_LIMITED,
  PutRule: NOT_LIMITED,
  DescribeRule: NOT_LIMITED,
  ListRules: NOT_LIMITED,
  DeleteRule: NOT_LIMITED,
  EnableRule: NOT_LIMITED,
  DisableRule: NOT_LIMITED,
  PutTargets: NOT_LIMITED,
  ListTargetsByRule: NOT_LIMITED,
  RemoveTargets: NOT_LIMITED,
  TestEventPattern: NOT_LIMITED,
  // S3 limits requests per prefix (3,500 writes and 5,500 reads a second), far past a local run: no quota is emulated.
  ListBuckets: NOT_LIMITED,
  CreateBucket: NOT_LIMITED,
  HeadBucket: NOT_LIMITED,
  DeleteBucket: NOT_LIMITED,
  GetBucketLocation: NOT_LIMITED,
  PutBucketNotificationConfiguration: NOT_LIMITED,
  GetBucketNotificationConfiguration: NOT_LIMITED,
  ListObjectsV2: NOT_LIMITED,
  PutObject: NOT_LIMITED,
  CopyObject: NOT_LIMITED,
  GetObject: NOT_LIMITED,
  HeadObject: NOT_LIMITED,
  DeleteObject: NOT_LIMITED,
  DeleteObjects: NOT_LIMITED,
  CreateMultipartUpload: NOT_LIMITED,
  UploadPart: NOT_LIMITED,
  CompleteMultipartUpload: NOT_LIMITED,
  AbortMultipartUpload: NOT_LIMITED,
} satisfies Record<string, RateLimit | typeof NOT_LIMITED>;

export type OperationName = keyof typeof OPERATIONS;

export const EMULATED_OPERATIONS: readonly OperationName[] = Object.keys(OPERATIONS) as OperationName[];

const DEFAULT_RATE_LIMITS: Readonly<Record<string, RateLimit>> = Object.fromEntries(
  Object.entries(OPERATIONS).filter((entry): entry is [string, RateLimit] => entry[1] !== NOT_LIMITED),
);

/** A number in [min, max]; every failure is worded the same. */
function numberFrom(min: number, max: number) {
  const reason = `must be a number from ${min} to ${max}`;
  return z.number(reason).check(z.gte(min, reason), z.lte(max, reason));
}

const POSITIVE = 'must be a positive number';
const positive = z.number(POSITIVE).check(z.gt(0, POSITIVE));
const probability = numberFrom(0, 1);

/** An object by operation name; `*` (every operation not listed) where the table has a fallback. */
function operationTable<T extends z.ZodMiniType>(value: T, { wildcard }: { wildcard: boolean }) {
  const valid = `${wildcard ? '*, ' : ''}${EMULATED_OPERATIONS.join(', ')}`;
  return z.partialRecord(z.enum(wildcard ? [...EMULATED_OPERATIONS, '*'] : EMULATED_OPERATIONS), value, {
    // With enum keys zod reports a key outside them as `unrecognized_keys`, which its types leave out here.
    error: (issue) =>
      issue.code === 'invalid_type' ? 'must be an object' : `is not an operation the local cloud emulates (valid: ${valid})`,
  });
}

const probabilityTable = z.union([probability, operationTable(probability, { wildcard: true })], {
  error: 'must be a number from 0 to 1, or an object of them by operation name',
});

const rateLimitPatch = z.union(
  [positive, z.strictObject({ rate: positive, burst: z.optional(positive) }, 'is not a field of a rate limit (rate, burst)')],
  'must be a positive number, or an object { rate, burst? } of them',
);

const patchFields = {
  seed: z.optional(numberFrom(0, Number.MAX_SAFE_INTEGER)),
  quotas: z.optional(z.boolean('must be true or false')),
  quotaScale: z.optional(positive),
  rateLimits: z.optional(operationTable(rateLimitPatch, { wildcard: false })),
  throttle: z.optional(probabilityTable),
  serverError: z.optional(probabilityTable),
  failAfterCommit: z.optional(probabilityTable),
  entryRetryable: z.optional(probabilityTable),
  entryPermanent: z.optional(probabilityTable),
  detachPropagationMs: z.optional(numberFrom(0, 3_600_000)),
} satisfies Record<keyof FaultSettings, z.ZodMiniType>;

const patchSchema = z.strictObject(patchFields, {
  error: (issue) =>
    issue.code === 'unrecognized_keys' ? `is not a fault setting (known: ${Object.keys(patchFields).join(', ')})` : 'must be an object',
});

/**
 * A partial update: any field may be left out; a probability table may be given as one number
 * (meaning `{"*": n}`); a rate limit may be given as one number (rate = burst).
 */
export type FaultSettingsPatch = z.input<typeof patchSchema>;

/** Every injected fault off; the quotas and the seed are left as they are. */
export const NO_INJECTED_FAULTS = {
  throttle: {},
  serverError: {},
  failAfterCommit: {},
  entryRetryable: {},
  entryPermanent: {},
  detachPropagationMs: 0,
} as const satisfies FaultSettingsPatch;

const DEFAULT_FAULT_SETTINGS: FaultSettings = {
  seed: 1,
  quotas: true,
  quotaScale: 1,
  rateLimits: DEFAULT_RATE_LIMITS,
  ...NO_INJECTED_FAULTS,
};

export type CallOutcome = 'succeeded' | 'throttled' | 'failed';

export interface OperationCounters {
  calls: number;
  succeeded: number;
  throttled: number;
  failed: number;
}

export type EntryFault = 'retryable' | 'permanent';

export interface FaultInjector {
  /** Throws an InjectedFault when a quota or a drawn fault rejects a call before it runs. */
  admit(operation: string): void;
  /** Throws an InjectedFault when a drawn fault fails a call whose effects were committed. */
  afterCommit(operation: string): void;
  /** The fault drawn for one entry of a batch call, if any. */
  entryFault(operation: string): EntryFault | undefined;
  /** A draw in [0, 1) from the seeded generator, for services that vary an injected fault. */
  random(): number;
  record(operation: string, outcome: CallOutcome): void;
  metrics(): Record<string, OperationCounters>;
  resetMetrics(): void;
  settings(): FaultSettings;
  configure(patch: FaultSettingsPatch): FaultSettings;
}

interface Bucket {
  limit: RateLimit;
  tokens: number;
  refilledAt: number;
}

export function createFaultInjector(patch: FaultSettingsPatch, clock: Clock): FaultInjector {
  let settings = applyPatch(DEFAULT_FAULT_SETTINGS, patch);
  let rng = xoroshiro128plus(settings.seed);
  let buckets = new Map<string, Bucket>();
  let counters = new Map<string, OperationCounters>();

  const draw = (table: ProbabilityTable, operation: string): boolean => {
    const probability = table[operation] ?? table['*'] ?? 0;
    return probability > 0 && uniformFloat64(rng) < probability;
  };

  /** Takes a token; returns the whole seconds to wait when the bucket is empty. */
  const takeToken = (operation: string): number | undefined => {
    const limit = settings.rateLimits[operation];
    if (!settings.quotas || !limit) return undefined;
    const now = clock.now();
    let bucket = buckets.get(operation);
    if (!bucket) {
      const scaled = { rate: limit.rate * settings.quotaScale, burst: Math.max(1, limit.burst * settings.quotaScale) };
      bucket = { limit: scaled, tokens: scaled.burst, refilledAt: now };
      buckets.set(operation, bucket);
    }
    bucket.tokens = Math.min(bucket.limit.burst, bucket.tokens + ((now - bucket.refilledAt) / 1000) * bucket.limit.rate);
    bucket.refilledAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / bucket.limit.rate));
  };

  return {
    admit(operation) {
      const waitSeconds = takeToken(operation);
      if (waitSeconds !== undefined) {
        throw new InjectedFault('throttled', operation, `Rate exceeded for ${operation}`, waitSeconds);
      }
      if (draw(settings.throttle, operation)) {
        throw new InjectedFault('throttled', operation, `Rate exceeded for ${operation}`);
      }
      if (draw(settings.serverError, operation)) {
        const kind = uniformFloat64(rng) < 0.5 ? 'internalError' : 'unavailable';
        throw new InjectedFault(kind, operation, `Injected ${kind} for ${operation}`);
      }
    },
    afterCommit(operation) {
      if (draw(settings.failAfterCommit, operation)) {
        throw new InjectedFault('internalError', operation, `Injected failure after commit for ${operation}`);
      }
    },
    entryFault(operation) {
      if (draw(settings.entryRetryable, operation)) return 'retryable';
      if (draw(settings.entryPermanent, operation)) return 'permanent';
      return undefined;
    },
    random: () => uniformFloat64(rng),
    record(operation, outcome) {
      let entry = counters.get(operation);
      if (!entry) {
        entry = { calls: 0, succeeded: 0, throttled: 0, failed: 0 };
        counters.set(operation, entry);
      }
      entry.calls++;
      entry[outcome]++;
    },
    metrics: () => Object.fromEntries([...counters].map(([name, entry]) => [name, { ...entry }])),
    resetMetrics() {
      counters = new Map();
    },
    settings: () => settings,
    configure(update) {
      settings = applyPatch(settings, update);
      buckets = new Map();
      if (update.seed !== undefined) rng = xoroshiro128plus(settings.seed);
      return settings;
    },
  };
}

/** A fault settings patch with a bad field; the message names it. */
export class FaultSettingsError extends Error {
  override readonly name = 'FaultSettingsError';
}

/**
 * `input` as a fault settings patch, or a FaultSettingsError naming every bad field:
 * "<field path> <reason>", several joined by "; ".
 */
export function parseFaultSettingsPatch(input: unknown): FaultSettingsPatch {
  const result = z.safeParse(patchSchema, input);
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) => {
    const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
    return paths.map((path) => `${path.map(String).join('.') || 'the fault settings'} ${issue.message}`);
  });
  throw new FaultSettingsError(problems.join('; '));
}

/** Merges a patch into settings, validating it. */
function applyPatch(base: FaultSettings, input: FaultSettingsPatch): FaultSettings {
  const patch = parseFaultSettingsPatch(input);
  const rateLimits = { ...base.rateLimits };
  for (const [operation, limit] of Object.entries(patch.rateLimits ?? {})) {
    rateLimits[operation] = typeof limit === 'number' ? perSecond(limit) : perSecond(limit.rate, limit.burst);
  }
  const next: FaultSettings = {
    ...base,
    seed: patch.seed ?? base.seed,
    quotas: patch.quotas ?? base.quotas,
    quotaScale: patch.quotaScale ?? base.quotaScale,
    detachPropagationMs: patch.detachPropagationMs ?? base.detachPropagationMs,
    rateLimits,
  };
  for (const name of PROBABILITY_NAMES) {
    const table = patch[name];
    if (table !== undefined) next[name] = typeof table === 'number' ? { '*': table } : { ...table };
  }
  return next;
}
