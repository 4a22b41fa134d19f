import { S3Client } from '@aws-sdk/client-s3';
import { orchestratedClientConfig } from './orchestrated.ts';

/**
 * Tries per S3 call. Unlike the device tasks' clients (orchestrated.ts), this one retries in the SDK: a fleet task
 * makes several S3 calls an invocation (a report reads every result file), and S3 throttles as SlowDown, which the
 * state machine retries only as a transient error, five times, each time repeating every call of the invocation.
 */
const S3_ATTEMPTS = 6;

/**
 * For the fleet run's tasks. A hung call still gives up after a few seconds. An endpoint
 * override is the local cloud, which serves buckets by path, not by host name.
 */
export const s3 = new S3Client({
  maxAttempts: S3_ATTEMPTS,
  requestHandler: orchestratedClientConfig.requestHandler,
  forcePathStyle: process.env.AWS_ENDPOINT_URL !== undefined,
});
