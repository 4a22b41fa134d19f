import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketNotificationConfigurationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EMULATED_OPERATIONS } from '../../../../local-cloud/faults.ts';
import { createLocalCloud, type LocalCloud, type LocalCloudOptions } from '../../../../local-cloud/server.ts';
import { S3_OPERATION_NAMES } from '../../../../local-cloud/services/s3/index.ts';
import type { ServiceEvent } from '../../../../local-cloud/wire/context.ts';
import { ACCOUNT, expectAwsError, REGION } from '../helpers.ts';

const BUCKET = 'fleet-manifests';
const MiB = 1024 * 1024;

let cloud: LocalCloud;
let s3: S3Client;
/** Every event S3 published, in order. */
let published: ServiceEvent[];
/** The headers of every request the client sent, as they left it (after checksums and signing). */
let sent: { method: string; path: string; headers: Record<string, string> }[];

async function start(options: LocalCloudOptions = {}) {
  published = [];
  sent = [];
  cloud = await createLocalCloud({
    faults: { quotas: false },
    ...options,
    services: (context) => {
      const bus = context.events;
      context.events = {
        publish(event) {
          published.push(event);
          bus.publish(event);
        },
      };
      return [];
    },
  });
  s3 = client(cloud.url);
  s3.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { method: string; path: string; headers: Record<string, string> };
      sent.push({ method: request.method, path: request.path, headers: { ...request.headers } });
      return next(args);
    },
    { step: 'deserialize', name: 'recordSentRequests' },
  );
}

function client(endpoint: string, region = REGION): S3Client {
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

beforeEach(async () => {
  await start();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
});
afterEach(async () => {
  s3.destroy();
  await cloud.close();
});

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');
const crc32Base64 = (data: Uint8Array) => {
  const value = Buffer.alloc(4);
  value.writeUInt32BE(crc32(data));
  return value.toString('base64');
};
const bytes = (size: number, seed = 1) => Buffer.from(Array.from({ length: size }, (_, index) => (index * 31 + seed) % 251));
const text = async (key: string, extra: Partial<ConstructorParameters<typeof GetObjectCommand>[0]> = {}) =>
  await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, ...extra }));
const put = (key: string, body: string | Uint8Array) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));

/** A SigV4 Authorization header with the scope the local cloud routes by; signatures are not verified. */
const AUTHORIZATION = `AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20261207/${REGION}/s3/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`;

describe('S3 buckets', () => {
  it('CreateBucket with the region as location constraint; HeadBucket, GetBucketLocation and ListBuckets see it', async () => {
    const head = await s3.send(new HeadBucketCommand({ Bucket: BUCKET }));
    expect(head.BucketRegion).toBe(REGION);
    expect((await s3.send(new GetBucketLocationCommand({ Bucket: BUCKET }))).LocationConstraint).toBe(REGION);
    const { Buckets } = await s3.send(new ListBucketsCommand({}));
    expect(Buckets?.map((bucket) => [bucket.Name, bucket.BucketRegion])).toEqual([[BUCKET, REGION]]);
    expect(Buckets?.[0]?.CreationDate).toBeInstanceOf(Date);
  });

  it('creating a bucket you own is BucketAlreadyOwnedByYou 409; an invalid name is InvalidBucketName 400', async () => {
    await expectAwsError(
      s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } })),
      'BucketAlreadyOwnedByYou',
      409,
    );
    await expectAwsError(
      s3.send(new CreateBucketCommand({ Bucket: 'Not_Valid', CreateBucketConfiguration: { LocationConstraint: REGION } })),
      'InvalidBucketName',
      400,
    );
  });

  it('outside us-east-1, a CreateBucket without a location constraint is IllegalLocationConstraintException (the SDK adds its region)', async () => {
    const raw = await fetch(`${cloud.url}/no-constraint`, { method: 'PUT', headers: { authorization: AUTHORIZATION } });
    expect(raw.status).toBe(400);
    expect(await raw.text()).toContain(
      '<Code>IllegalLocationConstraintException</Code><Message>The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.</Message>',
    );
    await s3.send(new CreateBucketCommand({ Bucket: 'no-constraint' }));
    expect((await s3.send(new HeadBucketCommand({ Bucket: 'no-constraint' }))).BucketRegion).toBe(REGION);
    const east = client(cloud.url, 'us-east-1');
    try {
      await east.send(new CreateBucketCommand({ Bucket: 'in-us-east-1' }));
      expect((await east.send(new HeadBucketCommand({ Bucket: 'in-us-east-1' }))).BucketRegion).toBe('us-east-1');
    } finally {
      east.destroy();
    }
  });

  it('a missing bucket: HeadBucket is NotFound 404, GetObject and ListObjectsV2 are NoSuchBucket 404', async () => {
    await expectAwsError(s3.send(new HeadBucketCommand({ Bucket: 'missing-bucket' })), 'NotFound', 404);
    const error = await expectAwsError(s3.send(new GetObjectCommand({ Bucket: 'missing-bucket', Key: 'a' })), 'NoSuchBucket', 404);
    expect(error.BucketName).toBe('missing-bucket');
    await expectAwsError(s3.send(new ListObjectsV2Command({ Bucket: 'missing-bucket' })), 'NoSuchBucket', 404);
  });

  it('DeleteBucket refuses a bucket with objects (BucketNotEmpty 409) and deletes an empty one', async () => {
    await put('a', 'x');
    await expectAwsError(s3.send(new DeleteBucketCommand({ Bucket: BUCKET })), 'BucketNotEmpty', 409);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'a' }));
    await s3.send(new DeleteBucketCommand({ Bucket: BUCKET }));
    await expectAwsError(s3.send(new HeadBucketCommand({ Bucket: BUCKET })), 'NotFound', 404);
  });
});

