import { describe, expect, it } from 'vitest';
import { finishRequest } from '../../../../functions/domain/fleet-outcomes.ts';

const sent = [
  { thingName: 'a', coreDeviceThingName: 'core-a' },
  { thingName: 'b', coreDeviceThingName: 'core-b' },
];

describe('finishRequest', () => {
  it('gives each device sent its outcome from the summary, in the order sent', () => {
    const finished = finishRequest(
      'r-1',
      'SUCCEEDED',
      {
        requestId: 'r-1',
        status: 'PARTIAL',
        counts: { requested: 2, succeeded: 1, failed: 1, rolledBack: 1 },
        devices: [
          {
            thingName: 'b',
            status: 'FAILED',
            coreDeviceThingName: 'core-b',
            error: { step: 'attach', code: 'ResourceNotFoundException', message: 'no cert' },
          },
          { thingName: 'a', status: 'PROVISIONED', coreDeviceThingName: 'core-a', thingArn: 'arn:thing/a' },
        ],
      },
      sent,
      'PROVISIONED',
    );

    expect(finished.devices).toEqual([
      { thingName: 'a', status: 'PROVISIONED', coreDeviceThingName: 'core-a', thingArn: 'arn:thing/a' },
      {
        thingName: 'b',
        status: 'FAILED',
        coreDeviceThingName: 'core-b',
        error: { step: 'attach', code: 'ResourceNotFoundException', message: 'no cert' },
      },
    ]);
  });

  it('fails a device the summary leaves out', () => {
    const finished = finishRequest(
      'r-1',
      'SUCCEEDED',
      {
        requestId: 'r-1',
        status: 'SUCCEEDED',
        counts: { requested: 1, succeeded: 1, failed: 0, rolledBack: 0 },
        devices: [{ thingName: 'a', status: 'PROVISIONED', coreDeviceThingName: 'core-a' }],
      },
      sent,
      'PROVISIONED',
    );

    expect(finished.devices[1]).toEqual({
      thingName: 'b',
      status: 'FAILED',
      coreDeviceThingName: 'core-b',
      error: { step: 'status', code: 'MissingOutcome', message: 'the request summary has no outcome for this device' },
    });
  });

  it('counts a deprovisioning device done only as DEPROVISIONED, and reads a missing core device as none', () => {
    const finished = finishRequest(
      'd-1',
      'SUCCEEDED',
      {
        requestId: 'd-1',
        status: 'PARTIAL',
        counts: { requested: 2, succeeded: 1, failed: 1, rolledBack: 0 },
        devices: [
          { thingName: 'a', status: 'DEPROVISIONED', coreDeviceThingName: '' },
          { thingName: 'b', status: 'PROVISIONED', coreDeviceThingName: 'core-b' },
        ],
      },
      sent,
      'DEPROVISIONED',
    );

    expect(finished.devices).toEqual([
      { thingName: 'a', status: 'DEPROVISIONED' },
      {
        thingName: 'b',
        status: 'FAILED',
        coreDeviceThingName: 'core-b',
        error: { step: 'status', code: 'UnexpectedPROVISIONED', message: 'the summary reports PROVISIONED with no error' },
      },
    ]);
  });

  it('keeps a device its cancelled request left NOT_STARTED as not started, neither done nor failed', () => {
    const finished = finishRequest(
      'r-1',
      'SUCCEEDED',
      {
        requestId: 'r-1',
        status: 'CANCELLED',
        counts: { requested: 2, succeeded: 1, failed: 0, rolledBack: 0, notStarted: 1 },
        devices: [
          { thingName: 'a', status: 'PROVISIONED', coreDeviceThingName: 'core-a' },
          { thingName: 'b', status: 'NOT_STARTED', coreDeviceThingName: 'core-b' },
        ],
      },
      sent,
      'PROVISIONED',
    );

    expect(finished.devices[1]).toEqual({ thingName: 'b', status: 'NOT_STARTED', coreDeviceThingName: 'core-b' });
  });

  it('fails every device of an execution that ended without a summary, with its status as the code', () => {
    const finished = finishRequest('r-1', 'TIMED_OUT', undefined, sent, 'PROVISIONED');

    expect(finished.executionStatus).toBe('TIMED_OUT');
    expect(finished.devices.map(({ status, error }) => [status, error?.step, error?.code])).toEqual([
      ['FAILED', 'status', 'TIMED_OUT'],
      ['FAILED', 'status', 'TIMED_OUT'],
    ]);
    expect(finished.devices[0]!.error?.message).toBe('the execution ended TIMED_OUT without a summary');
  });
});
