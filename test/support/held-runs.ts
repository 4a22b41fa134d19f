import { onTestFinished } from 'vitest';
import type { TestServiceCloud } from './service-cloud.ts';

/** One token in about eleven days: once its burst is spent, the quota refuses every call while the test runs. */
const NEVER_REFILLED = 1e-6;

/**
 * Turns the quotas on and lets one RegisterThing call through, then throttles every other until the returned
 * function (or the end of the test) lifts the hold and puts back the quota settings it found. A device it refuses
 * backs off under the throttling retrier (30 attempts, about 57 s × the cloud's timeScale) before it is given up, so
 * the request stays running while the test looks at it however loaded the machine; at timeScale 0 it holds nothing.
 */
export function holdRegisterThing(cloud: TestServiceCloud): () => void {
  const { quotas, rateLimits } = cloud.cloud.admin.faults();
  cloud.cloud.admin.configureFaults({ quotas: true, rateLimits: { RegisterThing: { rate: NEVER_REFILLED, burst: 1 } } });
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    cloud.cloud.admin.configureFaults({ quotas, rateLimits: { RegisterThing: rateLimits.RegisterThing! } });
  };
  onTestFinished(release);
  return release;
}
