import { randomUUID } from 'node:crypto';
import { JSONPath } from 'jsonpath-plus';
import type { EventTargetRecord } from '../../store.ts';
import type { Clock } from '../../wire/context.ts';

/**
 * How a matched event reaches a target, in AWS's two layers:
 * - EventBridge delivers it (for a Lambda target: an asynchronous Invoke, which Lambda accepts at once). A
 *   delivery that fails is retried with exponential backoff within the target's RetryPolicy (default 185
 *   attempts, 24 hours); then the event goes to the target's dead-letter queue, or is dropped.
 * - Lambda runs the function from its own queue: a function that throws is run again up to its
 *   `maximumRetryAttempts` (default 2; one minute before the second attempt, two before the third) within
 *   its `maximumEventAge`; then an invocation record goes to its `destinations.onFailure`, or nowhere.
 * Waits are multiplied by the time scale (0 = none), as the Step Functions emulation scales its own.
 */

/** A function EventBridge can deliver to, with the asynchronous-invocation settings of its configuration. */
export interface LambdaTarget {
  functionArn: string;
  /** Lambda's retries after a failed run: 0–2. */
  maximumRetryAttempts: number;
  /** Seconds an event may wait in Lambda's queue. */
  maximumEventAgeSeconds: number;
  /** `destinations.onFailure`: where the invocation record of a run that failed for good goes. */
  onFailure?: string;
  /** Runs the function; rejects with what it threw. */
  invoke(event: unknown): Promise<unknown>;
}

/** The functions a local cloud runs, by function ARN (a qualifier allowed); undefined when there is none. */
export type LambdaTargets = (functionArn: string) => LambdaTarget | undefined;

/** The account and function name of a Lambda function ARN (`…:function:<name>[:<qualifier>]`), or undefined. */
export function parseFunctionArn(arn: string): { accountId: string; functionName: string } | undefined {
  const match = /^arn:aws[\w-]*:lambda:[a-z0-9-]+:(\d{12}):function:([^:]+)(?::[^:]+)?$/.exec(arn);
  return match ? { accountId: match[1] as string, functionName: match[2] as string } : undefined;
}

export interface DeliveryRecord {
  eventId: string;
  eventBusName: string;
  rule: string;
  targetId: string;
  targetArn: string;
  /** EventBridge's delivery attempts. */
  deliveryAttempts: number;
  /** Runs of the function (Lambda's own attempts), once delivered. */
  invocations: number;
  outcome: 'in-progress' | 'succeeded' | 'dead-lettered' | 'dropped';
  /** The last error: a delivery error code, or the name the function's error carries. */
  error?: { type: string; message: string };
  /** Where the event or its invocation record was sent when it failed for good. */
  deadLetterArn?: string;
  startedAt: string;
  finishedAt?: string;
}

/** A message sent to a dead-letter queue or an on-failure destination: what an SQS consumer would receive. */
export interface DeadLetter {
  messageId: string;
  /** `eventbridge-rule`: a delivery EventBridge gave up on; `lambda-on-failure`: a function that failed its last attempt. */
  origin: 'eventbridge-rule' | 'lambda-on-failure';
  body: string;
  /** The SQS message attributes EventBridge sets on a dead-lettered event (RULE_ARN, ERROR_CODE, …). */
  attributes: Record<string, string>;
  sentAt: string;
}

export interface DeliveryOptions {
  clock: Clock;
  lambdaTargets: LambdaTargets;
  /** 1 = AWS's waits, 0 = none. */
  timeScale: number;
  /** How many recent deliveries the log keeps. */
  logSize?: number;
}

export interface Delivery {
  event: Record<string, unknown>;
  eventBusName: string;
  ruleName: string;
  ruleArn: string;
  target: EventTargetRecord;
}