describe('S3 objects', () => {
  it('PutObject with the SDK default CRC32 checksum: echoed by PutObject and by GetObject with ChecksumMode, the ETag is the MD5', async () => {
    const body = 'device-1,core-1\ndevice-2,core-1\n';
    const result = await put('manifests/fleet.csv', body);
    expect(sent.at(-1)?.headers['x-amz-checksum-crc32']).toBe(crc32Base64(Buffer.from(body)));
    expect(result.ETag).toBe(`"${md5(Buffer.from(body))}"`);
    expect(result.ChecksumCRC32).toBe(crc32Base64(Buffer.from(body)));

    const object = await text('manifests/fleet.csv', { ChecksumMode: 'ENABLED' });
    expect(await object.Body?.transformToString()).toBe(body);
    expect(object).toMatchObject({
      ETag: result.ETag,
      ContentLength: body.length,
      ChecksumCRC32: crc32Base64(Buffer.from(body)),
      ChecksumType: 'FULL_OBJECT',
    });
  });

  it('a streamed PutObject goes aws-chunked with a CRC32 trailer; the decoded bytes are stored', async () => {
    const body = bytes(300_000);
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'streamed.bin',
        Body: Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]),
        ContentLength: body.length,
      }),
    );
    const request = sent.at(-1)?.headers ?? {};
    expect(request['content-encoding']).toContain('aws-chunked');
    expect(request['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    expect(request['x-amz-decoded-content-length']).toBe(String(body.length));
    const stored = Buffer.from(await (await text('streamed.bin')).Body!.transformToByteArray());
    expect(stored.equals(body)).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'streamed.bin', ChecksumMode: 'ENABLED' }));
    expect(head).toMatchObject({ ContentLength: body.length, ChecksumCRC32: crc32Base64(body), ETag: `"${md5(body)}"` });
    expect(head.ContentEncoding).toBeUndefined();
  });

  it('a wrong checksum header is BadDigest 400 and stores nothing', async () => {
    await expectAwsError(
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'bad', Body: 'hello', ChecksumCRC32: crc32Base64(Buffer.from('other')) })),
      'BadDigest',
      400,
    );
    await expectAwsError(text('bad'), 'NoSuchKey', 404);
  });

  it('a wrong trailing checksum in an aws-chunked body is InvalidRequest 400', async () => {
    const body = `5\r\nhello\r\n0\r\nx-amz-checksum-crc32:${crc32Base64(Buffer.from('other'))}\r\n\r\n`;
    const response = await fetch(`${cloud.url}/${BUCKET}/trailer`, {
      method: 'PUT',
      headers: {
        authorization: AUTHORIZATION,
        'content-encoding': 'aws-chunked',
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'x-amz-decoded-content-length': '5',
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
      body,
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(
      /<Code>InvalidRequest<\/Code><Message>Value for x-amz-checksum-crc32 trailing header is invalid.<\/Message>/,
    );
  });

  it('metadata and Content-Type come back on GetObject and HeadObject', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'report.json', Body: '{}', ContentType: 'application/json', Metadata: { run: 'r-1' } }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'report.json' }));
    expect(head).toMatchObject({ ContentType: 'application/json', Metadata: { run: 'r-1' }, ContentLength: 2 });
    expect(head.LastModified).toBeInstanceOf(Date);
    expect(await text('report.json')).toMatchObject({ ContentType: 'application/json', Metadata: { run: 'r-1' } });
  });

  it('a missing key is NoSuchKey 404 for GetObject and NotFound 404 for HeadObject', async () => {
    const error = await expectAwsError(text('missing'), 'NoSuchKey', 404);
    expect(error.Key).toBe('missing');
    await expectAwsError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'missing' })), 'NotFound', 404);
  });

  it('Range: 206 with Content-Range for a slice, a suffix and an open end; past the end is InvalidRange 416', async () => {
    await put('digits', '0123456789');
    const slice = await text('digits', { Range: 'bytes=2-5' });
    expect(slice.$metadata.httpStatusCode).toBe(206);
    expect({ body: await slice.Body?.transformToString(), range: slice.ContentRange, length: slice.ContentLength }).toEqual({
      body: '2345',
      range: 'bytes 2-5/10',
      length: 4,
    });
    const suffix = await text('digits', { Range: 'bytes=-3' });
    expect({ body: await suffix.Body?.transformToString(), range: suffix.ContentRange }).toEqual({ body: '789', range: 'bytes 7-9/10' });
    const openEnd = await text('digits', { Range: 'bytes=8-' });
    expect({ body: await openEnd.Body?.transformToString(), range: openEnd.ContentRange }).toEqual({ body: '89', range: 'bytes 8-9/10' });
    const error = await expectAwsError(text('digits', { Range: 'bytes=10-20' }), 'InvalidRange', 416);
    expect(error.message).toBe('The requested range is not satisfiable');
  });

  it('takes a single PutObject larger than the 16 MiB the other services read, as a fleet run of 100,000 devices writes', async () => {
    const body = Buffer.alloc(17 * MiB, 'a');
    await put('large', body);
    expect((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'large' }))).ContentLength).toBe(body.length);
  });

  it('an object of several MiB comes back byte for byte: whole, a range across MiB boundaries, and a copy of it', async () => {
    const body = bytes(3 * MiB + 5);
    await put('chunked', body);
    const whole = await text('chunked', { ChecksumMode: 'ENABLED' });
    expect(Buffer.from(await whole.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(whole.ChecksumCRC32).toBe(crc32Base64(body));
    const slice = await text('chunked', { Range: `bytes=${MiB - 2}-${2 * MiB + 1}` });
    expect(Buffer.from(await slice.Body!.transformToByteArray()).equals(body.subarray(MiB - 2, 2 * MiB + 2))).toBe(true);
    const copy = await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'chunked-copy', CopySource: `${BUCKET}/chunked` }));
    expect(copy.CopyObjectResult?.ETag).toBe(`"${md5(body)}"`);
    expect(Buffer.from(await (await text('chunked-copy')).Body!.transformToByteArray()).equals(body)).toBe(true);
  });

  it('keys keep their exact form (spaces, unicode, slashes, a trailing slash) and list in byte order', async () => {
    const keys = ['dir/', 'dir//double', 'dir/a b+c.txt', 'ünïcødé/☃.csv'];
    for (const key of keys) await put(key, key);
    for (const key of keys) expect(await (await text(key)).Body?.transformToString()).toBe(key);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect(listed.Contents?.map((object) => object.Key)).toEqual(keys);
  });

  it('CopyObject copies bytes and metadata; copying onto itself without REPLACE is InvalidRequest', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'source', Body: 'payload', ContentType: 'text/plain', Metadata: { a: '1' } }),
    );
    const copy = await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copies/target', CopySource: `${BUCKET}/source` }));
    expect(copy.CopyObjectResult?.ETag).toBe(`"${md5(Buffer.from('payload'))}"`);
    const target = await text('copies/target');
    expect({ body: await target.Body?.transformToString(), type: target.ContentType, metadata: target.Metadata }).toEqual({
      body: 'payload',
      type: 'text/plain',
      metadata: { a: '1' },
    });
    await expectAwsError(
      s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'source', CopySource: `${BUCKET}/source` })),
      'InvalidRequest',
      400,
    );
  });

  it('DeleteObject removes a key (and succeeds for a missing one); DeleteObjects removes several, with the SDK checksum', async () => {
    for (const key of ['a', 'b', 'c', 'd']) await put(key, key);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'a' }));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'never-there' }));
    const result = await s3.send(
      new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'b' }, { Key: 'c' }, { Key: 'not-there' }] } }),
    );
    expect(sent.at(-1)?.headers['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    expect(result.Deleted?.map((deleted) => deleted.Key)).toEqual(['b', 'c', 'not-there']);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect(listed.Contents?.map((object) => object.Key)).toEqual(['d']);
  });
});

