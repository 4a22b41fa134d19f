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
  /** Where an emulated service sends the events AWS services emit to EventBridge (S3's "Object Created"). */
  events: EventPublisher;
}

/** An event an AWS service emits, in the terms of EventBridge's envelope; `detail` is the object itself. */
export interface ServiceEvent {
  /** `aws.<service>`, e.g. `aws.s3`. */
  source: string;
  /** e.g. `Object Created`. */
  detailType: string;
  detail: Record<string, unknown>;
  /** ARNs of the resources involved, e.g. the bucket's. */
  resources: string[];
  /** The region the event happened in: the event's `region`, and the default bus it goes to. */
  region: string;
}

export interface EventPublisher {
  /**
   * Puts an AWS service's event on the default bus, as AWS does (events of `aws.*` sources reach only the
   * default bus). Returns at once: the rules that match deliver it asynchronously, as on AWS.
   */
  publish(event: ServiceEvent): void;
}
