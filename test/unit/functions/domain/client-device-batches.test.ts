import { describe, expect, it, vi } from 'vitest';
import {
  applyBatchResponse,
  failBatch,
  outcomesOnceFinished,
  planClientDeviceBatches,
  settleBatches,
} from '../../../../functions/domain/client-device-batches.ts';
import type { ClientDeviceBatch, DeviceRecord, SettledBatch } from '../../../../functions/domain/records.ts';

const policy = { maxAttempts: 3, baseDelaySeconds: 1, maxDelaySeconds: 20 };
const registered = (thingName: string, coreDeviceThingName = 'core-a'): DeviceRecord => ({
  thingName,
  coreDeviceThingName,
  status: 'REGISTERED',
});

describe('client device batches', () => {
  it('groups devices per core device in batches of at most 100', () => {
    const devices = [
      ...Array.from({ length: 250 }, (_, index) => registered(`a-${index}`, 'core-a')),
      ...Array.from({ length: 3 }, (_, index) => registered(`b-${index}`, 'core-b')),
    ];
    const batches = planClientDeviceBatches(devices);
    expect(batches.map((batch) => [batch.coreDeviceThingName, batch.pending.length])).toEqual([
      ['core-a', 100],
      ['core-a', 100],
      ['core-a', 50],
      ['core-b', 3],
    ]);
    expect(new Set(batches.flatMap((batch) => batch.pending)).size).toBe(253);
  });

  it('makes one batch of exactly 100 devices, and none of no devices', () => {
    const devices = Array.from({ length: 100 }, (_, index) => registered(`a-${index}`));
    expect(planClientDeviceBatches(devices).map((batch) => batch.pending.length)).toEqual([100]);
    expect(planClientDeviceBatches([])).toEqual([]);
  });

  it('keeps what earlier calls did and failed, and fails an entry without a code or message as UnknownError', () => {
    const earlier: ClientDeviceBatch = {
      coreDeviceThingName: 'core-a',
      pending: ['again', 'silent'],
      done: ['first'],
      failed: [{ thingName: 'gone', code: 'ResourceNotFoundException', message: 'no such thing' }],
      attempt: 1,
      retryDelaySeconds: 1,
    };
    expect(applyBatchResponse(earlier, [{ thingName: 'silent' }], policy, () => 0.5)).toEqual({
      coreDeviceThingName: 'core-a',
      pending: [],
      done: ['first', 'again'],
      failed: [
        { thingName: 'gone', code: 'ResourceNotFoundException', message: 'no such thing' },
        { thingName: 'silent', code: 'UnknownError', message: '' },
      ],
      attempt: 2,
      retryDelaySeconds: 0,
    });
    // An entry that names no device is no device's.
    expect(applyBatchResponse(earlier, [{ code: 'ThrottlingException' }], policy, () => 0.5).done).toEqual(['first', 'again', 'silent']);
  });

  it('re-drives a client-device batch up to six calls, a second to sixteen seconds apart', async () => {
    // Loaded afresh: Stryker credits a module's top-level constants to the tests that load it.
    vi.resetModules();
    const { CLIENT_DEVICE_REDRIVE } = await import('../../../../functions/domain/client-device-batches.ts');
    expect(CLIENT_DEVICE_REDRIVE).toEqual({ maxAttempts: 6, baseDelaySeconds: 1, maxDelaySeconds: 16 });
  });

  it('keeps only retryable error entries pending and fails the rest with their code', () => {
    const [batch] = planClientDeviceBatches(['ok', 'throttled', 'bad'].map((name) => registered(name))) as [ClientDeviceBatch];
    const next = applyBatchResponse(
      batch,
      [
        { thingName: 'throttled', code: 'ThrottlingException', message: 'slow down' },
        { thingName: 'bad', code: 'ResourceNotFoundException', message: 'no such thing' },
      ],
      policy,
      () => 0.5,
    );
    expect(next).toMatchObject({
      pending: ['throttled'],
      done: ['ok'],
      failed: [{ thingName: 'bad', code: 'ResourceNotFoundException', message: 'no such thing' }],
      attempt: 1,
      retryDelaySeconds: 1,
    });
  });

  it('grows the jittered delay with each attempt and fails what is still pending when attempts run out', () => {
    let batch = planClientDeviceBatches([registered('flaky')])[0] as ClientDeviceBatch;
    const entry = [{ thingName: 'flaky', code: 'InternalServerException', message: 'oops' }];
    batch = applyBatchResponse(batch, entry, policy, () => 0.99);
    expect(batch.retryDelaySeconds).toBe(1);
    batch = applyBatchResponse(batch, entry, policy, () => 0.99);
    expect(batch.retryDelaySeconds).toBe(2);
    batch = applyBatchResponse(batch, entry, policy, () => 0.99);
    expect(batch).toMatchObject({ pending: [], failed: [{ thingName: 'flaky', code: 'InternalServerException' }], retryDelaySeconds: 0 });
  });

  it('fails what is still pending when the whole call fails for good, with a bounded message and nothing left to re-drive', () => {
    const [batch] = planClientDeviceBatches(['a', 'b'].map((name) => registered(name))) as [ClientDeviceBatch];
    const afterEntries = applyBatchResponse(
      batch,
      [{ thingName: 'b', code: 'ThrottlingException', message: 'slow down' }],
      policy,
      () => 0.5,
    );

    const failed = failBatch(afterEntries, 'ResourceNotFoundException', `core device not found: ${'x'.repeat(500)}`);

    expect(failed).toMatchObject({ pending: [], done: ['a'], attempt: 2, retryDelaySeconds: 0 });
    expect(failed.failed).toEqual([
      { thingName: 'b', code: 'ResourceNotFoundException', message: expect.stringMatching(/^core device not found: x+…$/) },
    ]);
    expect(failed.failed[0]!.message).toHaveLength(120);
    expect(failed).not.toHaveProperty('callError');
  });

  it('keeps only the outcomes of a batch once nothing is pending, and the whole batch until then', () => {
    const [batch] = planClientDeviceBatches(['a', 'b'].map((name) => registered(name))) as [ClientDeviceBatch];
    const halfway = applyBatchResponse(batch, [{ thingName: 'b', code: 'ThrottlingException', message: 'slow down' }], policy, () => 0.5);
    expect(outcomesOnceFinished(halfway)).toBe(halfway);

    const finished = applyBatchResponse(halfway, [], policy, () => 0.5);
    expect(outcomesOnceFinished(finished)).toEqual({ done: ['a', 'b'], failed: [] });
  });

  it('settles every device: done, failed by entry, or failed by the whole call', () => {
    const devices = ['a', 'b', 'c', 'untouched'].map((name) => registered(name));
    devices[3] = { ...devices[3]!, status: 'FAILED', error: { step: 'register', code: 'X', message: 'x' } };
    const batches: SettledBatch[] = [
      { done: ['a'], failed: [{ thingName: 'b', code: 'InvalidRequestException', message: 'm' }] },
      { pending: ['c'], done: [], failed: [], callError: { Error: 'ServiceUnavailableException' } },
    ];
    const settled = settleBatches(devices, batches, 'associate', 'PROVISIONED');
    expect(settled.map((device) => [device.thingName, device.status, device.error?.code])).toEqual([
      ['a', 'PROVISIONED', undefined],
      ['b', 'FAILED', 'InvalidRequestException'],
      ['c', 'FAILED', 'ServiceUnavailableException'],
      ['untouched', 'FAILED', 'X'],
    ]);
    expect(settled[2]?.error).toEqual({
      step: 'associate',
      code: 'ServiceUnavailableException',
      message: "the batch's call kept failing: ServiceUnavailableException",
    });
  });

  it('fails a device its batch left pending without an error as NotProcessed, and takes a call error with nothing pending', () => {
    const devices = ['left', 'done'].map((name) => registered(name));
    const batches = [
      { pending: ['left'], done: [], failed: [] },
      { done: ['done'], failed: [], callError: { Error: 'ServiceUnavailableException' } },
    ] as SettledBatch[];
    expect(settleBatches(devices, batches, 'disassociate', 'DEPROVISIONED')).toEqual([
      {
        ...devices[0],
        status: 'FAILED',
        error: { step: 'disassociate', code: 'NotProcessed', message: 'the batch ended without an outcome for this device' },
      },
      { ...devices[1], status: 'DEPROVISIONED' },
    ]);
  });

  it('settles the devices of a batch a cancel reached before its first call as NOT_STARTED, with no error', () => {
    const devices = ['a', 'b', 'c'].map((name) => ({ thingName: name, coreDeviceThingName: 'core', status: 'PENDING' as const }));
    const settled = settleBatches(
      devices,
      [
        { done: ['a'], failed: [] },
        { done: [], failed: [], notStarted: ['b', 'c'] },
      ],
      'disassociate',
      'PENDING',
    );
    expect(settled).toEqual([
      { thingName: 'a', coreDeviceThingName: 'core', status: 'PENDING' },
      { thingName: 'b', coreDeviceThingName: 'core', status: 'NOT_STARTED' },
      { thingName: 'c', coreDeviceThingName: 'core', status: 'NOT_STARTED' },
    ]);
  });
});
