import { describe, expect, it } from 'vitest';
import { completionDetail } from '../../../../functions/domain/completion-event.ts';
import { completionDetailSchema } from '../../../../functions/domain/completion-event-schema.ts';
import { MAX_FAILED_THING_NAMES } from '../../../../functions/domain/limits.ts';
import type { RequestSummary } from '../../../../functions/domain/records.ts';

describe('completion event detail', () => {
  const summary = (failed: number, succeeded: number): RequestSummary => ({
    requestId: 'r',
    status: failed === 0 ? 'SUCCEEDED' : succeeded === 0 ? 'FAILED' : 'PARTIAL',
    counts: { requested: failed + succeeded, succeeded, failed, rolledBack: failed },
    devices: [
      ...Array.from({ length: failed }, (_, index) => ({ thingName: `f-${index}`, status: 'FAILED' as const, coreDeviceThingName: 'c' })),
      ...Array.from({ length: succeeded }, (_, index) => ({
        thingName: `s-${index}`,
        status: 'PROVISIONED' as const,
        coreDeviceThingName: 'c',
      })),
    ],
  });

  it(`names at most ${MAX_FAILED_THING_NAMES} failed devices and says when there were more`, () => {
    const detail = completionDetail('provision', summary(200, 0), { executionArn: 'arn', completedAt: new Date(0) });
    expect(detail.failedThingNames).toEqual(Array.from({ length: MAX_FAILED_THING_NAMES }, (_, index) => `f-${index}`));
    expect(detail.failedThingNamesTruncated).toBe(true);
    expect(detail.counts.failed).toBe(200);
    expect(Buffer.byteLength(JSON.stringify(detail))).toBeLessThan(16 * 1024);
  });

  it(`names exactly ${MAX_FAILED_THING_NAMES} failed devices without saying truncated, and carries the status URL it was given`, () => {
    const detail = completionDetail('provision', summary(MAX_FAILED_THING_NAMES, 1), {
      executionArn: 'arn',
      statusUrl: 'https://api.test/provisioning-requests/r',
      completedAt: new Date(0),
    });
    expect(detail.failedThingNames).toHaveLength(MAX_FAILED_THING_NAMES);
    expect(detail).not.toHaveProperty('failedThingNamesTruncated');
    expect(detail.statusUrl).toBe('https://api.test/provisioning-requests/r');
  });

  it('names only failed devices, never says truncated when all fit, and omits the status URL it was not given', () => {
    const detail = completionDetail('deprovision', summary(2, 3), { executionArn: 'arn', completedAt: new Date(0) });
    expect(detail).toEqual({
      requestId: 'r',
      workflow: 'deprovision',
      status: 'PARTIAL',
      counts: { requested: 5, succeeded: 3, failed: 2, rolledBack: 2 },
      executionArn: 'arn',
      completedAt: '1970-01-01T00:00:00.000Z',
      failedThingNames: ['f-0', 'f-1'],
    });
    // toEqual takes a key set to undefined for a missing one: the event must not carry the key at all.
    expect(Object.keys(detail)).not.toContain('statusUrl');
    expect(Object.keys(detail)).not.toContain('failedThingNamesTruncated');
  });

  it("carries a cancelled request's status and its notStarted count, and names no device that was not started as failed", () => {
    const cancelled: RequestSummary = {
      requestId: 'r',
      status: 'CANCELLED',
      counts: { requested: 3, succeeded: 1, failed: 1, rolledBack: 1, notStarted: 1 },
      devices: [
        { thingName: 'done', status: 'PROVISIONED', coreDeviceThingName: 'c' },
        { thingName: 'lost', status: 'FAILED', coreDeviceThingName: 'c' },
        { thingName: 'later', status: 'NOT_STARTED', coreDeviceThingName: 'c' },
      ],
    };
    const detail = completionDetailSchema.parse(
      completionDetail('provision', cancelled, { executionArn: 'arn', completedAt: new Date(0) }),
    );
    expect(detail).toMatchObject({ status: 'CANCELLED', counts: cancelled.counts, failedThingNames: ['lost'] });
  });
});
