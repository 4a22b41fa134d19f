import { ListClientDevicesAssociatedWithCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import { AttachThingPrincipalCommand, RegisterThingCommand } from '@aws-sdk/client-iot';
import { describe, expect, it } from 'vitest';
import { shippedTemplates } from '../../../templates/index.ts';
import { eventsOf, failedAttempts, useServiceCloud } from '../../support/service-cloud.ts';

/**
 * What rollback and deprovisioning remove, and what they must leave, end to end on the local cloud: the real
 * definitions, the real handlers, the real SDK clients. Each test also drives a branch of the state machines that
 * no other test drives (npm run paths).
 */
describe('what rollback and deprovisioning remove', () => {
  const cloud = useServiceCloud();
  const certificateId = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);
  const associated = (core: string) =>
    cloud.greengrass
      .send(new ListClientDevicesAssociatedWithCoreDeviceCommand({ coreDeviceThingName: core, maxResults: 100 }))
      .then((page) => (page.associatedClientDevices ?? []).map((device) => device.thingName as string));

  async function existingThing(thingName: string, principal: string) {
    await cloud.iot.send(
      new RegisterThingCommand({
        templateBody: JSON.stringify(shippedTemplates['thing-with-attributes']),
        parameters: { ThingName: thingName, Site: 'before' },
      }),
    );
    await cloud.iot.send(new AttachThingPrincipalCommand({ thingName, principal }));
  }

  it('a rollback of a thing this request created detaches the certificate the device brought, and neither deactivates nor deletes it', async () => {
    const own = await cloud.createCertificate();
    cloud.cloud.admin.configureFaults({ entryPermanent: { BatchAssociateClientDeviceWithCoreDevice: 1 } });

    const run = await cloud.provision({ coreDeviceThingName: 'core-a', devices: [{ thingName: 'own-certificate', principal: own }] });

    expect(run.summary.devices[0]).toMatchObject({
      status: 'FAILED',
      error: { step: 'associate' },
      rollback: { detachedPrincipals: [own], thingDeleted: true, certificateDeleted: false },
    });
    const { certificates, thingPrincipals } = cloud.cloud.admin.state();
    expect(certificates.map(({ certificateId: id, status }) => ({ id, status }))).toEqual([{ id: certificateId(own), status: 'ACTIVE' }]);
    expect(Object.values(thingPrincipals).flat()).toEqual([]);
    expect(cloud.clientThings()).toEqual([]);
  });

  it('a device whose inspection keeps failing fails at inspect, and its rollback touches neither a new nor an existing thing', async () => {
    const [fresh, kept] = [await cloud.createCertificate(), await cloud.createCertificate()];
    await existingThing('inspect-existing', kept);
    cloud.cloud.admin.configureFaults({ serverError: { DescribeThing: 1 } });

    const run = await cloud.provision({
      coreDeviceThingName: 'core-a',
      devices: [
        { thingName: 'inspect-new', principal: fresh },
        { thingName: 'inspect-existing', principal: kept },
      ],
    });

    expect(run.summary).toMatchObject({ status: 'FAILED', counts: { requested: 2, succeeded: 0, failed: 2, rolledBack: 0 } });
    for (const device of run.summary.devices) {
      expect(device).toMatchObject({
        status: 'FAILED',
        error: { step: 'inspect', code: expect.stringMatching(/^(InternalFailureException|ServiceUnavailableException)$/) },
      });
      expect(device.rollback).toEqual({ detachedPrincipals: [], thingDeleted: false, certificateDeleted: false });
    }
    expect(eventsOf(run.history, 'TaskStateEntered', 'RegisterThing')).toEqual([]);
    expect(failedAttempts(run.history).length).toBeGreaterThan(2);
    expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual(['inspect-existing']);
    expect(cloud.cloud.admin.state().thingPrincipals['inspect-existing']?.map((attachment) => attachment.principal)).toEqual([
      certificateId(kept),
    ]);
  });

  it('deprovisioning with disassociate: false detaches the principals and keeps the association and the thing', async () => {
    const principal = await cloud.createCertificate();
    const provisioned = await cloud.provision({ coreDeviceThingName: 'core-a', devices: [{ thingName: 'stay-associated', principal }] });
    expect(provisioned.summary.status).toBe('SUCCEEDED');

    const run = await cloud.deprovision({
      disassociate: false,
      detachPrincipals: true,
      deleteThings: false,
      devices: [{ thingName: 'stay-associated' }],
    });

    expect(run.summary).toMatchObject({ status: 'SUCCEEDED', devices: [{ thingName: 'stay-associated', status: 'DEPROVISIONED' }] });
    expect(eventsOf(run.history, 'TaskStateEntered', 'DisassociateBatch')).toEqual([]);
    expect(await associated('core-a')).toEqual(['stay-associated']);
    expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual(['stay-associated']);
    expect(cloud.cloud.admin.state().thingPrincipals['stay-associated'] ?? []).toEqual([]);
  });

  it('a delete whose principals never finish detaching fails the device at delete once its retries are spent, and keeps the thing', async () => {
    const principal = await cloud.createCertificate();
    const provisioned = await cloud.provision({ coreDeviceThingName: 'core-a', devices: [{ thingName: 'never-detached', principal }] });
    expect(provisioned.summary.status).toBe('SUCCEEDED');
    cloud.cloud.admin.configureFaults({ detachPropagationMs: 3_600_000 });

    const run = await cloud.deprovision({ coreDeviceThingName: 'core-a', devices: [{ thingName: 'never-detached' }] });

    expect(run.summary).toMatchObject({ status: 'FAILED', counts: { requested: 1, succeeded: 0, failed: 1 } });
    expect(run.summary.devices[0]).toMatchObject({ status: 'FAILED', error: { step: 'delete', code: 'ThingStillHasPrincipals' } });
    const attempts = failedAttempts(run.history);
    expect(attempts.length).toBeGreaterThan(1);
    expect(new Set(attempts)).toEqual(new Set(['ThingStillHasPrincipals']));
    expect(eventsOf(run.history, 'PassStateEntered', 'DeleteFailed')).toHaveLength(1);
    expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual(['never-detached']);
    expect(await associated('core-a')).toEqual([]);
  });

  it('a rollback whose DeleteThing fails with 5xx is retried until it deletes the thing it created', async () => {
    const principal = await cloud.createCertificate();
    cloud.cloud.admin.configureFaults({
      seed: 4,
      serverError: { DeleteThing: 0.6 },
      entryPermanent: { BatchAssociateClientDeviceWithCoreDevice: 1 },
    });

    const run = await cloud.provision({ coreDeviceThingName: 'core-a', devices: [{ thingName: 'rollback-5xx', principal }] });

    expect(run.summary.devices[0]).toMatchObject({
      status: 'FAILED',
      error: { step: 'associate' },
      rollback: { thingDeleted: true, detachedPrincipals: [principal] },
    });
    expect(run.summary.devices[0]?.rollback?.incomplete).toBeUndefined();
    expect(failedAttempts(run.history)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^(InternalFailureException|ServiceUnavailableException)$/)]),
    );
    expect(cloud.clientThings()).toEqual([]);
  });
});
