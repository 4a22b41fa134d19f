import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListClientDevicesAssociatedWithCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import { describe, expect, it } from 'vitest';
import { leaseOwner, STARTING_GRACE_SECONDS } from '../../../functions/domain/device-leases.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';

/**
 * A device belongs to at most one running request: overlapping requests are refused before anything
 * starts, so that no rollback or deprovisioning removes what another request holds, and the cloud
 * ends as the last summary that names a device says. In real time, so that a request the test holds keeps running
 * while the test looks at it, whatever the machine's load (`holdIn`); the certificates' keys are EC, made in
 * milliseconds: nothing here is about RSA.
 */
describe('device leases', () => {
  const cloud = useServiceCloud({ timeScale: 1, keyAlgorithm: 'ec-p256' });
  const table = () => process.env.DEVICE_LEASES_TABLE as string;

  /**
   * Throttles every call of `operation` until the returned function lifts it. A request that reaches it cannot end
   * before then: the state machine retries a throttled call 30 times with backoff of up to 4 s (about a minute in all).
   */
  function holdIn(operation: 'BatchAssociateClientDeviceWithCoreDevice' | 'BatchDisassociateClientDeviceFromCoreDevice') {
    cloud.cloud.admin.configureFaults({ throttle: { [operation]: 1 } });
    return () => cloud.cloud.admin.configureFaults({ throttle: {} });
  }

  async function devices(count: number, prefix: string, core: string) {
    return Promise.all(
      Array.from({ length: count }, async (_, index) => ({
        thingName: `${prefix}-${String(index).padStart(3, '0')}`,
        principal: await cloud.createCertificate(),
        coreDeviceThingName: core,
      })),
    );
  }

  const associated = async (core: string) =>
    (
      (await cloud.greengrass.send(new ListClientDevicesAssociatedWithCoreDeviceCommand({ coreDeviceThingName: core, maxResults: 100 })))
        .associatedClientDevices ?? []
    )
      .map((device) => device.thingName)
      .sort();
  const thingNames = () =>
    cloud
      .clientThings()
      .map((thing) => thing.thingName)
      .sort();

  function started(outcome: Awaited<ReturnType<typeof cloud.submit>>): string {
    if (outcome.kind !== 'started') throw new Error(`expected the request to start: ${JSON.stringify(outcome)}`);
    return outcome.executionArn;
  }

  // Its own timeout: 140 devices registered, then every one rolled back, take seconds even on a quiet machine.
  it('a failed request and an overlapping one: the second is refused, naming the devices and their holder, and the first rolls back only its own', async () => {
    const failing = await devices(140, 'line-7', 'core-missing');
    const overlapping = failing.slice(0, 30).map((device) => ({ ...device, coreDeviceThingName: 'core-a' }));
    const release = holdIn('BatchAssociateClientDeviceWithCoreDevice');
    const first = started(await cloud.submit('provision', { requestId: 'request-w', devices: failing }));

    const refused = await cloud.submit('provision', { requestId: 'request-r', devices: overlapping });
    expect(refused).toEqual({
      kind: 'held',
      requestId: 'request-r',
      heldDevices: overlapping.map(({ thingName }) => ({ thingName, heldBy: { workflow: 'provision', requestId: 'request-w' } })),
    });

    release();
    const w = await cloud.completion(first, { timeoutMs: 60_000 });
    expect(w.summary.counts).toEqual({ requested: 140, succeeded: 0, failed: 140, rolledBack: 140 });
    // The cloud agrees with W's summary, and R, refused before it started, touched nothing.
    expect(thingNames()).toEqual([]);
    expect(await associated('core-a')).toEqual([]);
    expect(await cloud.leaseTableKeys()).toEqual([]);

    const r = await cloud.provision({ requestId: 'request-r', devices: overlapping });
    expect(r.summary.counts).toEqual({ requested: 30, succeeded: 30, failed: 0, rolledBack: 0 });
    expect(thingNames()).toEqual(overlapping.map(({ thingName }) => thingName));
    expect(await associated('core-a')).toEqual(overlapping.map(({ thingName }) => thingName));
  }, 90_000);

  it('a deprovisioning of devices a running provisioning holds is refused; sent again afterwards it removes them', async () => {
    const fleet = await devices(20, 'race', 'core-a');
    const names = fleet.map(({ thingName }) => thingName);
    const release = holdIn('BatchAssociateClientDeviceWithCoreDevice');
    const provisioning = started(await cloud.submit('provision', { requestId: 'race-provision', devices: fleet }));

    const refused = await cloud.submit('deprovision', {
      requestId: 'race-deprovision',
      coreDeviceThingName: 'core-a',
      devices: names.map((thingName) => ({ thingName })),
    });
    expect(refused).toMatchObject({
      kind: 'held',
      heldDevices: names.map((thingName) => ({ thingName, heldBy: { workflow: 'provision', requestId: 'race-provision' } })),
    });

    release();
    const provisioned = await cloud.completion(provisioning);
    expect(provisioned.summary.counts.succeeded).toBe(20);
    expect(thingNames()).toEqual(names);
    expect(await associated('core-a')).toEqual(names);

    const removed = await cloud.deprovision({
      requestId: 'race-deprovision',
      coreDeviceThingName: 'core-a',
      devices: names.map((thingName) => ({ thingName })),
    });
    expect(removed.summary.counts).toMatchObject({ requested: 20, succeeded: 20, failed: 0 });
    expect(thingNames()).toEqual([]);
    expect(await associated('core-a')).toEqual([]);
  });

  it('a provisioning of devices a running deprovisioning holds is refused', async () => {
    const fleet = await devices(10, 'reverse', 'core-a');
    await cloud.provision({ requestId: 'reverse-setup', devices: fleet });
    const release = holdIn('BatchDisassociateClientDeviceFromCoreDevice');
    const deprovisioning = started(
      await cloud.submit('deprovision', {
        requestId: 'reverse-deprovision',
        coreDeviceThingName: 'core-a',
        devices: fleet.map(({ thingName }) => ({ thingName })),
      }),
    );

    const refused = await cloud.submit('provision', { requestId: 'reverse-provision', devices: fleet });
    expect(refused).toMatchObject({
      kind: 'held',
      heldDevices: fleet.map(({ thingName }) => ({ thingName, heldBy: { workflow: 'deprovision', requestId: 'reverse-deprovision' } })),
    });

    release();
    expect((await cloud.completion(deprovisioning)).summary.counts.succeeded).toBe(10);
    expect(thingNames()).toEqual([]);
  });

  it('the same request sent again while it runs reaches its execution; another body under its key is a conflict that leaves its leases', async () => {
    const fleet = await devices(30, 'again', 'core-a');
    const release = holdIn('BatchAssociateClientDeviceWithCoreDevice');
    const first = started(await cloud.submit('provision', { requestId: 'again', devices: fleet }));

    expect(await cloud.submit('provision', { requestId: 'again', devices: fleet })).toEqual({
      kind: 'started',
      requestId: 'again',
      executionArn: first,
      startDate: expect.any(Date),
    });
    expect(await cloud.submit('provision', { requestId: 'again', devices: fleet.slice(1) })).toMatchObject({
      kind: 'conflict',
      executionArn: first,
    });
    expect(await cloud.leaseTableKeys()).toEqual(fleet.map(({ thingName }) => thingName));

    release();
    expect((await cloud.completion(first)).summary.counts.succeeded).toBe(30);
    expect(await cloud.leaseTableKeys()).toEqual([]);
  });

  it('a start that fails keeps its leases for the same request, which starts when sent again; nothing is touched meanwhile', async () => {
    const fleet = await devices(3, 'unstarted', 'core-a');
    cloud.cloud.admin.configureFaults({ serverError: { StartExecution: 1 } });

    const failure = await cloud
      .submit('provision', { requestId: 'unstarted', devices: fleet })
      .catch((error: { $metadata?: { httpStatusCode?: number } }) => error);
    expect(failure).toMatchObject({ $metadata: { httpStatusCode: expect.toSatisfy((status: number) => status >= 500) } });
    // The start may have taken effect unanswered, or an identical request may be starting on these leases: they stay.
    expect(await cloud.leaseTableKeys()).toEqual(fleet.map(({ thingName }) => thingName));
    expect(thingNames()).toEqual([]);

    cloud.cloud.admin.configureFaults({ serverError: { StartExecution: 0 } });
    const resent = await cloud.provision({ requestId: 'unstarted', devices: fleet });
    expect(resent.summary.counts.succeeded).toBe(3);
    expect(await cloud.leaseTableKeys()).toEqual([]);
  });

  it('a stale lease that its own request takes again while it is judged is not taken over', async () => {
    const [device] = await devices(1, 'retaken', 'core-a');
    const { acquireLeases } = await import('../../../functions/aws/device-leases.ts');
    const staleOwner = leaseOwner({ workflow: 'provision', requestId: 'slow-start' }, '0'.repeat(64));
    const leaseWrittenAt = (acquiredAt: number) =>
      cloud.dynamodb.send(
        new PutItemCommand({
          TableName: table(),
          Item: {
            thingName: { S: device!.thingName },
            leaseOwner: { S: staleOwner },
            workflow: { S: 'provision' },
            requestId: { S: 'slow-start' },
            acquiredAt: { N: String(acquiredAt) },
            leaseExpiresAt: { N: String(acquiredAt + 3_600) },
          },
        }),
      );
    const now = Math.floor(Date.now() / 1000);
    await leaseWrittenAt(now - STARTING_GRACE_SECONDS - 5);

    // Judged stale (no execution, written long ago), but re-taken by its request before the takeover is written.
    const held = await acquireLeases(
      cloud.dynamodb,
      { owner: 'provision/late/1111111111111111', holder: { workflow: 'provision', requestId: 'late' }, thingNames: [device!.thingName] },
      async () => {
        await leaseWrittenAt(now);
        return undefined;
      },
    );
    expect(held).toEqual([{ thingName: device!.thingName, heldBy: { workflow: 'provision', requestId: 'slow-start' } }]);
    expect((await cloud.dynamodb.send(new ScanCommand({ TableName: table() }))).Items?.[0]?.leaseOwner).toEqual({ S: staleOwner });
  });

  it('a lease left by a request whose execution has ended, or that never started, is taken over; one still starting is not', async () => {
    const [ended, starting, abandoned] = await devices(3, 'stale', 'core-a');
    const finished = await cloud.provision({
      requestId: 'finished',
      devices: [await devices(1, 'other', 'core-a').then(([device]) => device)],
    });
    expect(finished.status).toBe('SUCCEEDED');
    const now = Math.floor(Date.now() / 1000);
    const lease = (thingName: string, requestId: string, acquiredAt: number) =>
      cloud.dynamodb.send(
        new PutItemCommand({
          TableName: table(),
          Item: {
            thingName: { S: thingName },
            leaseOwner: { S: leaseOwner({ workflow: 'provision', requestId }, '0'.repeat(64)) },
            workflow: { S: 'provision' },
            requestId: { S: requestId },
            acquiredAt: { N: String(acquiredAt) },
            leaseExpiresAt: { N: String(now + 3_600) },
          },
        }),
      );
    await lease(ended!.thingName, 'finished', now);
    await lease(starting!.thingName, 'not-yet-started', now);
    await lease(abandoned!.thingName, 'never-started', now - STARTING_GRACE_SECONDS - 5);

    expect(await cloud.submit('provision', { requestId: 'takes-over', devices: [starting, ended, abandoned] })).toEqual({
      kind: 'held',
      requestId: 'takes-over',
      heldDevices: [{ thingName: starting!.thingName, heldBy: { workflow: 'provision', requestId: 'not-yet-started' } }],
    });
    const run = await cloud.provision({ requestId: 'takes-over-the-rest', devices: [ended, abandoned] });
    expect(run.summary.counts.succeeded).toBe(2);
    expect(await cloud.leaseTableKeys()).toEqual([starting!.thingName]);
  });

  it('an EventBridge event whose devices a running request holds is thrown, for Lambda to retry it and then keep it in the dead-letter queue', async () => {
    const fleet = await devices(5, 'event', 'core-a');
    const { handleProvisioningEvent } = await import('../../../functions/handle-provisioning-event.ts');
    const release = holdIn('BatchAssociateClientDeviceWithCoreDevice');
    const holder = started(await cloud.submit('provision', { requestId: 'event-holder', devices: fleet }));

    await expect(
      handleProvisioningEvent({
        id: 'event-1',
        'detail-type': 'Provisioning Requested',
        source: 'iot-provisioning-workflow',
        detail: { devices: fleet },
      } as never),
    ).rejects.toMatchObject({ name: 'DevicesHeld', message: expect.stringContaining('provisioning request event-holder') });
    release();
    expect((await cloud.completion(holder)).summary.counts.succeeded).toBe(5);
  });
});