describe('S3 ListObjectsV2', () => {
  beforeEach(async () => {
    for (const key of ['a/1', 'a/2', 'a/b/3', 'b/1', 'c', 'd', 'e/1']) await put(key, key);
  });

  it('pages with MaxKeys and continuation tokens, CommonPrefixes counting as keys', async () => {
    const pages = [];
    for await (const page of paginateListObjectsV2({ client: s3, pageSize: 2 }, { Bucket: BUCKET, Delimiter: '/' })) {
      pages.push({
        keys: page.Contents?.map((object) => object.Key) ?? [],
        prefixes: page.CommonPrefixes?.map((prefix) => prefix.Prefix) ?? [],
        count: page.KeyCount,
        truncated: page.IsTruncated,
      });
    }
    expect(pages).toEqual([
      { keys: [], prefixes: ['a/', 'b/'], count: 2, truncated: true },
      { keys: ['c', 'd'], prefixes: [], count: 2, truncated: true },
      { keys: [], prefixes: ['e/'], count: 1, truncated: false },
    ]);
  });

  it('Prefix with a delimiter lists one level; StartAfter skips keys', async () => {
    const level = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'a/', Delimiter: '/' }));
    expect({ keys: level.Contents?.map((object) => object.Key), prefixes: level.CommonPrefixes?.map((prefix) => prefix.Prefix) }).toEqual({
      keys: ['a/1', 'a/2'],
      prefixes: ['a/b/'],
    });
    const after = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, StartAfter: 'b/1' }));
    expect(after.Contents?.map((object) => object.Key)).toEqual(['c', 'd', 'e/1']);
    expect(after.Contents?.[0]).toMatchObject({ Size: 1, ETag: `"${md5(Buffer.from('c'))}"`, StorageClass: 'STANDARD' });
  });

  it('keys past U+FFFF sort in UTF-8 byte order, and one after a common prefix is rolled up with it', async () => {
    for (const key of ['a/\u{1F600}', 'a/\uFF04', 'f\u{1F600}', 'f\uFF04']) await put(key, key);
    const level = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Delimiter: '/' }));
    expect({ keys: level.Contents?.map((object) => object.Key), prefixes: level.CommonPrefixes?.map((prefix) => prefix.Prefix) }).toEqual({
      keys: ['c', 'd', 'f\uFF04', 'f\u{1F600}'],
      prefixes: ['a/', 'b/', 'e/'],
    });
  });

  it('a continuation token the emulator did not issue is InvalidArgument 400', async () => {
    await expectAwsError(
      s3.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: 'bm90LWEtdG9rZW4=' })),
      'InvalidArgument',
      400,
    );
  });
});

