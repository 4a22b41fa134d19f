import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it, vi } from 'vitest';

const credentials = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };

/** Where the fleet tasks' S3 client (aws/clients/s3.ts) sends a call: the request as built, stopped before it is signed or sent. */
async function addressOfGetObject(environment: Record<string, string | undefined>) {
  for (const [name, value] of Object.entries(environment)) vi.stubEnv(name, value);
  // Loaded afresh: the client reads its environment when its module loads, as in a Lambda's cold start.
  vi.resetModules();
  const { s3 } = (await import('../../../../../functions/aws/clients/s3.ts')) as { s3: S3Client };
  let built: { hostname: string; path: string } | undefined;
  s3.middlewareStack.add(
    () => async (args) => {
      built = args.request as typeof built;
      throw new Error('built');
    },
    { step: 'build' },
  );
  await expect(s3.send(new GetObjectCommand({ Bucket: 'fleet-bucket', Key: 'fleet-runs/r/report.json' }))).rejects.toThrow('built');
  return { hostname: built?.hostname, path: built?.path, maxAttempts: await s3.config.maxAttempts() };
}

describe('the fleet S3 client', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('addresses the bucket by host name on AWS, and tries each call six times', async () => {
    expect(await addressOfGetObject({ ...credentials, AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: undefined })).toEqual({
      hostname: 'fleet-bucket.s3.eu-west-1.amazonaws.com',
      path: '/fleet-runs/r/report.json',
      maxAttempts: 6,
    });
  });

  it('addresses the bucket by path on an endpoint override, even one whose name could take the bucket before it, as the local cloud serves it', async () => {
    expect(await addressOfGetObject({ ...credentials, AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'http://localhost:4566' })).toEqual({
      hostname: 'localhost',
      path: '/fleet-bucket/fleet-runs/r/report.json',
      maxAttempts: 6,
    });
  });
});
