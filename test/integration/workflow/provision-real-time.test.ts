import { describe, expect, it } from 'vitest';
import { deviceCsr } from '../../support/device-certificates.ts';
import { failedAttempts, useServiceCloud } from '../../support/service-cloud.ts';

/**
 * Paths through statemachines/provision.asl.yaml that depend on wall-clock time: retries wait (scaled
 * to a fifth) while the local cloud's faults play out. A file of their own, since a test file's
 * handlers reach one local cloud.
 */
describe('provision state machine, in scaled real time', () => {
  const cloud = useServiceCloud({ timeScale: 0.2, faults: { detachPropagationMs: 200 } });

  it('rollback while a detachment propagates: the retry that deletes the thing still reports what was detached', async () => {
    const requested = await Promise.all(
      ['propagating-0', 'propagating-1'].map(async (thingName) => ({
        thingName,
        principal: await cloud.createCertificate(),
        coreDeviceThingName: 'core-a',
      })),
    );
    cloud.cloud.admin.configureFaults({ entryPermanent: { BatchAssociateClientDeviceWithCoreDevice: 1 } });
    const run = await cloud.provision({ devices: requested });

    expect(failedAttempts(run.history)).toContain('ThingStillHasPrincipals');
    expect(run.summary.counts).toMatchObject({ failed: 2, rolledBack: 2 });
    for (const device of requested) {
      expect(run.summary.devices.find((outcome) => outcome.thingName === device.thingName)?.rollback).toEqual({
        detachedPrincipals: [device.principal],
        thingDeleted: true,
        certificateDeleted: false,
      });
    }
    expect(cloud.clientThings()).toEqual([]);
  });

  it('lost CSR registrations: each stray certificate is deleted once its detachment has propagated, none left behind', async () => {
    cloud.cloud.admin.configureFaults({ seed: 4, failAfterCommit: { RegisterThing: 0.5 } });
    const requested = await Promise.all(
      Array.from({ length: 6 }, async (_, index) => ({
        thingName: `csr-propagating-${index}`,
        coreDeviceThingName: 'core-a',
        parameters: { CSR: await deviceCsr(`csr-propagating-${index}`) },
      })),
    );
    const run = await cloud.provision({ templateName: 'thing-with-certificate-from-csr', devices: requested });

    expect(run.summary.counts).toMatchObject({ requested: 6, succeeded: 6 });
    expect(failedAttempts(run.history)).toContain('InternalFailureException');
    const { certificates } = cloud.cloud.admin.state();
    expect(certificates.map((certificate) => certificate.status)).toEqual(Array(6).fill('ACTIVE'));
  });
});