/** EventBridge's documented defaults for a target without a RetryPolicy. */
const EVENTBRIDGE_MAX_RETRY_ATTEMPTS = 185;
const EVENTBRIDGE_MAX_EVENT_AGE_SECONDS = 86_400;
/** EventBridge documents exponential backoff, not its steps: 1 s doubling to at most 5 minutes (an assumption). */
const FIRST_RETRY_SECONDS = 1;
const MAX_RETRY_SECONDS = 300;
/** Lambda's documented waits before its second and third asynchronous attempts. */
const LAMBDA_RETRY_SECONDS = [60, 120];
const DEFAULT_LOG_SIZE = 1000;

export interface DeliveryEngine {
  /** Starts delivering in the background; returns at once. */
  deliver(delivery: Delivery): void;
  deliveries(): DeliveryRecord[];
  deadLetters(): Record<string, DeadLetter[]>;
  /** Stops every wait and retry, waits for the functions under way, forgets deliveries and dead letters. */
  reset(): Promise<void>;
}

export function createDeliveryEngine(options: DeliveryOptions): DeliveryEngine {
  const logSize = options.logSize ?? DEFAULT_LOG_SIZE;
  const log: DeliveryRecord[] = [];
  let deadLetters = new Map<string, DeadLetter[]>();
  const inFlight = new Set<Promise<void>>();
  const waiting = new Set<() => void>();
  let generation = 0;

  const now = () => new Date(options.clock.now()).toISOString();
  /** Resolves false when a reset stops the wait, so that nothing runs after it. */
  const wait = (seconds: number, startedIn: number) =>
    new Promise<boolean>((resolve) => {
      if (startedIn !== generation) return resolve(false);
      const stop = () => {
        clearTimeout(timer);
        waiting.delete(stop);
        resolve(false);
      };
      const timer = setTimeout(
        () => {
          waiting.delete(stop);
          resolve(startedIn === generation);
        },
        seconds * options.timeScale * 1000,
      );
      waiting.add(stop);
    });
  const sendDeadLetter = (arn: string, letter: Omit<DeadLetter, 'messageId' | 'sentAt'>) => {
    const queue = deadLetters.get(arn) ?? [];
    queue.push({ messageId: randomUUID(), sentAt: now(), ...letter });
    deadLetters.set(arn, queue);
  };

  async function run(delivery: Delivery, record: DeliveryRecord, startedIn: number): Promise<void> {
    const { target } = delivery;
    const maxAttempts = 1 + (target.RetryPolicy?.MaximumRetryAttempts ?? EVENTBRIDGE_MAX_RETRY_ATTEMPTS);
    const maxAge = target.RetryPolicy?.MaximumEventAgeInSeconds ?? EVENTBRIDGE_MAX_EVENT_AGE_SECONDS;
    // Age in unscaled seconds, so that a scaled run gives up where AWS would.
    let age = 0;
    if (!(await wait(0, startedIn))) return;
    for (;;) {
      record.deliveryAttempts++;
      const lambda = options.lambdaTargets(target.Arn);
      if (lambda) return runFunction(lambda, payloadOf(delivery), record, startedIn);
      record.error = { type: 'RESOURCE_NOT_FOUND', message: `Function not found: ${target.Arn}` };
      const delay = Math.min(FIRST_RETRY_SECONDS * 2 ** (record.deliveryAttempts - 1), MAX_RETRY_SECONDS);
      const exhausted =
        record.deliveryAttempts >= maxAttempts ? 'MaximumRetryAttempts' : age + delay > maxAge ? 'MaximumEventAgeInSeconds' : undefined;
      if (exhausted) {
        const dlq = target.DeadLetterConfig?.Arn;
        if (dlq) {
          sendDeadLetter(dlq, {
            origin: 'eventbridge-rule',
            body: JSON.stringify(delivery.event),
            attributes: {
              RULE_ARN: delivery.ruleArn,
              TARGET_ARN: target.Arn,
              ERROR_CODE: record.error.type,
              ERROR_MESSAGE: record.error.message,
              EXHAUSTED_RETRY_CONDITION: exhausted,
              RETRY_ATTEMPTS: String(record.deliveryAttempts - 1),
            },
          });
        }
        return finish(record, dlq);
      }
      age += delay;
      if (!(await wait(delay, startedIn))) return;
    }
  }

  async function runFunction(lambda: LambdaTarget, event: unknown, record: DeliveryRecord, startedIn: number): Promise<void> {
    let age = 0;
    for (;;) {
      record.invocations++;
      try {
        // Lambda hands each run its own copy of the payload: a handler that changes it changes nothing else.
        await lambda.invoke(structuredClone(event));
        delete record.error;
        return finish(record, undefined, 'succeeded');
      } catch (thrown) {
        const error = thrown instanceof Error ? thrown : new Error(String(thrown));
        record.error = { type: error.name, message: error.message };
        const delay = LAMBDA_RETRY_SECONDS[record.invocations - 1] ?? 0;
        const retry = record.invocations <= lambda.maximumRetryAttempts && age + delay <= lambda.maximumEventAgeSeconds;
        if (!retry) {
          const condition = record.invocations > lambda.maximumRetryAttempts ? 'RetriesExhausted' : 'EventAgeExceeded';
          if (lambda.onFailure)
            sendDeadLetter(lambda.onFailure, {
              origin: 'lambda-on-failure',
              body: JSON.stringify(invocationRecord(lambda, event, error, condition, record.invocations, now())),
              attributes: {},
            });
          return finish(record, lambda.onFailure);
        }
        age += delay;
        if (!(await wait(delay, startedIn))) return;
      }
    }
  }

  function finish(record: DeliveryRecord, deadLetterArn: string | undefined, outcome?: DeliveryRecord['outcome']): void {
    record.outcome = outcome ?? (deadLetterArn ? 'dead-lettered' : 'dropped');
    if (deadLetterArn) record.deadLetterArn = deadLetterArn;
    record.finishedAt = now();
  }

  return {
    deliver(delivery) {
      const record: DeliveryRecord = {
        eventId: String(delivery.event.id),
        eventBusName: delivery.eventBusName,
        rule: delivery.ruleName,
        targetId: delivery.target.Id,
        targetArn: delivery.target.Arn,
        deliveryAttempts: 0,
        invocations: 0,
        outcome: 'in-progress',
        startedAt: now(),
      };
      log.push(record);
      if (log.length > logSize) log.splice(0, log.length - logSize);
      const running = run(delivery, record, generation).catch((error: unknown) =>
        console.error('local cloud: an EventBridge delivery failed', error),
      );
      inFlight.add(running);
      void running.finally(() => inFlight.delete(running));
    },
    deliveries: () => log.map((record) => ({ ...record })),
    deadLetters: () => Object.fromEntries([...deadLetters].map(([arn, letters]) => [arn, [...letters]])),
    async reset() {
      generation++;
      for (const stop of [...waiting]) stop();
      await Promise.all([...inFlight]);
      log.length = 0;
      deadLetters = new Map();
    },
  };
}

/** What the target receives: the event, the target's constant `Input`, or the part `InputPath` selects. */
function payloadOf({ event, target }: Delivery): unknown {
  if (target.Input !== undefined) return JSON.parse(target.Input) as unknown;
  if (target.InputPath !== undefined) return JSONPath({ path: target.InputPath, json: event, wrap: false });
  return event;
}

/** The record Lambda sends to an on-failure destination (Lambda developer guide, "Invocation record"). */
function invocationRecord(lambda: LambdaTarget, event: unknown, error: Error, condition: string, invokeCount: number, timestamp: string) {
  return {
    version: '1.0',
    timestamp,
    requestContext: {
      requestId: randomUUID(),
      functionArn: `${lambda.functionArn}:$LATEST`,
      condition,
      approximateInvokeCount: invokeCount,
    },
    requestPayload: event,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') },
  };
}
