import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { forEachState } from './asl-states.ts';

/**
 * How the local Step Functions service treats time:
 * - `1`: AWS-faithful: Wait states and Retry backoff (IntervalSeconds × BackoffRate^n, MaxDelaySeconds,
 *   JitterStrategy FULL) as written.
 * - `0`: no waiting at all (test suites): every Wait state and every retry interval is overridden to 0 ms.
 * - anything else (e.g. 0.01): the definition is run with `Wait.Seconds`, `Retry[].IntervalSeconds` and
 *   `Retry[].MaxDelaySeconds` multiplied by the scale, so the backoff curve and jitter keep their shape.
 *   Interpreter overrides cannot do that: `retryIntervalOverrides` is one fixed interval per state (or per
 *   retrier), not per attempt. Waits given by `SecondsPath`, `Timestamp` or `TimestampPath` are known only at
 *   run time and are not scaled.
 * Task and execution `TimeoutSeconds` are never scaled.
 */
export interface TimedRun {
  definition: StateMachineDefinition;
  waitTimeOverrides: Record<string, number>;
  retryIntervalOverrides: Record<string, number>;
}

const TIME_SCALE_ENV = 'LOCAL_CLOUD_SFN_TIME_SCALE';

export function timeScaleFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env[TIME_SCALE_ENV];
  if (raw === undefined || raw.trim() === '') return 1;
  const scale = Number(raw);
  if (!Number.isFinite(scale) || scale < 0) throw new Error(`${TIME_SCALE_ENV} must be a number ≥ 0, got "${raw}"`);
  return scale;
}

export function applyTimeScale(definition: StateMachineDefinition, scale: number): TimedRun {
  if (scale === 1) return { definition, waitTimeOverrides: {}, retryIntervalOverrides: {} };
  if (scale === 0) {
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    forEachState(definition, (name, state) => {
      if (state.Type === 'Wait') waitTimeOverrides[name] = 0;
      if (Array.isArray(state.Retry)) retryIntervalOverrides[name] = 0;
    });
    return { definition, waitTimeOverrides, retryIntervalOverrides };
  }
  const scaled = structuredClone(definition);
  forEachState(scaled, (_, state) => {
    if (state.Type === 'Wait' && typeof state.Seconds === 'number') state.Seconds *= scale;
    if (!Array.isArray(state.Retry)) return;
    for (const retrier of state.Retry as Record<string, unknown>[]) {
      retrier.IntervalSeconds = (typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : DEFAULT_INTERVAL_SECONDS) * scale;
      if (typeof retrier.MaxDelaySeconds === 'number') retrier.MaxDelaySeconds *= scale;
    }
  });
  return { definition: scaled, waitTimeOverrides: {}, retryIntervalOverrides: {} };
}

/** ASL's default `IntervalSeconds`, made explicit so that it is scaled too. */
const DEFAULT_INTERVAL_SECONDS = 1;
