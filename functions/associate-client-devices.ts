import { associateWithCore } from './aws/greengrass-operations.ts';
import { clientDeviceBatchTask } from './tasks/client-device-batch-task.ts';

export const handler = clientDeviceBatchTask('associate', associateWithCore);
