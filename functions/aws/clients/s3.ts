import { S3Client } from '@aws-sdk/client-s3';
import { orchestratedClientConfig } from './orchestrated.ts';

/**
 * For the fleet run's tasks, whose Retry owns retries (orchestrated.ts). An endpoint override is the local cloud,
 * which serves buckets by path, not by host name.
 */
export const s3 = new S3Client({ ...orchestratedClientConfig, forcePathStyle: process.env.AWS_ENDPOINT_URL !== undefined });
