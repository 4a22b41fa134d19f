import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useServiceCloud } from '../../../support/service-cloud.ts';

/**
 * The fleet run's object reads and writes (aws/fleet-streams.ts, aws/json-array-stream.ts) against the local cloud's
 * S3: what is written comes back byte for byte, in one PutObject or in 8 MiB parts, and what is read arrives line by
 * line or item by item whatever the chunks' boundaries.
 */
const cloud = useServiceCloud();
let s3: S3Client;
let bucket: string;
beforeAll(() => {
  bucket = (cloud.project.config.provider as { environment: Record<string, string> }).environment.FLEET_BUCKET as string;
  s3 = new S3Client({
    endpoint: cloud.url,
    region: cloud.project.region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});
afterAll(() => s3.destroy());

const streams = () => import('../../../../functions/aws/fleet-streams.ts');
const put = (key: string, body: string | Uint8Array) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
const get = async (key: string) => {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { contentType: object.ContentType, text: await object.Body?.transformToString('utf8') };
};
const calls = (operation: string) => cloud.cloud.admin.metrics()[operation]?.calls ?? 0;
const collect = async <T>(items: AsyncIterable<T>) => {
  const collected: T[] = [];
  for await (const item of items) collected.push(item);
  return collected;
};

/** Lines of two- and three-byte characters past 8 MiB in all, so that characters straddle the parts and the chunks read. */
function manyLines(bytes: number): string[] {
  const lines: string[] = [];
  let total = 0;
  for (let index = 0; total < bytes; index++) {
    const line = `{"thingName":"sensor-${index}","note":"ü€"}`;
    lines.push(line);
    total += Buffer.byteLength(line) + 1;
  }
  return lines;
}

/** Past 8 MiB through the SDK and the local S3, checksummed on both sides: seconds of work on a loaded machine. */
const MULTIPART = { timeout: 60_000 };

describe('writing an object', () => {
  it('writes text that fits one part with one PutObject, under its content type', async () => {
    const { writeObjectStream } = await streams();
    const before = { put: calls('PutObject'), multipart: calls('CreateMultipartUpload') };

    await writeObjectStream(bucket, 'small.json', '{"a":"ü"}', 'application/json');
    await writeObjectStream(bucket, 'empty.txt', (async function* () {})(), 'text/plain');

    expect(await get('small.json')).toEqual({ contentType: 'application/json', text: '{"a":"ü"}' });
    expect(await get('empty.txt')).toEqual({ contentType: 'text/plain', text: '' });
    expect(calls('PutObject') - before.put).toBe(2);
    expect(calls('CreateMultipartUpload') - before.multipart).toBe(0);
  });

  it(
    'writes text past 8 MiB as a multipart upload of full parts and a shorter last one, byte for byte, and reads it back line by line',
    MULTIPART,
    async () => {
      const { readObjectLines, writeObjectStream } = await streams();
      const lines = manyLines(8 * 1024 * 1024 + 100);
      const before = { put: calls('PutObject'), parts: calls('UploadPart'), completed: calls('CompleteMultipartUpload') };

      await writeObjectStream(
        bucket,
        'large.jsonl',
        (async function* () {
          for (const [index, line] of lines.entries()) yield index === lines.length - 1 ? line : `${line}\n`;
        })(),
        'application/x-ndjson',
      );

      expect(calls('UploadPart') - before.parts).toBe(2);
      expect(calls('CompleteMultipartUpload') - before.completed).toBe(1);
      expect(calls('PutObject') - before.put).toBe(0);
      const written = await get('large.jsonl');
      expect(written.contentType).toBe('application/x-ndjson');
      expect(written.text === lines.join('\n')).toBe(true);
      const read = await collect(readObjectLines(bucket, 'large.jsonl'));
      expect(read.length).toBe(lines.length);
      expect(read.every((line, index) => line === lines[index])).toBe(true);
    },
  );

  it('aborts the multipart upload when a part cannot be completed, and throws its error', MULTIPART, async () => {
    const { writeObjectStream } = await streams();
    const text = 'x'.repeat(8 * 1024 * 1024 + 1);
    const before = calls('AbortMultipartUpload');
    cloud.cloud.admin.configureFaults({ serverError: { CompleteMultipartUpload: 1 } });

    await expect(writeObjectStream(bucket, 'aborted.txt', text, 'text/plain')).rejects.toMatchObject({ $fault: 'server' });

    expect(calls('AbortMultipartUpload') - before).toBe(1);
    await expect(get('aborted.txt')).rejects.toMatchObject({ name: 'NoSuchKey' });
  });
});

describe('reading an object', () => {
  it('reads lines, the last one with or without a line break, and none of an empty object', async () => {
    const { readObjectLines } = await streams();
    await put('lines.txt', 'a\nü\n\nlast');
    await put('ended.txt', 'a\nb\n');
    await put('empty.txt', '');

    expect(await collect(readObjectLines(bucket, 'lines.txt'))).toEqual(['a', 'ü', '', 'last']);
    expect(await collect(readObjectLines(bucket, 'ended.txt'))).toEqual(['a', 'b']);
    expect(await collect(readObjectLines(bucket, 'empty.txt'))).toEqual([]);
  });

  it('reads a small JSON object whole', async () => {
    const { readObjectJson } = await streams();
    await put('small.json', '{"devices":["ü",2]}');

    expect(await readObjectJson(bucket, 'small.json')).toEqual({ devices: ['ü', 2] });
  });

  it("reads a JSON array's items one by one, from an array that ends in the object's last chunk or before trailing space", async () => {
    const { readObjectArrayItems } = await import('../../../../functions/aws/json-array-stream.ts');
    const items = manyLines(100_000).map((line) => JSON.parse(line) as unknown);
    await put('results.json', JSON.stringify(items));
    await put('spaced.json', '[{"a":1},\n {"b":[2]}]\n');
    await put('none.json', '[]');

    const read = await collect(readObjectArrayItems(bucket, 'results.json'));
    expect(read.length).toBe(items.length);
    expect(read).toEqual(items);
    expect(await collect(readObjectArrayItems(bucket, 'spaced.json'))).toEqual([{ a: 1 }, { b: [2] }]);
    expect(await collect(readObjectArrayItems(bucket, 'none.json'))).toEqual([]);
  });

  it('fails on an array cut short rather than answering the items before the cut as all', async () => {
    const { readObjectArrayItems } = await import('../../../../functions/aws/json-array-stream.ts');
    await put('truncated.json', '[{"a":1},{"b":');

    await expect(collect(readObjectArrayItems(bucket, 'truncated.json'))).rejects.toThrow('not all the data was received');
  });
});
