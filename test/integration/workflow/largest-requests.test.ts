import { type HistoryEvent, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import type { $ZodType } from 'zod/v4/core';
import { deprovisioningRequestSchema } from '../../../functions/domain/deprovisioning-request.ts';
import { toProvisioningExecutionInput } from '../../../functions/domain/execution-input.ts';
import {
  MAX_DEVICES_PER_REQUEST,
  MAX_PARAMETER_VALUE_CHARS,
  MAX_REQUEST_BYTES,
  MAX_SHARED_PARAMETERS_BYTES,
  MAX_TEMPLATE_BODY_CHARS,
} from '../../../functions/domain/limits.ts';
import { jsonBytes, provisioningRequestSchema } from '../../../functions/domain/provisioning-request.ts';
import { requestStatusSchema } from '../../../functions/domain/request-status.ts';
import { validate } from '../../../functions/domain/validation.ts';
import { MAX_PAYLOAD_BYTES, payloadBytes } from '../../../local-cloud/services/stepfunctions/payload-quota.ts';
import { shippedTemplates } from '../../../templates/index.ts';
import { deviceCsr } from '../../support/device-certificates.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';
import { waitForExecution } from '../../support/step-functions.ts';

/**
 * The largest n for which validation accepts `request(n)`, found by asking the schema itself, so that a bound
 * loosened later grows the worst cases below with it (and fails them if it breaks the quota). Past 1 MiB a
 * value is taken to be unbounded, which is a failure of its own.
 */
function longestAccepted(request: (length: number) => unknown, schema: $ZodType = provisioningRequestSchema): number {
  const accepts = (length: number) => validate(schema, request(length)).ok;
  let accepted = 0;
  let refused = 1;
  while (accepts(refused)) {
    accepted = refused;
    refused *= 2;
    if (refused > 2 ** 20) throw new Error(`validation accepts a value of ${accepted} characters: it bounds nothing`);
  }
  if (accepted === 0) throw new Error('validation refuses even the shortest value');
  while (refused - accepted > 1) {
    const middle = Math.floor((accepted + refused) / 2);
    if (accepts(middle)) accepted = middle;
    else refused = middle;
  }
  return accepted;
}

/** A certificate ARN of another partition (its part after `aws`) and region: the local cloud resolves its certificate id. */
const withPartitionAndRegion = (arn: string, partitionSuffix: string, region: string) =>
  arn.replace(/^arn:[^:]+:iot:[^:]+:/, `arn:aws${partitionSuffix}:iot:${region}:`);

const PROBE_ARN = `arn:aws:iot:us-east-1:000000000000:cert/${'ab'.repeat(32)}`;
const probe = (device: Record<string, string> = {}, request: Record<string, unknown> = {}) => ({
  coreDeviceThingName: 'core',
  ...request,
  devices: [{ thingName: 'sensor', principal: PROBE_ARN, ...device }],
});

/** How long validation lets each string be that the execution state keeps per device or per request. */
const longest = {
  requestId: longestAccepted((length) => probe({}, { requestId: 'r'.repeat(length) })),
  thingName: longestAccepted((length) => probe({ thingName: 't'.repeat(length) })),
  coreDeviceThingName: longestAccepted((length) => probe({ coreDeviceThingName: 'c'.repeat(length) })),
  partitionSuffix: longestAccepted((length) => probe({ principal: withPartitionAndRegion(PROBE_ARN, 'x'.repeat(length), 'us-east-1') })),
  region: longestAccepted((length) => probe({ principal: withPartitionAndRegion(PROBE_ARN, '', 'r'.repeat(length)) })),
  deprovisioningThingName: longestAccepted(
    (length) => ({ coreDeviceThingName: 'core', devices: [{ thingName: 't'.repeat(length) }] }),
    deprovisioningRequestSchema,
  ),
};

/** A name or id of the given length, distinct per index. */
const longName = (prefix: string, index: number, length: number) => `${prefix.repeat(length - 8)}-${String(index).padStart(7, '0')}`;
/** A certificate ARN as long as validation allows, for the certificate of `arn`. */
const longestArn = (arn: string) => withPartitionAndRegion(arn, 'x'.repeat(longest.partitionSuffix), 'r'.repeat(longest.region));

/**
 * The default template, declaring the shared parameters, grown to the size limit with quotes, which JSON escapes
 * twice over once the template text sits in the execution state: the most bytes a template can take there.
 */
function largestTemplate(
  sharedParameters: Record<string, string>,
  shipped: keyof typeof shippedTemplates = 'thing-with-attributes',
): string {
  const template = structuredClone(shippedTemplates[shipped]) as { Parameters: Record<string, unknown> };
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
 * request may hold, every string as long as validation accepts it (the request, in the first case, as large
 * as it accepts), each device on its own core device, every one failing as late as it can, with an error per
 * device or per batch. The local cloud fails an execution that outgrows the quota
 * with States.DataLimitExceeded, as AWS does, which States.ALL does not catch: no summary, and no rollback.
 */
describe('the largest requests', () => {
  const cloud = useServiceCloud();

  const coreDevices = Array.from({ length: MAX_DEVICES_PER_REQUEST }, (_, index) => longName('c', index, longest.coreDeviceThingName));

  async function registerCoreDevices(): Promise<void> {
    for (const coreDeviceThingName of coreDevices) {
      const registered = await fetch(`${cloud.url}/_local/greengrass/core-devices`, {
        method: 'POST',
        body: JSON.stringify({ coreDeviceThingName }),
      });
      expect(registered.status).toBe(200);
    }
  }

  function devicesWithCertificates() {
    return Promise.all(
      coreDevices.map(async (coreDeviceThingName, index) => ({
        thingName: longName('t', index, longest.thingName),
        principal: longestArn(await cloud.createCertificate()),
        coreDeviceThingName,
      })),
    );
  }

  function expectEveryPayloadWithinTheQuota(history: HistoryEvent[]): void {
    const largest = largestPayload(history);
    expect(largest.bytes, `the largest payload, of state ${largest.state}`).toBeLessThan(MAX_PAYLOAD_BYTES);
  }

  it.each([
    ['its own unknown core device', false],
    // The execution input repeats a request's core device for each device that names none.
    ['the one unknown core device the request names for all', true],
  ])(
    'provisioning, the largest request: every device registered, then refused by %s, is rolled back and reported',
    async (_, sharedCoreDevice) => {
      const templateParameters = largestSharedParameters();
      const templateBody = largestTemplate(templateParameters);
      expect(templateBody.length).toBeGreaterThan(MAX_TEMPLATE_BODY_CHARS - 2);
      expect(JSON.stringify(templateParameters).length).toBeGreaterThan(MAX_SHARED_PARAMETERS_BYTES - MAX_PARAMETER_VALUE_CHARS - 40);
      const devices = (await devicesWithCertificates()).map(({ coreDeviceThingName, ...device }) =>
        sharedCoreDevice ? device : { ...device, coreDeviceThingName },
      );
      // Each device's own parameters grown until the request is the largest that validation accepts.
      const requestWithPadding = (length: number) => ({
        requestId: 'largest-provisioning'.padEnd(longest.requestId, '-'),
        ...(sharedCoreDevice && { coreDeviceThingName: coreDevices[0] }),
        templateBody,
        templateParameters,
        devices: devices.map((device) => ({ ...device, parameters: { Shared0: 'p'.repeat(length) } })),
      });
      const request = requestWithPadding(longestAccepted(requestWithPadding));
      expect(jsonBytes(request)).toBeGreaterThan(MAX_REQUEST_BYTES - MAX_DEVICES_PER_REQUEST * 2);

      const run = await cloud.provision(request, { timeoutMs: 120_000 });

      expect(run.status).toBe('SUCCEEDED');
      expect(run.summary.counts).toEqual({
        requested: MAX_DEVICES_PER_REQUEST,
        succeeded: 0,
        failed: MAX_DEVICES_PER_REQUEST,
        rolledBack: MAX_DEVICES_PER_REQUEST,
      });
      expect(run.summary.devices[0]).toMatchObject({
        status: 'FAILED',
        error: { step: 'associate', code: 'ResourceNotFoundException' },
        rollback: { thingDeleted: true },
      });
      expectEveryPayloadWithinTheQuota(run.history);
      expect(cloud.clientThings()).toEqual([]);
    },
    180_000,
  );

  it('provisioning, the largest CSR template: every device failing inside the device Map, its rollback given up, is reported', async () => {
    const csr = await deviceCsr('largest');
    // One shared parameter gives way to the CSR, so that the shared parameters stay within their limit.
    const templateParameters: Record<string, string> = {
      ...Object.fromEntries(Object.entries(largestSharedParameters()).slice(1)),
      CSR: csr,
    };
    const templateBody = largestTemplate(templateParameters, 'thing-with-certificate-from-csr');
    const devices = coreDevices.map((coreDeviceThingName, index) => ({
      thingName: longName('t', index, longest.thingName),
      coreDeviceThingName,
    }));
    // Attach fails every device after its thing and certificate exist; the rollback then gives up at DeleteCertificate, so
    // each device's record holds the most a record inside the Map can: ARNs, an error, detached principals, incomplete.
    cloud.cloud.admin.configureFaults({ serverError: { AttachThingPrincipal: 1, DeleteCertificate: 1 } });

    const run = await cloud.provision(
      { requestId: 'largest-csr'.padEnd(longest.requestId, '-'), templateBody, templateParameters, devices },
      { timeoutMs: 240_000 },
    );

    expect(run.status).toBe('SUCCEEDED');
    expect(run.summary.counts).toMatchObject({ requested: MAX_DEVICES_PER_REQUEST, succeeded: 0, failed: MAX_DEVICES_PER_REQUEST });
    expect(run.summary.devices.every((device) => device.status === 'FAILED' && device.rollback?.incomplete !== undefined)).toBe(true);
    expectEveryPayloadWithinTheQuota(run.history);
  }, 300_000);

  it('provisioning: every device whose own core device keeps failing the call is rolled back and reported', async () => {
    await registerCoreDevices();
    const devices = await devicesWithCertificates();
    // Each batch spends its retries and reaches the Catch, which used to keep the Lambda error's stack trace.
    cloud.cloud.admin.configureFaults({ serverError: { BatchAssociateClientDeviceWithCoreDevice: 1 } });

    const run = await cloud.provision(
      { requestId: 'largest-provisioning-catch'.padEnd(longest.requestId, '-'), devices },
      { timeoutMs: 120_000 },
    );

    expect(run.status).toBe('SUCCEEDED');
    expect(run.summary.counts).toEqual({
      requested: MAX_DEVICES_PER_REQUEST,
      succeeded: 0,
      failed: MAX_DEVICES_PER_REQUEST,
      rolledBack: MAX_DEVICES_PER_REQUEST,
    });
    expect(run.summary.devices[0]).toMatchObject({
      status: 'FAILED',
      error: { step: 'associate', message: expect.stringMatching(/^the batch's call kept failing: /) },
    });
    expectEveryPayloadWithinTheQuota(run.history);
  }, 180_000);

  it('deprovisioning: every device whose own core device keeps failing the call is reported, its thing kept', async () => {
    await registerCoreDevices();
    cloud.cloud.admin.configureFaults({ serverError: { BatchDisassociateClientDeviceFromCoreDevice: 1 } });
    const devices = coreDevices.map((coreDeviceThingName, index) => ({
      thingName: longName('t', index, longest.deprovisioningThingName),
      coreDeviceThingName,
    }));

    const run = await cloud.deprovision(
      { requestId: 'largest-deprovisioning'.padEnd(longest.requestId, '-'), devices },
      { timeoutMs: 120_000 },
    );

    expect(run.status).toBe('SUCCEEDED');
    expect(run.summary.counts).toMatchObject({ requested: MAX_DEVICES_PER_REQUEST, succeeded: 0, failed: MAX_DEVICES_PER_REQUEST });
    expect(run.summary.devices[0]).toMatchObject({
      status: 'FAILED',
      error: { step: 'disassociate', message: expect.stringMatching(/^the batch's call kept failing: /) },
    });
    expectEveryPayloadWithinTheQuota(run.history);
  }, 180_000);

  it('an execution that outgrows the quota anyway (validation bypassed) is reported by GET with every device unsettled', async () => {
    // What a 700-character region did before validation bounded it: the devices are registered and attached,
    // then the state outgrows the quota, which no Catch handles: no rollback, no summary.
    const request = {
      coreDeviceThingName: 'core-a',
      thingPrincipalType: 'EXCLUSIVE_THING' as const,
      rollbackOnFailure: true,
      devices: await Promise.all(
        Array.from({ length: 20 }, async (_, index) => ({
          thingName: `unsettled-${index}`,
          principal: withPartitionAndRegion(await cloud.createCertificate(), '', 'r'.repeat(9_000)),
        })),
      ),
    };
    expect(validate(provisioningRequestSchema, request).ok).toBe(false);
    const requestId = 'outgrown-by-its-principals';
    const { executionArn } = await cloud.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: process.env.PROVISION_STATE_MACHINE_ARN,
        name: requestId,
        input: JSON.stringify({ ...toProvisioningExecutionInput(request, requestId, 6), leaseOwner: requestId }),
      }),
    );
    const ended = await waitForExecution(cloud.sfn, executionArn as string, { timeoutMs: 60_000 });
    expect(ended, ended.cause).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect(cloud.clientThings()).toHaveLength(request.devices.length);

    const { handler } = await import('../../../functions/get-provisioning-request.ts');
    const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'get', awsRequestId: 'req' } as never;
    const response = (await handler({ httpMethod: 'GET', headers: {}, pathParameters: { requestId } } as never, context)) as {
      statusCode: number;
      body: string;
    };

    expect(response.statusCode).toBe(200);
    const status = requestStatusSchema.parse(JSON.parse(response.body));
    expect(status).toMatchObject({ executionStatus: 'FAILED', outcome: 'UNKNOWN', error: { code: 'States.DataLimitExceeded' } });
    expect(status.summary).toBeUndefined();
    expect(status.unsettled?.message).toMatch(
      /^The execution ended FAILED before it could report its devices.*send the same request again under a new requestId/,
    );
    expect(status.unsettled?.devices).toEqual(
      request.devices.map((device) => ({
        thingName: device.thingName,
        coreDeviceThingName: 'core-a',
        principal: device.principal,
        status: 'UNKNOWN',
      })),
    );
  }, 120_000);
});
