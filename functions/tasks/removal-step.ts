import { boundedMessage, isLeftToStateMachineRetry } from '../domain/errors.ts';
import type { DeprovisioningExecutionInput } from '../domain/execution-input.ts';
import type { Correlation, DeviceRecord, Step } from '../domain/records.ts';

export interface DeviceRemovalInput {
  device: DeviceRecord;
  options: DeprovisioningExecutionInput['options'];
  correlation: Correlation;
}

/**
 * Runs one removal step for a device that has not failed yet. Transient errors escape to the state
 * machine's Retry; any other error is the device's outcome, recorded with a bounded message.
 */
export async function removalStep(step: Step, device: DeviceRecord, remove: () => Promise<DeviceRecord>): Promise<DeviceRecord> {
  if (device.status === 'FAILED') return device;
  try {
    return await remove();
  } catch (error) {
    if (isLeftToStateMachineRetry(error as Error)) throw error;
    const { name, message } = error as Error;
    return { ...device, status: 'FAILED', error: { step, code: name, message: boundedMessage(message) } };
  }
}
