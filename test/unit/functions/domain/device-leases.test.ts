import { describe, expect, it, vi } from 'vitest';
import {
  cancelMarkerKey,
  heldDevicesMessage,
  IN_FLIGHT_TASK_GRACE_SECONDS,
  inChunks,
  isStaleLease,
  LEASE_TTL_SECONDS,
  leaseOwner,
  STARTING_GRACE_SECONDS,
} from '../../../../functions/domain/device-leases.ts';

describe('device leases', () => {
  const digest = 'ab'.repeat(32);

  it('the owner names the workflow, the request and what it asked, so that another request under the same key is another owner', () => {
    expect(leaseOwner({ workflow: 'provision', requestId: 'r-1' }, digest)).toBe('provision/r-1/abababababababab');
    expect(leaseOwner({ workflow: 'deprovision', requestId: 'r-1' }, digest)).not.toBe(
      leaseOwner({ workflow: 'provision', requestId: 'r-1' }, digest),
    );
    expect(leaseOwner({ workflow: 'provision', requestId: 'r-1' }, `c${digest.slice(1)}`)).not.toBe(
      leaseOwner({ workflow: 'provision', requestId: 'r-1' }, digest),
    );
  });

  it('TTL collects a lease only after the longest execution Step Functions runs (a year) could hold it', async () => {
    expect(LEASE_TTL_SECONDS).toBeGreaterThan(365 * 24 * 3_600);
    // Loaded afresh too: Stryker credits a module's top-level constants to the tests that load it.
    vi.resetModules();
    const fresh = await import('../../../../functions/domain/device-leases.ts');
    expect(fresh.LEASE_TTL_SECONDS).toBeGreaterThan(365 * 24 * 3_600);
  });

  const ended = (status: string, stopDate: number) => ({ status, stopDate });
  it.each([
    ['running', { status: 'RUNNING' }, 0, 1_000, false],
    ['awaiting a redrive', { status: 'PENDING_REDRIVE', stopDate: 0 }, 0, 1_000, false],
    ['succeeded, at once', ended('SUCCEEDED', 1_000), 1_000, 1_000, true],
    ['failed, while its tasks may still run', ended('FAILED', 1_000), 1_000, 1_000 + IN_FLIGHT_TASK_GRACE_SECONDS, false],
    ['failed, once none can', ended('FAILED', 1_000), 1_000, 1_000 + IN_FLIGHT_TASK_GRACE_SECONDS + 1, true],
    ['aborted, once none can', ended('ABORTED', 1_000), 1_000, 1_000 + IN_FLIGHT_TASK_GRACE_SECONDS + 1, true],
    ['timed out, while its tasks may still run', ended('TIMED_OUT', 1_000), 1_000, 1_001, false],
    ['not started, within the grace of its start', undefined, 1_000, 1_000 + STARTING_GRACE_SECONDS, false],
    ['not started, after it', undefined, 1_000, 1_000 + STARTING_GRACE_SECONDS + 1, true],
  ])('a lease whose execution is %s is stale: %s', (_, execution, acquiredAt, now, stale) => {
    expect(isStaleLease(execution, acquiredAt, now)).toBe(stale);
  });

  it("keys a request's cancel marker as cancel#<owner>", () => {
    expect(cancelMarkerKey('provision/r-1/abababababababab')).toBe('cancel#provision/r-1/abababababababab');
  });

  it('chunks of at most 100, in order', () => {
    const names = Array.from({ length: 201 }, (_, index) => `d${index}`);
    expect(inChunks(names).map((chunk) => chunk.length)).toEqual([100, 100, 1]);
    expect(inChunks(names).flat()).toEqual(names);
    expect(inChunks([])).toEqual([]);
  });

  it('the refusal names one device, or five of many and how many more, and every holder', () => {
    const heldBy = (requestId: string, workflow: 'provision' | 'deprovision' = 'provision') => ({ workflow, requestId });
    expect(heldDevicesMessage([{ thingName: 'a', heldBy: heldBy('w') }])).toBe(
      'device a belongs to running provisioning request w; send this request again once it has finished',
    );
    const many = Array.from({ length: 7 }, (_, index) => ({
      thingName: `d${index}`,
      heldBy: index < 3 ? heldBy('w') : heldBy('x', 'deprovision'),
    }));
    expect(heldDevicesMessage(many.slice(0, 5))).toBe(
      '5 devices (d0, d1, d2, d3, d4) belong to running provisioning request w, deprovisioning request x; send this request again once they have finished',
    );
    expect(heldDevicesMessage(many)).toBe(
      '7 devices (d0, d1, d2, d3, d4 and 2 more) belong to running provisioning request w, deprovisioning request x; send this request again once they have finished',
    );
  });
});
