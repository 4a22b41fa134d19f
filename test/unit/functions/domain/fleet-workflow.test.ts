import { describe, expect, it, vi } from 'vitest';

/**
 * The fleet CLI's two workflows (domain/fleet-workflow.ts): each names the API collection and the request kind the
 * service has for it, the status its summary gives a device it is done with, and where its report goes.
 */
describe('fleet workflows', () => {
  it('provisioning and deprovisioning each name their request kind, collection, done status, request id prefix and report location', async () => {
    // Loaded afresh, so that the objects the module builds when it loads are this test's to check.
    vi.resetModules();
    const { DEPROVISIONING, PROVISIONING } = await import('../../../../functions/domain/fleet-workflow.ts');
    const { deprovisioning, provisioning } = await import('../../../../functions/api/requests.ts');
    expect(PROVISIONING).toMatchObject({ name: provisioning.workflow, route: provisioning.collection, schema: provisioning.schema });
    expect(DEPROVISIONING).toMatchObject({
      name: deprovisioning.workflow,
      route: deprovisioning.collection,
      schema: deprovisioning.schema,
    });
    expect(PROVISIONING).toMatchObject({
      doneStatus: 'PROVISIONED',
      done: 'provisioned',
      requestIdPrefix: 'm',
      defaultReportPrefix: './iot-provision-report',
    });
    expect(DEPROVISIONING).toMatchObject({
      doneStatus: 'DEPROVISIONED',
      done: 'deprovisioned',
      requestIdPrefix: 'd',
      defaultReportPrefix: './iot-deprovision-report',
    });
  });

  it('deprovisioning leaves out what only provisioning has, of the request and of each device, and passes anything else as it is', async () => {
    // Loaded afresh: the field lists are computed when the module loads.
    vi.resetModules();
    const { DEPROVISIONING, PROVISIONING } = await import('../../../../functions/domain/fleet-workflow.ts');
    const fields = { coreDeviceThingName: 'core-1', templateBody: '{}', thingPrincipalType: 'EXCLUSIVE_THING', colour: 'red' };
    expect(DEPROVISIONING.requestFields(fields)).toEqual({ coreDeviceThingName: 'core-1', colour: 'red' });
    expect(PROVISIONING.requestFields(fields)).toBe(fields);
    const device = {
      thingName: 'sensor-1',
      principal: 'arn:aws:iot:eu-west-1:123456789012:cert/abc',
      parameters: { a: '1' },
      coreDeviceThingName: 'core-1',
    };
    expect(DEPROVISIONING.requestDevice(device)).toEqual({ thingName: 'sensor-1', coreDeviceThingName: 'core-1' });
    expect(PROVISIONING.requestDevice(device)).toBe(device);
    // Not a device at all: the schema refuses it as it is.
    expect(DEPROVISIONING.requestDevice('sensor-1')).toBe('sensor-1');
    expect(DEPROVISIONING.requestDevice(null)).toBeNull();
  });
});
