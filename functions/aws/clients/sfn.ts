import { SFNClient } from '@aws-sdk/client-sfn';

/** The API handlers are not orchestrated, so here the SDK's standard retries are the right layer. */
export const sfn = new SFNClient({});
