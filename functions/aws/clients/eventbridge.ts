import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { orchestratedClientConfig } from './orchestrated.ts';

export const eventBridge = new EventBridgeClient(orchestratedClientConfig);
