import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { orchestratedClientConfig } from './orchestrated.ts';

/** For the state machines' tasks, whose Retry owns retries (orchestrated.ts). */
export const orchestratedDynamodb = new DynamoDBClient(orchestratedClientConfig);
