import { IoTClient } from '@aws-sdk/client-iot';
import { orchestratedClientConfig } from './orchestrated.ts';

/** Endpoint and region come from the standard AWS settings, so AWS_ENDPOINT_URL reaches the local cloud. */
export const iot = new IoTClient(orchestratedClientConfig);
