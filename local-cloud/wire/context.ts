import type { FaultInjector } from '../faults.ts';
import type { StateStore } from '../store.ts';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** What the server shares with every emulated service it mounts. */
export interface LocalCloudContext {
  store: StateStore;
  faults: FaultInjector;
  clock: Clock;
  /** The single emulated account: `000000000000`. */
  accountId: string;
}
