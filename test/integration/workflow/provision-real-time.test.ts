import { describe, expect, it } from 'vitest';
import { deviceCsr } from '../../support/device-certificates.ts';
import { failedAttempts, useServiceCloud } from '../../support/service-cloud.ts';
import { untilHistory } from '../../support/step-functions.ts';

/** An hour: no retry outlasts it, so a detachment propagates until a test lifts it. */
const PROPAGATING_UNTIL_LIFTED_MS = 3_600_000;

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
    // The detachments propagate until the harness has seen a delete refused, then end: however slow the machine, a
    // retried delete meets a detachment still propagating, and the retries left to it outlast the harness's lifting it.
    cloud.cloud.admin.configureFaults({
      entryPermanent: { BatchAssociateClientDeviceWithCoreDevice: 1 },
      detachPropagationMs: PROPAGATING_UNTIL_LIFTED_MS,
    });
    const submitted = await cloud.submit('provision', { devices: requested });
    if (submitted.kind !== 'started') throw new Error(`request not started: ${JSON.stringify(submitted)}`);
    await untilHistory(cloud.sfn, submitted.executionArn, (events) => failedAttempts(events).includes('ThingStillHasPrincipals'));
    cloud.cloud.admin.configureFaults({ detachPropagationMs: 0 });
    const run = await cloud.completion(submitted.executionArn);

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
