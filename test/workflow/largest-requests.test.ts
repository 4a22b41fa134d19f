import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { MAX_DEVICES_PER_REQUEST, MAX_PARAMETER_VALUE_CHARS, MAX_SHARED_PARAMETERS_BYTES, MAX_TEMPLATE_BODY_CHARS } from '../../functions/domain/limits.ts';
import { shippedTemplates } from '../../templates/index.ts';
import { MAX_PAYLOAD_BYTES, payloadBytes } from '../../local-cloud/services/stepfunctions/payload-quota.ts';
import { useServiceCloud } from '../support/service-cloud.ts';

/** Thing and core device names as long as AWS allows (128), distinct per index. */
const longName = (prefix: string, index: number) => `${prefix.repeat(120)}-${String(index).padStart(7, '0')}`;

/**
 * The default template, declaring the shared parameters, grown to the size limit with quotes, which JSON escapes
 * twice over once the template text sits in the execution state: the most bytes a template can take there.
 */
function largestTemplate(sharedParameters: Record<string, string>): string {
  const template = structuredClone(shippedTemplates['thing-with-attributes']) as { Parameters: Record<string, unknown> };
  for (const name of Object.keys(sharedParameters)) template.Parameters[name] = { Type: 'String', Default: '' };
  template.Parameters.Padding = { Type: 'String', Default: '' };
  const padding = MAX_TEMPLATE_BODY_CHARS - JSON.stringify(template).length;
  template.Parameters.Padding = { Type: 'String', Default: '"'.repeat(Math.floor(padding / 2)) };
  return JSON.stringify(template);
}

/** Shared parameters just within their limit. */
function largestSharedParameters(): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (let index = 0; JSON.stringify(parameters).length + MAX_PARAMETER_VALUE_CHARS + 20 <= MAX_SHARED_PARAMETERS_BYTES; index += 1) {
    parameters[`Shared${index}`] = 'v'.repeat(MAX_PARAMETER_VALUE_CHARS);
  }
  return parameters;
}

/** The largest payload any state took in or gave out: the quota applies to each. */
function largestPayload(history: HistoryEvent[]): { state: string; bytes: number } {
  let largest = { state: '', bytes: 0 };
  for (const event of history) {
    const details = event.stateEnteredEventDetails ?? event.stateExitedEventDetails;
    const payload = event.stateEnteredEventDetails?.input ?? event.stateExitedEventDetails?.output;
    if (details?.name === undefined || payload === undefined) continue;
    const bytes = payloadBytes(payload);
    if (bytes > largest.bytes) largest = { state: details.name, bytes };
  }
  return largest;
}

/**
 * The worst cases for the 256 KiB payload quota, run through the real state machines: the most devices a
 * request may hold, with the longest names, each on its own core device, every one failing as late as it
 * can, with an error per device or per batch. The local cloud fails an execution that outgrows the quota
 * with States.DataLimitExceeded, as AWS does, which States.ALL does not catch: no summary, and no rollback.
 */
describe('the largest requests', () => {
  const cloud = useServiceCloud();

  const coreDevices = Array.from({ length: MAX_DEVICES_PER_REQUEST }, (_, index) => longName('c', index));

  async function registerCoreDevices(): Promise<void> {
    for (const coreDeviceThingName of coreDevices) {
      const registered = await fetch(`${cloud.url}/_local/greengrass/core-devices`, { method: 'POST', body: JSON.stringify({ coreDeviceThingName }) });
      expect(registered.status).toBe(200);
    }
  }

  function devicesWithCertificates() {
    return Promise.all(
      coreDevices.map(async (coreDeviceThingName, index) => ({ thingName: longName('t', index), principal: await cloud.createCertificate(), coreDeviceThingName })),
    );
  }

  function expectEveryPayloadWithinTheQuota(history: HistoryEvent[]): void {
    const largest = largestPayload(history);
    expect(largest.bytes, `the largest payload, of state ${largest.state}`).toBeLessThan(MAX_PAYLOAD_BYTES);
  }

  it('provisioning: every device registered, then refused by its own unknown core device, is rolled back and reported', async () => {
    const templateParameters = largestSharedParameters();
    const templateBody = largestTemplate(templateParameters);
    expect(templateBody.length).toBeGreaterThan(MAX_TEMPLATE_BODY_CHARS - 2);
    expect(JSON.stringify(templateParameters).length).toBeGreaterThan(MAX_SHARED_PARAMETERS_BYTES - MAX_PARAMETER_VALUE_CHARS - 40);
    const devices = await devicesWithCertificates();

    const run = await cloud.provision({ requestId: 'largest-provisioning', templateBody, templateParameters, devices }, { timeoutMs: 120_000 });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.summary.counts).toEqual({ requested: MAX_DEVICES_PER_REQUEST, succeeded: 0, failed: MAX_DEVICES_PER_REQUEST, rolledBack: MAX_DEVICES_PER_REQUEST });
    expect(run.summary.devices[0]).toMatchObject({ status: 'FAILED', error: { step: 'associate', code: 'ResourceNotFoundException' }, rollback: { thingDeleted: true } });
    expectEveryPayloadWithinTheQuota(run.history);
    expect(cloud.clientThings()).toEqual([]);
  }, 180_000);

  it('provisioning: every device whose own core device keeps failing the call is rolled back and reported', async () => {
    await registerCoreDevices();
    const devices = await devicesWithCertificates();
    // Each batch spends its retries and reaches the Catch, which used to keep the Lambda error's stack trace.
    cloud.cloud.admin.configureFaults({ serverError: { BatchAssociateClientDeviceWithCoreDevice: 1 } });

    const run = await cloud.provision({ requestId: 'largest-provisioning-catch', devices }, { timeoutMs: 120_000 });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.summary.counts).toEqual({ requested: MAX_DEVICES_PER_REQUEST, succeeded: 0, failed: MAX_DEVICES_PER_REQUEST, rolledBack: MAX_DEVICES_PER_REQUEST });
    expect(run.summary.devices[0]).toMatchObject({ status: 'FAILED', error: { step: 'associate', message: expect.stringMatching(/^the batch's call kept failing: /) } });
    expectEveryPayloadWithinTheQuota(run.history);
  }, 180_000);

  it('deprovisioning: every device whose own core device keeps failing the call is reported, its thing kept', async () => {
    await registerCoreDevices();
    cloud.cloud.admin.configureFaults({ serverError: { BatchDisassociateClientDeviceFromCoreDevice: 1 } });
    const devices = coreDevices.map((coreDeviceThingName, index) => ({ thingName: longName('t', index), coreDeviceThingName }));

    const run = await cloud.deprovision({ requestId: 'largest-deprovisioning', devices }, { timeoutMs: 120_000 });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.summary.counts).toMatchObject({ requested: MAX_DEVICES_PER_REQUEST, succeeded: 0, failed: MAX_DEVICES_PER_REQUEST });
    expect(run.summary.devices[0]).toMatchObject({ status: 'FAILED', error: { step: 'disassociate', message: expect.stringMatching(/^the batch's call kept failing: /) } });
    expectEveryPayloadWithinTheQuota(run.history);
  }, 180_000);
});
