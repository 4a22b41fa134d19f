import { clientDeviceBatchTask } from './commons/client-device-batch-task.ts';
import { disassociateFromCore } from './commons/greengrass-operations.ts';

export const handler = clientDeviceBatchTask('disassociate', disassociateFromCore);
