import { AttachThingPrincipalCommand, RegisterThingCommand } from '@aws-sdk/client-iot';
import { describe, expect, it } from 'vitest';
import { shippedTemplates } from '../../../templates/index.ts';
import { eventsOf, failedAttempts, useServiceCloud } from '../../support/service-cloud.ts';

/** One test per path through statemachines/deprovision.asl.yaml, end to end on the local cloud. */
describe('deprovision state machine', () => {
  const cloud = useServiceCloud();

  async function provisioned(count: number, prefix: string) {
    const devices = await Promise.all(
      Array.from({ length: count }, async (_, index) => ({ thingName: `${prefix}-${index}`, principal: await cloud.createCertificate() })),
    );
    const run = await cloud.provision({ coreDeviceThingName: 'core-a', devices });
    expect(run.summary.status).toBe('SUCCEEDED');
    return devices;
  }

  it('happy path: disassociates, detaches and deletes every device', async () => {
    const devices = await provisioned(3, 'remove');
    const run = await cloud.deprovision({ coreDeviceThingName: 'core-a', devices: devices.map(({ thingName }) => ({ thingName })) });

    expect(run.summary).toMatchObject({ status: 'SUCCEEDED', counts: { requested: 3, succeeded: 3, failed: 0 } });
    expect(run.summary.devices.map((device) => device.status)).toEqual(['DEPROVISIONED', 'DEPROVISIONED', 'DEPROVISIONED']);
    expect(eventsOf(run.history, 'TaskStateEntered', 'DisassociateBatch')).toHaveLength(1);
    const state = cloud.cloud.admin.state();
    expect(cloud.clientThings()).toEqual([]);
    expect(state.associations['core-a'] ?? []).toEqual([]);
    expect(Object.values(state.thingPrincipals).flat()).toEqual([]);
  });

  it('already-gone resources count as success', async () => {
    const run = await cloud.deprovision({ coreDeviceThingName: 'core-a', devices: [{ thingName: 'never-existed' }] });

    expect(run.summary.devices).toEqual([{ thingName: 'never-existed', status: 'DEPROVISIONED', coreDeviceThingName: 'core-a' }]);
    expect(failedAttempts(run.history)).toEqual([]);
  });

  it('a core device that no longer exists has nothing to disassociate: its devices are still removed', async () => {
    const thingNames = ['orphan-0', 'orphan-1'];
    for (const thingName of thingNames) {
      await cloud.iot.send(
        new RegisterThingCommand({
          templateBody: JSON.stringify(shippedTemplates['thing-with-attributes']),
          parameters: { ThingName: thingName },
        }),
      );
      await cloud.iot.send(new AttachThingPrincipalCommand({ thingName, principal: await cloud.createCertificate() }));
    }
    const notFoundBefore = cloud.cloud.admin.metrics().BatchDisassociateClientDeviceFromCoreDevice?.failed ?? 0;

    const run = await cloud.deprovision({
      coreDeviceThingName: 'core-decommissioned',
      devices: thingNames.map((thingName) => ({ thingName })),
    });

    expect(cloud.cloud.admin.metrics().BatchDisassociateClientDeviceFromCoreDevice?.failed).toBe(notFoundBefore + 1);
    expect(run.summary).toMatchObject({ status: 'SUCCEEDED', counts: { requested: 2, succeeded: 2, failed: 0 } });
    expect(failedAttempts(run.history)).toEqual([]);
    expect(cloud.clientThings()).toEqual([]);
    expect(Object.values(cloud.cloud.admin.state().thingPrincipals).flat()).toEqual([]);
  });

  it('partial disassociation failure: retryable entries are re-driven, permanent ones keep their thing', async () => {
    const devices = await provisioned(4, 'partial');
    cloud.cloud.admin.configureFaults({ seed: 5, entryRetryable: { BatchDisassociateClientDeviceFromCoreDevice: 0.3 } });
    const retried = await cloud.deprovision({
      coreDeviceThingName: 'core-a',
      devices: devices.slice(0, 2).map(({ thingName }) => ({ thingName })),
    });
    expect(retried.summary.counts).toMatchObject({ succeeded: 2, failed: 0 });

    cloud.cloud.admin.configureFaults({ entryRetryable: {}, entryPermanent: { BatchDisassociateClientDeviceFromCoreDevice: 1 } });
    const refused = await cloud.deprovision({
      coreDeviceThingName: 'core-a',
      devices: devices.slice(2).map(({ thingName }) => ({ thingName })),
    });
    expect(refused.summary.status).toBe('FAILED');
    expect(refused.summary.devices[0]).toMatchObject({ status: 'FAILED', error: { step: 'disassociate' } });
    expect(eventsOf(refused.history, 'TaskStateEntered', 'DeleteThing')).toEqual([]);
    expect(
      cloud
        .clientThings()
        .map((thing) => thing.thingName)
        .sort(),
    ).toEqual(['partial-2', 'partial-3']);
  });

  it.each([
    ['detach', 'DetachThingPrincipal', 'DetachFailed'],
    ['delete', 'DeleteThing', 'DeleteFailed'],
  ] as const)(
    'a %s that keeps failing after its retries fails the device at that step and keeps its thing',
    async (step, operation, failedState) => {
      const [device] = await provisioned(1, `unavailable-${step}`);
      cloud.cloud.admin.configureFaults({ serverError: { [operation]: 1 } });

      const run = await cloud.deprovision({ coreDeviceThingName: 'core-a', devices: [{ thingName: device!.thingName }] });

      expect(run.summary.status).toBe('FAILED');
      expect(run.summary.devices[0]).toMatchObject({
        status: 'FAILED',
        error: { step, code: 'InternalFailureException', message: 'gave up after retries: InternalFailureException' },
      });
      expect(eventsOf(run.history, 'PassStateEntered', failedState)).toHaveLength(1);
      expect(failedAttempts(run.history).length).toBeGreaterThan(1);
      expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual([device!.thingName]);
    },
  );

  it('options say what to remove: disassociate only', async () => {
    const devices = await provisioned(1, 'keep');
    const run = await cloud.deprovision({
      coreDeviceThingName: 'core-a',
      detachPrincipals: false,
      deleteThings: false,
      devices: devices.map(({ thingName }) => ({ thingName })),
    });
    expect(run.summary.status).toBe('SUCCEEDED');
    expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual(['keep-0']);
    expect(cloud.cloud.admin.state().thingPrincipals['keep-0']).toHaveLength(1);
    expect(cloud.cloud.admin.state().associations['core-a'] ?? []).toEqual([]);
  });
});
