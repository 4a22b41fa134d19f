import { ListClientDevicesAssociatedWithCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import { AttachThingPrincipalCommand, RegisterThingCommand } from '@aws-sdk/client-iot';
import { describe, expect, it } from 'vitest';
import { shippedTemplates } from '../../../templates/index.ts';
import { deviceCsr } from '../../support/device-certificates.ts';
import { eventsOf, failedAttempts, useServiceCloud } from '../../support/service-cloud.ts';

/**
 * One test per path through statemachines/provision.asl.yaml, each run end to end: the real
 * definition in the local cloud's Step Functions, the real handlers, the real SDK clients over HTTP.
 * The certificates' keys are EC, made in milliseconds: no path here depends on the key's algorithm.
 */
describe('provision state machine', () => {
  const cloud = useServiceCloud({ keyAlgorithm: 'ec-p256' });

  const certificateId = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

  async function devices(count: number, prefix: string, core = 'core-a') {
    return Promise.all(
      Array.from({ length: count }, async (_, index) => ({
        thingName: `${prefix}-${index}`,
        principal: await cloud.createCertificate(),
        coreDeviceThingName: core,
      })),
    );
  }

  function associated(core: string): Promise<string[]> {
    return cloud.greengrass
      .send(new ListClientDevicesAssociatedWithCoreDeviceCommand({ coreDeviceThingName: core, maxResults: 100 }))
      .then((page) => (page.associatedClientDevices ?? []).map((device) => device.thingName as string));
  }

  it('happy path: every device is registered, holds its certificate exclusively and is associated', async () => {
    const requested = [...(await devices(2, 'happy', 'core-a')), ...(await devices(1, 'happy-b', 'core-b'))];
    const run = await cloud.provision({ requestId: 'happy-path', templateParameters: { Site: 'plant-1' }, devices: requested });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.summary).toMatchObject({
      requestId: 'happy-path',
      status: 'SUCCEEDED',
      counts: { requested: 3, succeeded: 3, failed: 0, rolledBack: 0 },
    });
    for (const device of requested) {
      expect(run.summary.devices).toContainEqual({
        thingName: device.thingName,
        status: 'PROVISIONED',
        coreDeviceThingName: device.coreDeviceThingName,
        thingArn: `arn:aws:iot:us-east-1:000000000000:thing/${device.thingName}`,
        certificateArn: device.principal,
      });
    }
    for (const state of ['InspectThing', 'RegisterThing', 'AttachPrincipal']) {
      expect(eventsOf(run.history, 'TaskStateEntered', state)).toHaveLength(3);
    }
    expect(eventsOf(run.history, 'TaskStateEntered', 'AssociateBatch')).toHaveLength(2);
    expect(failedAttempts(run.history)).toEqual([]);

    const state = cloud.cloud.admin.state();
    const thing = state.things.find((candidate) => candidate.thingName === 'happy-0');
    expect(thing?.attributes).toEqual({ model: 'unspecified', site: 'plant-1' });
    expect(state.thingPrincipals['happy-0']).toEqual([
      expect.objectContaining({ principal: certificateId(requested[0]!.principal), thingPrincipalType: 'EXCLUSIVE_THING' }),
    ]);
    expect((await associated('core-a')).sort()).toEqual(['happy-0', 'happy-1']);
    expect(await associated('core-b')).toEqual(['happy-b-0']);
  });

  it('throttled then fine: throttled calls are retried by the state machine until they pass', async () => {
    cloud.cloud.admin.configureFaults({ seed: 7, throttle: { RegisterThing: 0.5, AttachThingPrincipal: 0.5 } });
    const run = await cloud.provision({ devices: await devices(8, 'throttled') });

    expect(run.summary.counts).toMatchObject({ requested: 8, succeeded: 8, failed: 0 });
    const throttles = failedAttempts(run.history).filter((error) => error === 'ThrottlingException');
    expect(throttles.length).toBeGreaterThan(0);
    expect(eventsOf(run.history, 'LambdaFunctionScheduled').length).toBeGreaterThan(eventsOf(run.history, 'TaskStateEntered').length);
    expect(cloud.cloud.admin.metrics().RegisterThing?.throttled).toBeGreaterThan(0);
  });

  it('permanent register failure: the device fails at register without retries, the others go on', async () => {
    const good = { thingName: 'csr-good', coreDeviceThingName: 'core-a', parameters: { CSR: await deviceCsr('csr-good') } };
    const bad = { thingName: 'csr-bad', coreDeviceThingName: 'core-a', parameters: { CSR: 'not a CSR' } };
    const run = await cloud.provision({ templateName: 'thing-with-certificate-from-csr', devices: [good, bad] });

    expect(run.summary.status).toBe('PARTIAL');
    const failed = run.summary.devices.find((device) => device.thingName === 'csr-bad');
    expect(failed).toMatchObject({ status: 'FAILED', error: { step: 'register', code: 'InvalidRequestException' } });
    // RegisterThing created nothing, so the rollback has nothing to undo and claims nothing.
    expect(failed?.rollback).toEqual({ detachedPrincipals: [], thingDeleted: false, certificateDeleted: false });
    expect(run.summary.counts.rolledBack).toBe(0);
    expect(failedAttempts(run.history)).toEqual(['InvalidRequestException']);
    const provisioned = run.summary.devices.find((device) => device.thingName === 'csr-good');
    expect(provisioned).toMatchObject({ status: 'PROVISIONED', certificateArn: expect.stringContaining(':cert/') });
    expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual(['csr-good']);
  });

  it('partial association failure: retryable error entries are re-driven until associated', async () => {
    cloud.cloud.admin.configureFaults({ seed: 3, entryRetryable: { BatchAssociateClientDeviceWithCoreDevice: 0.3 } });
    const requested = await devices(6, 'redrive');
    const run = await cloud.provision({ devices: requested });

    expect(run.summary.counts).toMatchObject({ requested: 6, succeeded: 6, failed: 0 });
    expect(eventsOf(run.history, 'WaitStateEntered', 'WaitBeforeAssociationRedrive').length).toBeGreaterThan(0);
    expect(eventsOf(run.history, 'TaskStateEntered', 'AssociateBatch').length).toBeGreaterThan(1);
    expect((await associated('core-a')).sort()).toEqual(requested.map((device) => device.thingName).sort());
  });

  it('rollback: devices whose association fails permanently lose what this request created, and only that', async () => {
    const existing = await cloud.createCertificate();
    await cloud.iot.send(
      new RegisterThingCommand({
        templateBody: JSON.stringify(shippedTemplates['thing-with-attributes']),
        parameters: { ThingName: 'rollback-existing', Site: 'before' },
      }),
    );
    cloud.cloud.admin.configureFaults({ entryPermanent: { BatchAssociateClientDeviceWithCoreDevice: 1 } });
    const run = await cloud.provision({
      devices: [
        ...(await devices(2, 'rollback-new')),
        { thingName: 'rollback-existing', principal: existing, coreDeviceThingName: 'core-a' },
      ],
    });

    expect(run.summary).toMatchObject({ status: 'FAILED', counts: { requested: 3, succeeded: 0, failed: 3, rolledBack: 3 } });
    const created = run.summary.devices.find((device) => device.thingName === 'rollback-new-0');
    expect(created).toMatchObject({ error: { step: 'associate' }, rollback: { thingDeleted: true } });
    const reused = run.summary.devices.find((device) => device.thingName === 'rollback-existing');
    expect(reused?.rollback).toEqual({ detachedPrincipals: [existing], thingDeleted: false, certificateDeleted: false });

    expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual(['rollback-existing']);
    expect(cloud.clientThings()[0]?.attributes).toEqual({ model: 'unspecified', site: 'before' });
    expect(cloud.cloud.admin.state().thingPrincipals['rollback-existing'] ?? []).toEqual([]);
  });

  it('rollback gives a certificate attached NON_EXCLUSIVE_THING before the request, which the request made EXCLUSIVE_THING, its type back', async () => {
    const shared = await cloud.createCertificate();
    await cloud.iot.send(
      new RegisterThingCommand({
        templateBody: JSON.stringify(shippedTemplates['thing-with-attributes']),
        parameters: { ThingName: 'non-exclusive-before' },
      }),
    );
    await cloud.iot.send(
      new AttachThingPrincipalCommand({ thingName: 'non-exclusive-before', principal: shared, thingPrincipalType: 'NON_EXCLUSIVE_THING' }),
    );
    cloud.cloud.admin.configureFaults({ entryPermanent: { BatchAssociateClientDeviceWithCoreDevice: 1 } });
    cloud.cloud.admin.resetMetrics();
    const run = await cloud.provision({
      thingPrincipalType: 'EXCLUSIVE_THING',
      devices: [{ thingName: 'non-exclusive-before', principal: shared, coreDeviceThingName: 'core-a' }],
    });

    expect(run.summary.devices[0]).toMatchObject({ status: 'FAILED', error: { step: 'associate' } });
    // Not this request's to detach: it was attached before.
    expect(run.summary.devices[0]?.rollback).toEqual({ detachedPrincipals: [], thingDeleted: false, certificateDeleted: false });
    // The request did convert it (AttachThingPrincipal with another type converts an attachment), and the rollback converted it back.
    expect(cloud.cloud.admin.metrics().AttachThingPrincipal?.calls).toBe(2);
    expect(cloud.cloud.admin.state().thingPrincipals['non-exclusive-before']).toEqual([
      expect.objectContaining({ principal: certificateId(shared), thingPrincipalType: 'NON_EXCLUSIVE_THING' }),
    ]);
  });

  it('a rollback call that fails is retried on its own: a throttled delete does not list or detach again', async () => {
    const requested = await devices(4, 'call-by-call');
    cloud.cloud.admin.configureFaults({
      seed: 5,
      throttle: { DeleteThing: 0.7 },
      entryPermanent: { BatchAssociateClientDeviceWithCoreDevice: 1 },
    });
    cloud.cloud.admin.resetMetrics();
    const run = await cloud.provision({ devices: requested });

    expect(run.summary.counts).toMatchObject({ requested: 4, failed: 4, rolledBack: 4 });
    for (const device of run.summary.devices)
      expect(device.rollback).toEqual({ detachedPrincipals: [device.certificateArn], thingDeleted: true, certificateDeleted: false });
    const metrics = cloud.cloud.admin.metrics();
    expect(metrics.DeleteThing?.throttled).toBeGreaterThan(0);
    expect([metrics.ListThingPrincipals?.calls, metrics.DetachThingPrincipal?.calls]).toEqual([4, 4]);
    expect(cloud.clientThings()).toEqual([]);
  });

  it('rollback after a failed attach: the thing this request registered is deleted', async () => {
    const missingCertificate = `arn:aws:iot:us-east-1:000000000000:cert/${'e'.repeat(64)}`;
    const run = await cloud.provision({
      coreDeviceThingName: 'core-a',
      devices: [{ thingName: 'attach-fails', principal: missingCertificate }],
    });

    expect(run.summary.devices[0]).toMatchObject({
      status: 'FAILED',
      error: { step: 'attach', code: 'ResourceNotFoundException' },
      rollback: { thingDeleted: true },
    });
    expect(cloud.clientThings()).toEqual([]);
  });

  it('rollback of a device whose certificate the template issued deletes that certificate, and no other', async () => {
    const unrelated = await cloud.createCertificate();
    cloud.cloud.admin.configureFaults({ entryPermanent: { BatchAssociateClientDeviceWithCoreDevice: 1 } });
    const run = await cloud.provision({
      templateName: 'thing-with-certificate-from-csr',
      coreDeviceThingName: 'core-a',
      devices: [{ thingName: 'csr-rollback', parameters: { CSR: await deviceCsr('csr-rollback') } }],
    });

    const [device] = run.summary.devices;
    expect(device).toMatchObject({ status: 'FAILED', error: { step: 'associate' }, certificateArn: expect.stringContaining(':cert/') });
    expect(device?.rollback).toEqual({ detachedPrincipals: [device?.certificateArn], thingDeleted: true, certificateDeleted: true });
    const { certificates } = cloud.cloud.admin.state();
    expect(certificates.map((certificate) => certificate.certificateId)).toEqual([certificateId(unrelated)]);
  });

  it("a rollback that outlasts its retries keeps the device's original error and says what remains", async () => {
    const missingCertificate = `arn:aws:iot:us-east-1:000000000000:cert/${'e'.repeat(64)}`;
    const [unassociated] = await devices(1, 'gave-up-associate');
    cloud.cloud.admin.configureFaults({ throttle: { DeleteThing: 1 }, entryPermanent: { BatchAssociateClientDeviceWithCoreDevice: 1 } });
    const run = await cloud.provision({
      coreDeviceThingName: 'core-a',
      devices: [{ thingName: 'gave-up-attach', principal: missingCertificate }, unassociated!],
    });

    const incomplete = { step: 'rollback', code: 'ThrottlingException', message: expect.stringContaining('gave up after its retries') };
    const outcome = (thingName: string) => run.summary.devices.find((device) => device.thingName === thingName);
    expect(outcome('gave-up-attach')).toMatchObject({
      status: 'FAILED',
      error: { step: 'attach', code: 'ResourceNotFoundException' },
      thingArn: 'arn:aws:iot:us-east-1:000000000000:thing/gave-up-attach',
      rollback: { thingDeleted: false, incomplete },
    });
    // Its calls before the delete did their part, and the report says so.
    expect(outcome('gave-up-associate-0')).toMatchObject({
      status: 'FAILED',
      error: { step: 'associate', code: 'InvalidRequestException' },
      thingArn: 'arn:aws:iot:us-east-1:000000000000:thing/gave-up-associate-0',
      certificateArn: unassociated!.principal,
      rollback: { detachedPrincipals: [unassociated!.principal], thingDeleted: false, incomplete },
    });
    expect(eventsOf(run.history, 'TaskStateEntered', 'RecordAbandonedRollback')).toHaveLength(1);
    expect(eventsOf(run.history, 'TaskStateEntered', 'RecordAbandonedUnassociatedRollback')).toHaveLength(1);
    expect(run.summary.counts).toMatchObject({ failed: 2, rolledBack: 1 });
    expect(
      cloud
        .clientThings()
        .map((thing) => thing.thingName)
        .sort(),
    ).toEqual(['gave-up-associate-0', 'gave-up-attach']);
  });

  it('an unknown core device fails its batch with ResourceNotFoundException and rolls the devices back', async () => {
    const run = await cloud.provision({ devices: await devices(2, 'no-core', 'core-that-does-not-exist') });

    expect(run.summary.status).toBe('FAILED');
    expect(run.summary.devices.map((device) => device.error?.code)).toEqual(['ResourceNotFoundException', 'ResourceNotFoundException']);
    expect(cloud.clientThings()).toEqual([]);
  });

  it('duplicate request: the same requestId and body reach the same execution; another body conflicts', async () => {
    const { provisioning, submitRequest } = await import('../../../functions/api/requests.ts');
    const request = { requestId: 'duplicate-1', devices: await devices(1, 'duplicate') };
    const first = await submitRequest(provisioning, request);
    const second = await submitRequest(provisioning, request);
    expect(first.kind).toBe('started');
    expect(second).toEqual(first);
    await cloud.stepFunctions.waitForExecution((first as { executionArn: string }).executionArn);
    expect(await submitRequest(provisioning, request)).toEqual(first);

    const conflict = await submitRequest(provisioning, { ...request, rollbackOnFailure: false });
    expect(conflict).toMatchObject({ kind: 'conflict', requestId: 'duplicate-1' });
  });

  it('more than 100 devices for one core device: two association batches', async () => {
    const requested = await devices(150, 'fleet');
    const run = await cloud.provision({ devices: requested }, { timeoutMs: 60_000 });

    expect(run.summary.counts).toMatchObject({ requested: 150, succeeded: 150 });
    const batches = eventsOf(run.history, 'TaskStateEntered', 'AssociateBatch');
    expect(batches).toHaveLength(2);
    expect(eventsOf(run.history, 'MapIterationStarted').length).toBe(150 + 2);
    expect(cloud.cloud.admin.state().associations['core-a']).toHaveLength(150);
  }, 90_000);

  it.each([true, false])(
    'a lost RegisterThing response with a CSR template leaves the device exactly one certificate (rollbackOnFailure: %s)',
    async (rollbackOnFailure) => {
      cloud.cloud.admin.configureFaults({ seed: 4, failAfterCommit: { RegisterThing: 0.5 } });
      const requested = await Promise.all(
        Array.from({ length: 6 }, async (_, index) => ({
          thingName: `csr-retry-${rollbackOnFailure}-${index}`,
          coreDeviceThingName: 'core-a',
          parameters: { CSR: await deviceCsr(`csr-retry-${index}`) },
        })),
      );
      const run = await cloud.provision({ templateName: 'thing-with-certificate-from-csr', rollbackOnFailure, devices: requested });

      expect(run.summary.counts).toMatchObject({ requested: 6, succeeded: 6 });
      expect(failedAttempts(run.history)).toContain('InternalFailureException');
      const { thingPrincipals, certificates } = cloud.cloud.admin.state();
      for (const device of run.summary.devices) {
        expect(thingPrincipals[device.thingName]?.map((attachment) => attachment.principal)).toEqual([
          certificateId(device.certificateArn!),
        ]);
      }
      expect(certificates.map((certificate) => certificate.status)).toEqual(Array(6).fill('ACTIVE'));
    },
  );

  it('lost CSR registrations whose stray certificates are throttled while being retired leave none behind', async () => {
    cloud.cloud.admin.configureFaults({
      seed: 8,
      failAfterCommit: { RegisterThing: 0.5 },
      throttle: { UpdateCertificate: 0.3, DetachThingPrincipal: 0.3 },
    });
    const requested = await Promise.all(
      Array.from({ length: 12 }, async (_, index) => ({
        thingName: `csr-throttled-${index}`,
        coreDeviceThingName: 'core-a',
        parameters: { CSR: await deviceCsr(`csr-throttled-${index}`) },
      })),
    );
    const run = await cloud.provision({ templateName: 'thing-with-certificate-from-csr', devices: requested });

    expect(failedAttempts(run.history)).toEqual(expect.arrayContaining(['InternalFailureException', 'ThrottlingException']));
    // A device whose RegisterThing lost every answer is rolled back (or, if throttling outlasts the rollback's
    // retries, says so and keeps its certificates on its thing); the others keep one certificate each.
    const provisioned = run.summary.devices.filter((device) => device.status === 'PROVISIONED');
    expect(provisioned.length).toBeGreaterThan(6);
    const { thingPrincipals, certificates } = cloud.cloud.admin.state();
    const attached = new Set(
      Object.values(thingPrincipals)
        .flat()
        .map((attachment) => attachment.principal),
    );
    expect(certificates.filter((certificate) => !attached.has(certificate.certificateId))).toEqual([]);
    for (const device of provisioned) {
      expect(thingPrincipals[device.thingName]?.map((attachment) => attachment.principal)).toEqual([certificateId(device.certificateArn!)]);
    }
  });

  it('rollback whose disassociation is refused keeps the thing and reports the rollback incomplete', async () => {
    const [requested] = await devices(1, 'refused');
    cloud.cloud.admin.configureFaults({
      failAfterCommit: { BatchAssociateClientDeviceWithCoreDevice: 1 },
      entryPermanent: { BatchDisassociateClientDeviceFromCoreDevice: 1 },
    });
    const run = await cloud.provision({ devices: [requested] });

    expect(run.summary.devices[0]).toMatchObject({
      status: 'FAILED',
      error: { step: 'associate', code: 'InternalServerException' },
      rollback: { thingDeleted: false, incomplete: { step: 'rollback', code: 'InvalidRequestException' } },
    });
    expect(cloud.clientThings().map((thing) => thing.thingName)).toEqual(['refused-0']);
    expect(await associated('core-a')).toEqual(['refused-0']);
  });

  it('a CSR registration that never gets an answer is rolled back with every certificate its attempts issued', async () => {
    const unrelated = await cloud.createCertificate();
    cloud.cloud.admin.configureFaults({ failAfterCommit: { RegisterThing: 1 } });
    const run = await cloud.provision({
      templateName: 'thing-with-certificate-from-csr',
      coreDeviceThingName: 'core-a',
      devices: [{ thingName: 'csr-unanswered', parameters: { CSR: await deviceCsr('csr-unanswered') } }],
    });

    const [device] = run.summary.devices;
    expect(device).toMatchObject({ status: 'FAILED', error: { step: 'register', code: 'InternalFailureException' } });
    expect(device?.rollback).toMatchObject({ thingDeleted: true, certificateDeleted: true });
    expect(device?.rollback?.detachedPrincipals.length).toBeGreaterThan(1);
    const { things, certificates } = cloud.cloud.admin.state();
    expect(things.map((thing) => thing.thingName)).not.toContain('csr-unanswered');
    expect(certificates.map((certificate) => certificate.certificateId)).toEqual([certificateId(unrelated)]);
  });

  it('a call that fails after its side effect is retried and converges without duplicates', async () => {
    cloud.cloud.admin.configureFaults({ seed: 11, failAfterCommit: { RegisterThing: 0.5, AttachThingPrincipal: 0.5 } });
    const requested = await devices(6, 'after-commit');
    const run = await cloud.provision({ devices: requested });

    expect(run.summary.counts).toMatchObject({ requested: 6, succeeded: 6 });
    expect(failedAttempts(run.history)).toContain('InternalFailureException');
    expect(cloud.clientThings()).toHaveLength(6);
    const { thingPrincipals } = cloud.cloud.admin.state();
    for (const device of requested) expect(thingPrincipals[device.thingName]).toHaveLength(1);
  });
});
