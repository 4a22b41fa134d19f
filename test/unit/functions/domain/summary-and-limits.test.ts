import { beforeEach, describe, expect, it, vi } from 'vitest';
import { boundedMessage } from '../../../../functions/domain/errors.ts';
import { toProvisioningExecutionInput } from '../../../../functions/domain/execution-input.ts';
import { MAX_DEVICES_PER_REQUEST, MAX_REQUEST_BYTES } from '../../../../functions/domain/limits.ts';
import { deviceConcurrency, quotasFromEnvironment, throttlingRetrier } from '../../../../functions/domain/pacing.ts';
import { provisioningRequestSchema } from '../../../../functions/domain/provisioning-request.ts';
import type { DeviceRecord } from '../../../../functions/domain/records.ts';
import { summarize, toOutcome } from '../../../../functions/domain/summary.ts';
import { settleAssociations } from '../../../../functions/settle-associations.ts';

const STEP_FUNCTIONS_PAYLOAD_LIMIT = 256 * 1024;

describe('request summary', () => {
  it('counts outcomes and derives the request status', () => {
    const ok: DeviceRecord = { thingName: 'a', coreDeviceThingName: 'c', status: 'PROVISIONED' };
    const bad: DeviceRecord = {
      thingName: 'b',
      coreDeviceThingName: 'c',
      status: 'FAILED',
      error: { step: 'attach', code: 'X', message: 'm' },
    };
    expect(summarize('r', [ok]).status).toBe('SUCCEEDED');
    expect(summarize('r', [ok, bad]).status).toBe('PARTIAL');
    expect(summarize('r', [bad]).status).toBe('FAILED');
    expect(summarize('r', [ok, bad]).counts).toEqual({ requested: 2, succeeded: 1, failed: 1, rolledBack: 0 });
  });

  it('a device a cancel left NOT_STARTED makes the request CANCELLED, counted apart from succeeded and failed', () => {
    const ok: DeviceRecord = { thingName: 'a', coreDeviceThingName: 'c', status: 'PROVISIONED' };
    const bad: DeviceRecord = {
      thingName: 'b',
      coreDeviceThingName: 'c',
      status: 'FAILED',
      error: { step: 'attach', code: 'X', message: 'm' },
    };
    const notStarted: DeviceRecord = { thingName: 'n', coreDeviceThingName: 'c', status: 'NOT_STARTED' };
    const summary = summarize('r', [ok, bad, notStarted, { ...notStarted, thingName: 'm' }]);
    expect(summary.status).toBe('CANCELLED');
    expect(summary.counts).toEqual({ requested: 4, succeeded: 1, failed: 1, rolledBack: 0, notStarted: 2 });
    expect(summary.devices[2]).toEqual({ thingName: 'n', status: 'NOT_STARTED', coreDeviceThingName: 'c' });
    expect(summarize('r', [notStarted]).status).toBe('CANCELLED');
  });

  it('reports a device left in flight as failed instead of losing it', () => {
    const summary = summarize('r', [{ thingName: 'a', coreDeviceThingName: 'c', status: 'REGISTERED' }]);
    expect(summary.devices[0]).toMatchObject({ status: 'FAILED', error: { code: 'IncompleteWorkflow' } });
  });

  it('counts a device as rolled back when its rollback removed something', () => {
    const failed: DeviceRecord = {
      thingName: 'a',
      coreDeviceThingName: 'c',
      status: 'FAILED',
      error: { step: 'associate', code: 'X', message: '' },
    };
    const rolledBack = { ...failed, rollback: { detachedPrincipals: ['p'], thingDeleted: true, certificateDeleted: false } };
    expect(summarize('r', [rolledBack]).counts.rolledBack).toBe(1);
    expect(summarize('r', [failed]).counts.rolledBack).toBe(0);
  });
});

