import {
  BatchAssociateClientDeviceWithCoreDeviceCommand,
  BatchDisassociateClientDeviceFromCoreDeviceCommand,
} from '@aws-sdk/client-greengrassv2';
import type { ErrorEntry } from '../domain/client-device-batches.ts';
import { greengrass } from './clients/greengrass.ts';

/** Associates the devices with the core device and answers the error entries. */
export async function associateWithCore(coreDeviceThingName: string, thingNames: string[]): Promise<ErrorEntry[]> {
  const response = await greengrass.send(
    new BatchAssociateClientDeviceWithCoreDeviceCommand({ coreDeviceThingName, entries: thingNames.map((thingName) => ({ thingName })) }),
  );
  return response.errorEntries ?? [];
}

/**
 * Disassociates the devices from the core device and answers the error entries. A core device that
 * does not exist (deleted, or never registered) holds no association to remove: like every other
 * already-gone resource in removal and rollback, it counts as done.
 */
export async function disassociateFromCore(coreDeviceThingName: string, thingNames: string[]): Promise<ErrorEntry[]> {
  try {
    const response = await greengrass.send(
      new BatchDisassociateClientDeviceFromCoreDeviceCommand({
        coreDeviceThingName,
        entries: thingNames.map((thingName) => ({ thingName })),
      }),
    );
    return response.errorEntries ?? [];
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return [];
    throw error;
  }
}
