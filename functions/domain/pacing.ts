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

export const INLINE_MAP_CONCURRENCY_LIMIT = 40;
const HEADROOM = 1.2;

export function deviceConcurrency(quotas: PacingQuotas, runningRequests = 0): number {
  const bindingTps = Math.min(quotas.registerThingTps, quotas.attachThingPrincipalTps, quotas.describeThingTps);
  const wanted = Math.ceil((bindingTps * quotas.deviceStepSeconds * HEADROOM) / (Math.max(0, runningRequests) + 1));
  return Math.min(INLINE_MAP_CONCURRENCY_LIMIT, Math.max(1, wanted));
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
