import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** For the API handlers, which no state machine drives: the SDK's standard retries are the right layer. */
export const dynamodb = new DynamoDBClient({});