describe('S3 multipart uploads', () => {
  it("lib-storage's Upload sends > 5 MiB parts; the object has S3's multipart ETag and a composite CRC32", async () => {
    const body = bytes(11 * MiB);
    const upload = new Upload({ client: s3, params: { Bucket: BUCKET, Key: 'big.bin', Body: body }, partSize: 5 * MiB, queueSize: 2 });
    const result = await upload.done();
    const partMd5s = [body.subarray(0, 5 * MiB), body.subarray(5 * MiB, 10 * MiB), body.subarray(10 * MiB)].map((part) =>
      createHash('md5').update(part).digest(),
    );
    expect(result.ETag).toBe(`"${md5(Buffer.concat(partMd5s))}-3"`);
    const checksummedParts = sent.filter(
      (request) =>
        request.method === 'PUT' &&
        (request.headers['x-amz-checksum-crc32'] !== undefined || request.headers['x-amz-trailer'] === 'x-amz-checksum-crc32'),
    );
    expect(checksummedParts).toHaveLength(3);
    const object = await text('big.bin', { ChecksumMode: 'ENABLED' });
    expect(Buffer.from(await object.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(object.ChecksumCRC32).toMatch(/^[A-Za-z0-9+/]+={0,2}-3$/);
    expect(object.ChecksumType).toBe('COMPOSITE');
  });

  it('Complete checks the parts: an unknown ETag is InvalidPart, a small part before the last is EntityTooSmall', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'parts' }));
    const first = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'parts', UploadId, PartNumber: 1, Body: 'small' }));
    const second = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'parts', UploadId, PartNumber: 2, Body: 'last' }));
    await expectAwsError(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: 'parts',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"0123"' }] },
        }),
      ),
      'InvalidPart',
      400,
    );
    await expectAwsError(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: 'parts',
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: first.ETag },
              { PartNumber: 2, ETag: second.ETag },
            ],
          },
        }),
      ),
      'EntityTooSmall',
      400,
    );
    const single = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'parts',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: first.ETag }] },
      }),
    );
    expect(single.ETag).toBe(`"${md5(createHash('md5').update('small').digest())}-1"`);
    expect(await (await text('parts')).Body?.transformToString()).toBe('small');
  });

  it('AbortMultipartUpload ends the upload: a later part or Complete is NoSuchUpload 404', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'aborted' }));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'aborted', UploadId }));
    await expectAwsError(
      s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'aborted', UploadId, PartNumber: 1, Body: 'x' })),
      'NoSuchUpload',
      404,
    );
    await expectAwsError(s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'aborted', UploadId })), 'NoSuchUpload', 404);
    await expectAwsError(text('aborted'), 'NoSuchKey', 404);
  });
});

