import { disassociateFromCore } from './aws/greengrass-operations.ts';
import { clientDeviceBatchTask } from './tasks/client-device-batch-task.ts';

export const handler = clientDeviceBatchTask('disassociate', disassociateFromCore);