describe('payload limits', () => {
  const longName = (index: number) => `${'n'.repeat(120)}-${String(index).padStart(7, '0')}`;
  const arn = `arn:aws:iot:ap-southeast-2:123456789012:cert/${'f'.repeat(64)}`;

  it('keeps the summary of the largest request under the Step Functions payload limit', () => {
    const devices: DeviceRecord[] = Array.from({ length: MAX_DEVICES_PER_REQUEST }, (_, index) => ({
      thingName: longName(index),
      coreDeviceThingName: longName(index),
      status: 'FAILED',
      thingArn: `arn:aws:iot:ap-southeast-2:123456789012:thing/${longName(index)}`,
      certificateArn: arn,
      error: { step: 'associate', code: 'InvalidRequestException', message: boundedMessage('m'.repeat(5_000)) },
      rollback: { detachedPrincipals: [arn], thingDeleted: true, certificateDeleted: false },
    }));
    const bytes = Buffer.byteLength(JSON.stringify(summarize('r'.repeat(80), devices)));
    expect(bytes).toBeLessThan(STEP_FUNCTIONS_PAYLOAD_LIMIT);
  });

  it('keeps the state under the payload limit when every device of the largest request is rolled back', async () => {
    const registered: DeviceRecord[] = Array.from({ length: MAX_DEVICES_PER_REQUEST }, (_, index) => ({
      thingName: longName(index),
      coreDeviceThingName: longName(index),
      status: 'REGISTERED',
      principal: arn,
      certificateArn: arn,
      prior: { thingExisted: false, principalAttached: false },
      thingArn: `arn:aws:iot:ap-southeast-2:123456789012:thing/${longName(index)}`,
    }));
    const callError = { Error: 'Lambda.ClientExecutionTimeoutException' };
    const batches = registered.map((device) => ({ pending: [device.thingName], done: [], failed: [], callError }));
    const settled = await settleAssociations({
      requestId: 'r'.repeat(80),
      pacing: { deviceConcurrency: 40 },
      rollbackOnFailure: true,
      devices: registered,
      associationBatches: batches,
    });
    expect(Buffer.byteLength(JSON.stringify(settled))).toBeLessThan(STEP_FUNCTIONS_PAYLOAD_LIMIT);

    const rollbackReport = {
      detachedPrincipals: [arn],
      thingDeleted: true,
      certificateDeleted: false,
      incomplete: { step: 'rollback' as const, code: 'AccessDeniedException', message: boundedMessage('m'.repeat(5_000)) },
    };
    const afterRollback = { ...settled, rollbacks: settled.rollbacks.map((device) => toOutcome({ ...device, rollback: rollbackReport })) };
    expect(Buffer.byteLength(JSON.stringify(afterRollback))).toBeLessThan(STEP_FUNCTIONS_PAYLOAD_LIMIT);
  });

  it('keeps the execution input of a request at the body limit under the payload limit', () => {
    const template = JSON.stringify({
      Parameters: { ThingName: { Type: 'String' }, Note: { Type: 'String' } },
      Resources: { t: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' } } } },
      Pad: 'p'.repeat(9_800),
    });
    // A certificate of its own for each device, as an exclusive attachment requires; all ARNs of the same length.
    const devices = Array.from({ length: MAX_DEVICES_PER_REQUEST }, (_, index) => ({
      thingName: longName(index),
      principal: `${arn.slice(0, -7)}${String(index).padStart(7, '0')}`,
      parameters: { Note: '' },
    }));
    const request = { coreDeviceThingName: 'c'.repeat(128), templateBody: template, devices };
    const perDevicePadding = Math.floor((MAX_REQUEST_BYTES - Buffer.byteLength(JSON.stringify(request))) / devices.length) - 1;
    for (const device of devices) device.parameters.Note = 'x'.repeat(perDevicePadding);
    expect(Buffer.byteLength(JSON.stringify(request))).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    const parsed = provisioningRequestSchema.parse(request);
    const input = JSON.stringify(toProvisioningExecutionInput(parsed, 'r'.repeat(80), 40));
    expect(Buffer.byteLength(input)).toBeLessThan(STEP_FUNCTIONS_PAYLOAD_LIMIT);
  });
});

describe('pacing', () => {
  it('keeps RegisterThing at its quota: ceil(tps × step seconds × 1.2), capped at the inline Map limit', () => {
    expect(deviceConcurrency(quotasFromEnvironment({}))).toBe(6);
    expect(deviceConcurrency(quotasFromEnvironment({ REGISTER_THING_TPS: '100' }))).toBe(40);
    expect(deviceConcurrency(quotasFromEnvironment({ REGISTER_THING_TPS: '1', DEVICE_STEP_SECONDS: '0.1' }))).toBe(1);
    expect(deviceConcurrency(quotasFromEnvironment({ ATTACH_THING_PRINCIPAL_TPS: '2' }))).toBe(2);
  });

  it('takes the AWS default for a quota the deployment sets to zero, a negative or a non-number', () => {
    const defaults = quotasFromEnvironment({});
    expect(defaults).toEqual({ registerThingTps: 10, attachThingPrincipalTps: 100, describeThingTps: 350, deviceStepSeconds: 0.5 });
    for (const value of ['0', '-5', 'fast', 'Infinity']) {
      expect(quotasFromEnvironment({ REGISTER_THING_TPS: value, DEVICE_STEP_SECONDS: value }), value).toEqual(defaults);
    }
    expect(quotasFromEnvironment({ DEVICE_STEP_SECONDS: '0.25' }).deviceStepSeconds).toBe(0.25);
  });

  it('divides the lanes among the requests already running, which share the account quota', () => {
    const defaults = quotasFromEnvironment({});
    expect([0, 1, 2, 3].map((running) => deviceConcurrency(defaults, running))).toEqual([6, 3, 2, 2]);
    expect(deviceConcurrency(defaults, 1_000)).toBe(1);
  });

  it('derives the throttling retrier from the same quotas: wait for the lanes to drain, then about a minute of trying', () => {
    const atDefaults = throttlingRetrier(quotasFromEnvironment({}));
    expect(atDefaults).toEqual({ IntervalSeconds: 1, BackoffRate: 2, MaxDelaySeconds: 4, MaxAttempts: 30, JitterStrategy: 'FULL' });
    expect(throttlingRetrier(quotasFromEnvironment({ REGISTER_THING_TPS: '100' }))).toEqual(atDefaults);
    expect(throttlingRetrier(quotasFromEnvironment({ DEVICE_STEP_SECONDS: '3' }))).toMatchObject({
      IntervalSeconds: 4,
      MaxDelaySeconds: 4,
      MaxAttempts: 30,
    });
    expect(throttlingRetrier(quotasFromEnvironment({ REGISTER_THING_TPS: '0.2', DEVICE_STEP_SECONDS: '3' }))).toMatchObject({
      IntervalSeconds: 5,
      MaxDelaySeconds: 5,
      MaxAttempts: 24,
    });
  });
});

describe("a device's outcome", () => {
  // Loaded afresh for each test: Stryker credits the module's set of final statuses to the tests that load it.
  let outcomeOf: typeof toOutcome;
  beforeEach(async () => {
    vi.resetModules();
    ({ toOutcome: outcomeOf } = await import('../../../../functions/domain/summary.ts'));
  });
  const record: DeviceRecord = { thingName: 'sensor-1', coreDeviceThingName: 'core-a', status: 'PROVISIONED' };

  it('carries the thing and certificate it names, and no field for what it does not', () => {
    expect(outcomeOf({ ...record, thingArn: 'arn:thing/sensor-1', certificateArn: 'arn:cert/c' })).toEqual({
      thingName: 'sensor-1',
      status: 'PROVISIONED',
      coreDeviceThingName: 'core-a',
      thingArn: 'arn:thing/sensor-1',
      certificateArn: 'arn:cert/c',
    });
    expect(Object.keys(outcomeOf(record))).toEqual(['thingName', 'status', 'coreDeviceThingName']);
  });

  it.each(['PROVISIONED', 'DEPROVISIONED', 'FAILED', 'NOT_STARTED'] as const)('keeps the final status %s', (status) => {
    expect(outcomeOf({ ...record, status }).status).toBe(status);
    expect(outcomeOf({ ...record, status })).not.toHaveProperty('error');
  });

  it('reports a record still in flight as failed, naming the status it ended in', () => {
    expect(outcomeOf({ ...record, status: 'REGISTERED' })).toMatchObject({
      status: 'FAILED',
      error: { code: 'IncompleteWorkflow', message: 'ended in status REGISTERED' },
    });
  });
});
