import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectStore, ObjectSummary } from './items.ts';

/**
 * The ItemReader's and ResultWriter's S3 calls, made to the local cloud's own S3 over HTTP with the SDK, so that
 * its faults, quotas and state apply to a Map Run as to any client. The client is made on first use (the local
 * cloud's URL is known only once it listens) and again after `close`.
 */
export function s3ObjectStore(options: { endpoint: () => string; region: string }): ObjectStore & { close(): void } {
  let client: S3Client | undefined;
  const s3 = () => {
    client ??= new S3Client({
      endpoint: options.endpoint(),
      region: options.region,
      forcePathStyle: true,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    return client;
  };
  return {
    async get(bucket, key) {
      const object = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      // In Node the SDK answers every object's body as a Readable, whose chunks are its bytes as they arrive.
      return object.Body as Readable;
    },
    async list(bucket, prefix) {
      const objects: ObjectSummary[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await s3().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }));
        for (const object of page.Contents ?? []) {
          objects.push({
            key: object.Key ?? '',
            etag: object.ETag ?? '',
            size: object.Size ?? 0,
            lastModified: object.LastModified ?? new Date(0),
          });
        }
        ContinuationToken = page.NextContinuationToken;
      } while (ContinuationToken);
      return objects;
    },
    async put(bucket, key, body) {
      // One PutObject when it fits in a part, else a multipart upload of 5 MiB parts: never the whole text at once.
      await new Upload({
        client: s3(),
        params: { Bucket: bucket, Key: key, Body: Readable.from(body), ContentType: 'application/json' },
        queueSize: 1,
      }).done();
    },
    close() {
      client?.destroy();
      client = undefined;
    },
  };
}
