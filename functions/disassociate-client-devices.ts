import { BatchDisassociateClientDeviceFromCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import { greengrass } from './commons/clients/greengrass.ts';
import { clientDeviceBatchTask } from './commons/client-device-batch-task.ts';

export const handler = clientDeviceBatchTask('disassociate', async (coreDeviceThingName, thingNames) => {
  const response = await greengrass.send(
    new BatchDisassociateClientDeviceFromCoreDeviceCommand({ coreDeviceThingName, entries: thingNames.map((thingName) => ({ thingName })) }),
  );
  return response.errorEntries;
});
