import { describe, expect, it } from 'vitest';
import { toDeprovisioningExecutionInput, toProvisioningExecutionInput } from '../../../../functions/domain/execution-input.ts';
import { unsettledDevicesOf } from '../../../../functions/domain/unsettled-devices.ts';

const principal = `arn:aws:iot:us-east-1:123456789012:cert/${'ab'.repeat(32)}`;
const provisioningInput = JSON.stringify(
  toProvisioningExecutionInput(
    {
      coreDeviceThingName: 'core-a',
      thingPrincipalType: 'EXCLUSIVE_THING',
      rollbackOnFailure: true,
      devices: [
        { thingName: 'a', principal },
        { thingName: 'b', principal: `${principal.slice(0, -1)}c`, coreDeviceThingName: 'core-b' },
      ],
    },
    'r',
    6,
  ),
);
const deprovisioningInput = JSON.stringify(
  toDeprovisioningExecutionInput(
    { coreDeviceThingName: 'core-a', disassociate: true, detachPrincipals: true, deleteThings: true, devices: [{ thingName: 'a' }] },
    'r',
  ),
);

describe('the devices of an execution that ended without a summary', () => {
  it('are every device of its input, each UNKNOWN, with how to converge on them', () => {
    expect(unsettledDevicesOf('TIMED_OUT', provisioningInput)).toEqual({
      message: expect.stringMatching(/^The execution ended TIMED_OUT .*rolled nothing back.*new requestId.*deprovisioning request/),
      devices: [
        { thingName: 'a', coreDeviceThingName: 'core-a', principal, status: 'UNKNOWN' },
        { thingName: 'b', coreDeviceThingName: 'core-b', principal: `${principal.slice(0, -1)}c`, status: 'UNKNOWN' },
      ],
    });
    expect(unsettledDevicesOf('ABORTED', deprovisioningInput)).toEqual({
      message: expect.stringMatching(/^The execution ended ABORTED .*disassociated.*new requestId: removing what is already gone succeeds/),
      devices: [{ thingName: 'a', coreDeviceThingName: 'core-a', status: 'UNKNOWN' }],
    });
  });

  it('are not reported while the execution runs or once it has a summary, nor from an input that cannot be read', () => {
    expect(unsettledDevicesOf('RUNNING', provisioningInput)).toBeUndefined();
    expect(unsettledDevicesOf('SUCCEEDED', provisioningInput)).toBeUndefined();
    expect(unsettledDevicesOf('FAILED', '{not json')).toBeUndefined();
    expect(unsettledDevicesOf('FAILED', undefined)).toBeUndefined();
  });

  it('skips what in the input is no device with a name, and leaves out a core device or principal that is no string', () => {
    const input = JSON.stringify({
      templateBody: '{}',
      devices: [null, 'a', { coreDeviceThingName: 'core-a' }, { thingName: 5 }, { thingName: 'c', coreDeviceThingName: 7, principal: 8 }],
    });
    expect(unsettledDevicesOf('FAILED', input)?.devices).toEqual([{ thingName: 'c', coreDeviceThingName: '', status: 'UNKNOWN' }]);
    expect(unsettledDevicesOf('FAILED', JSON.stringify({ devices: 'a' }))?.devices).toEqual([]);
    expect(unsettledDevicesOf('FAILED', JSON.stringify({}))?.devices).toEqual([]);
  });
});