describe('S3 presigned URLs', () => {
  it('a presigned PUT and a presigned GET work through plain fetch, the credential in the query string', async () => {
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/report.csv' }), { expiresIn: 300 });
    expect(new URL(putUrl).searchParams.get('X-Amz-Credential')).toMatch(/\/s3\/aws4_request$/);
    const uploaded = await fetch(putUrl, { method: 'PUT', body: 'a,b\n1,2\n' });
    expect(uploaded.status).toBe(200);
    expect(uploaded.headers.get('etag')).toBe(`"${md5(Buffer.from('a,b\n1,2\n'))}"`);

    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/report.csv' }), { expiresIn: 300 });
    const downloaded = await fetch(getUrl);
    expect({ status: downloaded.status, body: await downloaded.text() }).toEqual({ status: 200, body: 'a,b\n1,2\n' });
  });

  it('an expired presigned URL is AccessDenied 403', async () => {
    let now = Date.UTC(2026, 11, 7, 3, 0, 0);
    s3.destroy();
    await cloud.close();
    await start({ clock: { now: () => now } });
    const getUrl = await getSignedUrl(s3, new ListBucketsCommand({}), { expiresIn: 60, signingDate: new Date(now) });
    expect((await fetch(getUrl)).status).toBe(200);
    now += 61_000;
    const expired = await fetch(getUrl);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toMatch(/<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
  });
});

describe('S3 to EventBridge', () => {
  it('a bucket with EventBridge enabled publishes "Object Created" for PutObject, CopyObject and CompleteMultipartUpload', async () => {
    await put('before', 'not published: EventBridge is not enabled yet');
    await s3.send(
      new PutBucketNotificationConfigurationCommand({ Bucket: BUCKET, NotificationConfiguration: { EventBridgeConfiguration: {} } }),
    );
    expect((await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: BUCKET }))).EventBridgeConfiguration).toEqual({});

    const created = await put('manifests/fleet.csv', 'hello');
    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'manifests/copy.csv', CopySource: `${BUCKET}/manifests/fleet.csv` }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'manifests/big.csv' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'manifests/big.csv', UploadId, PartNumber: 1, Body: 'x' }));
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'manifests/big.csv',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );

    expect(published.map((event) => [event.detail.reason, (event.detail.object as { key: string }).key])).toEqual([
      ['PutObject', 'manifests/fleet.csv'],
      ['CopyObject', 'manifests/copy.csv'],
      ['CompleteMultipartUpload', 'manifests/big.csv'],
    ]);
    const [first] = published;
    expect(first).toEqual({
      source: 'aws.s3',
      detailType: 'Object Created',
      region: REGION,
      resources: [`arn:aws:s3:::${BUCKET}`],
      detail: {
        version: '0',
        bucket: { name: BUCKET },
        object: {
          key: 'manifests/fleet.csv',
          size: 5,
          etag: created.ETag?.replaceAll('"', ''),
          sequencer: expect.stringMatching(/^[0-9A-F]{16}$/),
        },
        'request-id': expect.any(String),
        requester: ACCOUNT,
        'source-ip-address': '127.0.0.1',
        reason: 'PutObject',
      },
    });
    const sequencers = published.map((event) => (event.detail.object as { sequencer: string }).sequencer);
    expect([...sequencers].sort()).toEqual(sequencers);
    expect(new Set(sequencers).size).toBe(3);
  });

  it('an empty notification configuration turns EventBridge off; an SNS destination is refused', async () => {
    await s3.send(
      new PutBucketNotificationConfigurationCommand({ Bucket: BUCKET, NotificationConfiguration: { EventBridgeConfiguration: {} } }),
    );
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: BUCKET, NotificationConfiguration: {} }));
    expect((await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: BUCKET }))).EventBridgeConfiguration).toBeUndefined();
    await put('quiet', 'x');
    expect(published).toEqual([]);
    await expectAwsError(
      s3.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: BUCKET,
          NotificationConfiguration: {
            TopicConfigurations: [{ TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:topic`, Events: ['s3:ObjectCreated:*'] }],
          },
        }),
      ),
      'InvalidArgument',
      400,
    );
  });
});

describe('S3 in the local cloud', () => {
  it('keeps the bytes of live objects only: replaced, deleted and aborted bytes leave the state database', async () => {
    const directory = mkdtempSync(join(tmpdir(), 's3-blobs-'));
    try {
      s3.destroy();
      await cloud.close();
      await start({ stateDatabase: join(directory, 'state.sqlite') });
      await s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
      await put('kept', 'kept');
      await put('replaced', 'first');
      await put('replaced', 'second');
      await put('deleted', 'gone');
      await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'deleted' }));
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'aborted' }));
      await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'aborted', UploadId, PartNumber: 1, Body: 'part' }));
      await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'aborted', UploadId }));
      s3.destroy();
      await cloud.close();
      const database = new DatabaseSync(join(directory, 'state.sqlite'), { readOnly: true });
      const blobs = database
        .prepare("SELECT group_concat(CAST(data AS TEXT), '') AS data FROM blob_chunks GROUP BY id")
        .all()
        .map((row) => String(row.data));
      database.close();
      expect(blobs.sort()).toEqual(['kept', 'second']);
      await start();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('objects and their bytes survive a restart on the same state database, and reset clears them', async () => {
    const directory = mkdtempSync(join(tmpdir(), 's3-state-'));
    try {
      s3.destroy();
      await cloud.close();
      await start({ stateDatabase: join(directory, 'state.sqlite') });
      await s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
      await put('kept', 'bytes on disk');
      await put('replaced', 'first');
      await put('replaced', 'second');
      s3.destroy();
      await cloud.close();
      await start({ stateDatabase: join(directory, 'state.sqlite') });
      expect(await (await text('kept')).Body?.transformToString()).toBe('bytes on disk');
      expect(await (await text('replaced')).Body?.transformToString()).toBe('second');
      expect(cloud.admin.state().buckets?.[0]?.objects.map((object) => object.key)).toEqual(['kept', 'replaced']);
      await cloud.admin.reset();
      await expectAwsError(s3.send(new HeadBucketCommand({ Bucket: BUCKET })), 'NotFound', 404);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('every S3 operation is one that quotas and fault tables can name', () => {
    expect(S3_OPERATION_NAMES.length).toBeGreaterThan(0);
    expect(EMULATED_OPERATIONS).toEqual(expect.arrayContaining([...S3_OPERATION_NAMES]));
  });

  it('faults target S3 operations by name: an injected throttle is SlowDown 503', async () => {
    cloud.admin.configureFaults({ throttle: { PutObject: 1 } });
    await expectAwsError(put('throttled', 'x'), 'SlowDown', 503);
    expect(cloud.admin.metrics().PutObject).toMatchObject({ throttled: 1 });
  });

  it('a virtual-hosted request names the bucket in Host', async () => {
    await put('hosted', 'by host');
    const { port } = new URL(cloud.url);
    const response = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
      const request = httpRequest(
        { host: '127.0.0.1', port, path: '/hosted', headers: { authorization: AUTHORIZATION, host: `${BUCKET}.localhost:${port}` } },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('end', () => resolve({ status: incoming.statusCode, body: Buffer.concat(chunks).toString() }));
        },
      );
      request.on('error', reject);
      request.end();
    });
    expect(response).toEqual({ status: 200, body: 'by host' });
  });

  it('an operation the local cloud does not emulate is NotImplemented 501, not misread as another', async () => {
    const response = await fetch(`${cloud.url}/${BUCKET}?versioning`, {
      method: 'PUT',
      headers: { authorization: AUTHORIZATION },
      body: '<VersioningConfiguration/>',
    });
    expect(response.status).toBe(501);
    expect(await response.text()).toContain('<Code>NotImplemented</Code>');
  });
});
