import { GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { orchestratedClientConfig } from './orchestrated.ts';

export const greengrass = new GreengrassV2Client(orchestratedClientConfig);
