/**
 * How many devices one execution works on at once. Little's law: calls in flight = rate × time per
 * call. Every device makes one RegisterThing call, the slowest API (10/s by default), during a
 * per-device step sequence of about `deviceStepSeconds`; so
 *
 *     deviceConcurrency = ceil(registerThingTps × deviceStepSeconds × headroom)
 *
 * keeps RegisterThing busy at its quota without a throttle storm. The quota belongs to the account,
 * so requests already running share it: the lanes are divided among them and the new one,
 *
 *     deviceConcurrency = ceil(registerThingTps × deviceStepSeconds × headroom / (running + 1))
 *
 * (a lone request gets them all; the fleet CLI's concurrent requests split them). The result is
 * capped by the inline Map's limit of 40 concurrent iterations. The quotas of the APIs every device
 * calls (AttachThingPrincipal 100/s, DescribeThing 350/s) are higher, so they never bind first; the
 * formula takes the minimum anyway so a lowered quota is honoured. ListThingPrincipals (10/s) is not
 * in it because only some devices call it: each device of a CSR template (once, as it calls
 * RegisterThing, so at the default quotas it binds no sooner; raising REGISTER_THING_TPS alone does
 * not speed those requests up), a thing that already exists, and a rollback.
 */
export interface PacingQuotas {
  registerThingTps: number;
  attachThingPrincipalTps: number;
  describeThingTps: number;
  deviceStepSeconds: number;
}

const INLINE_MAP_CONCURRENCY_LIMIT = 40;
const HEADROOM = 1.2;

function bindingTps(quotas: PacingQuotas): number {
  return Math.min(quotas.registerThingTps, quotas.attachThingPrincipalTps, quotas.describeThingTps);
}

export function deviceConcurrency(quotas: PacingQuotas, runningRequests = 0): number {
  const wanted = Math.ceil((bindingTps(quotas) * quotas.deviceStepSeconds * HEADROOM) / (Math.max(0, runningRequests) + 1));
  return Math.min(INLINE_MAP_CONCURRENCY_LIMIT, Math.max(1, wanted));
}

/** How long a device keeps trying while the quota is contended before it is given up (and rolled back). */
const THROTTLING_PATIENCE_SECONDS = 60;
const THROTTLING_BACKOFF_RATE = 2;
/**
 * IoT refills its token buckets every second, so a wait of a few seconds finds tokens as surely as a longer
 * one, which would only lengthen the request's tail: with a 16 s cap the benchmark's runs varied 10–23 s.
 */
const THROTTLING_CAP_SECONDS = 4;

export interface ThrottlingRetrier {
  IntervalSeconds: number;
  BackoffRate: number;
  MaxDelaySeconds: number;
  MaxAttempts: number;
  JitterStrategy: 'FULL';
}

/**
 * The state machines' retrier for throttling, from the same quotas. A throttled device should try again
 * once the devices in flight have drained through the binding quota; Step Functions counts whole seconds:
 *
 *     IntervalSeconds = max(1, ceil(deviceConcurrency / bindingTps))
 *
 * The lanes grow with the quota, so the quota mostly cancels out: 6 / 10 = 0.6 s at the AWS defaults,
 * 40 / 100 at a raised quota, both 1 s; slow steps (a larger DEVICE_STEP_SECONDS) or a quota below 2/s
 * lengthen it. Then
 *
 *     MaxDelaySeconds = max(4, IntervalSeconds)   a few of IoT's one-second refills, never below the interval
 *     MaxAttempts     = ceil(60 s / (MaxDelaySeconds / 2))   FULL jitter waits half the cap on average:
 *                                              about a minute of contention before a device is given up
 *
 * The ASL files hold the literal values (Step Functions has no expressions in Retry), one set for every
 * stage; test/unit/statemachines/asl.test.ts checks them against this function for each stage's quotas in
 * serverless.yml (the local stage's defaults: the benchmark sets its quotas per run).
 */
export function throttlingRetrier(quotas: PacingQuotas): ThrottlingRetrier {
  const intervalSeconds = Math.max(1, Math.ceil(deviceConcurrency(quotas) / bindingTps(quotas)));
  const maxDelaySeconds = Math.max(THROTTLING_CAP_SECONDS, intervalSeconds);
  return {
    IntervalSeconds: intervalSeconds,
    BackoffRate: THROTTLING_BACKOFF_RATE,
    MaxDelaySeconds: maxDelaySeconds,
    MaxAttempts: Math.ceil(THROTTLING_PATIENCE_SECONDS / (maxDelaySeconds / 2)),
    JitterStrategy: 'FULL',
  };
}

function positiveNumber(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : fallback;
}

/** The AWS default quotas unless the deployment says otherwise (serverless.yml params). */
export function quotasFromEnvironment(environment: NodeJS.ProcessEnv): PacingQuotas {
  return {
    registerThingTps: positiveNumber(environment.REGISTER_THING_TPS, 10),
    attachThingPrincipalTps: positiveNumber(environment.ATTACH_THING_PRINCIPAL_TPS, 100),
    describeThingTps: positiveNumber(environment.DESCRIBE_THING_TPS, 350),
    deviceStepSeconds: positiveNumber(environment.DEVICE_STEP_SECONDS, 0.5),
  };
}
