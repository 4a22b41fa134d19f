import { boundedMessage, isTransientError } from './errors.ts';
import { MAX_CLIENT_DEVICES_PER_BATCH } from './limits.ts';
import type { ClientDeviceBatch, DeviceRecord, SettledBatch, Step } from './records.ts';

/** Groups devices by core device, in batches of at most 100 (the Batch* APIs' limit), in request order. */
export function planClientDeviceBatches(devices: Pick<DeviceRecord, 'thingName' | 'coreDeviceThingName'>[]): ClientDeviceBatch[] {
  const namesByCore = Map.groupBy(devices, (device) => device.coreDeviceThingName);
  return [...namesByCore].flatMap(([coreDeviceThingName, members]) => {
    const batches: ClientDeviceBatch[] = [];
    for (let start = 0; start < members.length; start += MAX_CLIENT_DEVICES_PER_BATCH) {
      batches.push({
        coreDeviceThingName,
        pending: members.slice(start, start + MAX_CLIENT_DEVICES_PER_BATCH).map((device) => device.thingName),
        done: [],
        failed: [],
        attempt: 0,
        retryDelaySeconds: 0,
      });
    }
    return batches;
  });
}

export interface ErrorEntry {
  thingName?: string;
  code?: string;
  message?: string;
}

export interface RedrivePolicy {
  /** Calls per batch, the first included. */
  maxAttempts: number;
  baseDelaySeconds: number;
  maxDelaySeconds: number;
}

export const CLIENT_DEVICE_REDRIVE: RedrivePolicy = { maxAttempts: 6, baseDelaySeconds: 1, maxDelaySeconds: 16 };

/**
 * Folds one Batch*ClientDevice… response into the batch: entries without an error are done,
 * retryable error entries stay pending for the next call, the rest fail with their code. Once the
 * attempts are spent, what is still pending fails with the last code it got.
 * `random` is injected so that the full-jitter delay is testable.
 */
export function applyBatchResponse(
  batch: ClientDeviceBatch,
  errorEntries: ErrorEntry[],
  policy: RedrivePolicy,
  random: () => number,
): ClientDeviceBatch {
  // Stryker disable next-line StringLiteral: equivalent: no thing name has a space, nor is empty, so an entry without one matches no device
  const errorsByThing = new Map(errorEntries.map((entry) => [entry.thingName ?? '', entry]));
  const attempt = batch.attempt + 1;
  const outOfAttempts = attempt >= policy.maxAttempts;
  const next: ClientDeviceBatch = { ...batch, pending: [], done: [...batch.done], failed: [...batch.failed], attempt };
  for (const thingName of batch.pending) {
    const entry = errorsByThing.get(thingName);
    if (!entry) {
      next.done.push(thingName);
      continue;
    }
    const code = entry.code ?? 'UnknownError';
    if (isTransientError(code) && !outOfAttempts) next.pending.push(thingName);
    else next.failed.push({ thingName, code, message: boundedMessage(entry.message ?? '') });
  }
  const ceiling = Math.min(policy.maxDelaySeconds, policy.baseDelaySeconds * 2 ** (attempt - 1));
  // Wait states take whole seconds; at least one keeps a throttled service from being hit at once.
  next.retryDelaySeconds = next.pending.length === 0 ? 0 : Math.max(1, Math.ceil(random() * ceiling));
  return next;
}

/**
 * What the state machine keeps of a batch: once nothing is pending, its outcomes alone. The Map collects one
 * per batch, beside the device records, and 200 single-device batches with 128-character names must fit 256 KiB.
 */
export function outcomesOnceFinished(batch: ClientDeviceBatch): ClientDeviceBatch | SettledBatch {
  return batch.pending.length === 0 ? { done: batch.done, failed: batch.failed } : batch;
}

/** The whole call failed for a reason no retry removes: every device still pending fails with it. */
export function failBatch(batch: ClientDeviceBatch, code: string, message: string): ClientDeviceBatch {
  const failure = { code, message: boundedMessage(message) };
  return {
    ...batch,
    pending: [],
    failed: [...batch.failed, ...batch.pending.map((thingName) => ({ thingName, ...failure }))],
    attempt: batch.attempt + 1,
    retryDelaySeconds: 0,
  };
}

/**
 * Merges the outcome of every batch into the device records. A device that is not in `done` fails
 * at `step`: with its entry's code, or with the error of the whole call; one a cancel reached before its
 * batch was sent is NOT_STARTED.
 */
export function settleBatches(
  devices: DeviceRecord[],
  batches: SettledBatch[],
  step: Extract<Step, 'associate' | 'disassociate'>,
  succeeded: DeviceRecord['status'],
): DeviceRecord[] {
  const done = new Set<string>();
  const notStarted = new Set<string>();
  const failures = new Map<string, { code: string; message: string }>();
  for (const batch of batches) {
    for (const thingName of batch.done) done.add(thingName);
    // Stryker disable next-line ArrayDeclaration: equivalent: a name with a space is no device's, so it settles nothing
    for (const thingName of batch.notStarted ?? []) notStarted.add(thingName);
    for (const { thingName, code, message } of batch.failed) failures.set(thingName, { code, message });
    if (batch.callError) {
      const failure = { code: batch.callError.Error, message: `the batch's call kept failing: ${batch.callError.Error}` };
      // Stryker disable next-line ArrayDeclaration: equivalent: a name with a space is no device's, so it settles nothing
      for (const thingName of batch.pending ?? []) failures.set(thingName, failure);
    }
  }
  const inBatches = new Set(
    batches.flatMap((batch) => [
      ...batch.done,
      // Stryker disable next-line ArrayDeclaration: equivalent: a name with a space is no device's, so it settles nothing
      ...(batch.pending ?? []),
      ...batch.failed.map((f) => f.thingName),
      // Stryker disable next-line ArrayDeclaration: equivalent: a name with a space is no device's, so it settles nothing
      ...(batch.notStarted ?? []),
    ]),
  );
  return devices.map((device) => {
    if (!inBatches.has(device.thingName)) return device;
    if (done.has(device.thingName)) return { ...device, status: succeeded };
    if (notStarted.has(device.thingName)) return { ...device, status: 'NOT_STARTED' };
    const failure = failures.get(device.thingName) ?? {
      code: 'NotProcessed',
      message: 'the batch ended without an outcome for this device',
    };
    return { ...device, status: 'FAILED', error: { step, ...failure } };
  });
}
