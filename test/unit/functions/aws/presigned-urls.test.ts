import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { presignedGetUrl, presignedPutUrl } from '../../../../functions/aws/presigned-urls.ts';

const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session/token+with=reserved',
};
/** Keys as the service writes them, and one with every character S3's key encoding treats apart. */
const keys = ['uploads/0b6bd1a2-3c1e-4c57-9c1b-6a8f4e2f1d3a/line-7.csv', "fleet-runs/line 7/a+b!'()*~ü.json"];

interface Case {
  name: string;
  region: string;
  bucket: string;
  environment: Record<string, string>;
  /** The S3 client the SDK would presign with in that environment. */
  sdk: { endpoint?: string; forcePathStyle?: boolean };
}

const cases: Case[] = [
  {
    name: 'on AWS, the bucket as host name',
    region: 'eu-west-1',
    bucket: 'iot-provisioning-workflow-prod-fleet-123456789012',
    environment: {},
    sdk: {},
  },
  { name: 'on AWS in us-east-1', region: 'us-east-1', bucket: 'fleet-bucket', environment: {}, sdk: {} },
  { name: 'on AWS in China, its own DNS suffix', region: 'cn-north-1', bucket: 'fleet-bucket', environment: {}, sdk: {} },
  {
    name: 'on AWS, a bucket name that cannot be a host name, by path',
    region: 'eu-west-1',
    bucket: 'fleet.example.com',
    environment: {},
    sdk: {},
  },
  {
    name: 'against the local cloud (AWS_ENDPOINT_URL), by path',
    region: 'us-east-1',
    bucket: 'iot-provisioning-workflow-local-fleet-000000000000',
    environment: { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' },
    sdk: { endpoint: 'http://127.0.0.1:4566', forcePathStyle: true },
  },
  {
    name: "AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL, under the endpoint's own path",
    region: 'eu-west-1',
    bucket: 'fleet-bucket',
    environment: { AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_ENDPOINT_URL_S3: 'https://s3.internal.example:8443/prefix' },
    sdk: { endpoint: 'https://s3.internal.example:8443/prefix', forcePathStyle: true },
  },
];

/**
 * The local cloud's S3 honours a presigned URL's expiry but checks no signature, so this is what proves the
 * signatures: each URL is the one `@aws-sdk/s3-request-presigner` makes for the same request, time and credentials.
 */
describe('presigned S3 URLs', () => {
  beforeAll(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-12-07T06:30:00Z') });
    vi.stubEnv('AWS_ACCESS_KEY_ID', credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', credentials.secretAccessKey);
    vi.stubEnv('AWS_SESSION_TOKEN', credentials.sessionToken);
  });
  afterAll(() => {
    vi.unstubAllEnvs();
    vi.useRealTimers();
  });

  it.each(cases)(
    "GET and PUT (its Content-Type signed) are the SDK presigner's URLs $name",
    async ({ region, bucket, environment, sdk }) => {
      vi.stubEnv('AWS_REGION', region);
      vi.stubEnv('AWS_ENDPOINT_URL', environment.AWS_ENDPOINT_URL);
      vi.stubEnv('AWS_ENDPOINT_URL_S3', environment.AWS_ENDPOINT_URL_S3);
      // What the SDK would presign with: the fleet tasks' S3 client (clients/s3.ts), and for uploads one that signs no checksum.
      const reader = new S3Client({ region, credentials, ...sdk });
      const uploads = new S3Client({ region, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', ...sdk });
      for (const key of keys) {
        expect(await presignedGetUrl(bucket, key, 900)).toBe(
          await getSignedUrl(reader, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 900 }),
        );
        // The SDK signs the Content-Type only when told to.
        const contentTypeSigned = { expiresIn: 3600, signableHeaders: new Set(['content-type']) };
        expect(await presignedPutUrl(bucket, key, 'text/csv', 3600)).toBe(
          await getSignedUrl(uploads, new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: 'text/csv' }), contentTypeSigned),
        );
      }
    },
  );

  it('names the missing region rather than signing for none', async () => {
    vi.stubEnv('AWS_REGION', undefined);
    await expect(presignedGetUrl('fleet-bucket', 'k', 900)).rejects.toThrow('AWS_REGION is not set');
  });
});
