import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { s3 } from './clients/s3.ts';

/**
 * An object's bytes as they arrive, for the fleet run's steps that read a manifest or result files of any size.
 */
export async function readObjectStream(bucket: string, key: string): Promise<AsyncIterable<Uint8Array>> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  // In Node the SDK answers every object's body as a Readable, whose chunks are its bytes as they arrive.
  return object.Body as Readable;
}

/** A small object's JSON, read whole. */
export async function readObjectJson<T>(bucket: string, key: string): Promise<T> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of await readObjectStream(bucket, key)) chunks.push(chunk);
  return JSON.parse(new TextDecoder().decode(Buffer.concat(chunks))) as T;
}

/** The object's lines, read as they arrive. */
export async function* readObjectLines(bucket: string, key: string): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of await readObjectStream(bucket, key)) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = lines.pop()!;
    yield* lines;
  }
  rest += decoder.decode();
  if (rest !== '') yield rest;
}

/** S3's smallest part but the last is 5 MiB; larger parts mean fewer calls, each held in memory while it is sent. */
const PART_BYTES = 8 * 1024 * 1024;

/**
 * Writes an object from text produced as it is written: one PutObject when it fits in one part, else a multipart
 * upload, one part in memory at a time. Each part is a Buffer, so the SDK retries a throttled call (it does not
 * retry a streamed body). Not lib-storage's Upload: it would take validateManifest's bundle past 400 KiB.
 */
export async function writeObjectStream(
  bucket: string,
  key: string,
  text: AsyncIterable<string> | string,
  contentType: string,
): Promise<void> {
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: a string iterated a character at a time makes the same bytes
  const parts = inParts(typeof text === 'string' ? [text] : text)[Symbol.asyncIterator]();
  const first = await parts.next();
  let next = await parts.next();
  if (next.done) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: first.value ?? Buffer.alloc(0), ContentType: contentType }));
    return;
  }
  const { UploadId } = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType, ChecksumAlgorithm: 'CRC32' }),
  );
  try {
    const uploaded: CompletedPart[] = [];
    const upload = async (Body: Buffer) => {
      const PartNumber = uploaded.length + 1;
      const { ETag, ChecksumCRC32 } = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber, Body, ChecksumAlgorithm: 'CRC32' }),
      );
      uploaded.push({ PartNumber, ETag, ChecksumCRC32 });
    };
    await upload(first.value!);
    for (; !next.done; next = await parts.next()) await upload(next.value);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: uploaded } }));
  } catch (error) {
    // The bucket's lifecycle rule removes an upload this leaves after a day.
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined);
    throw error;
  }
}

/** The text's UTF-8 bytes in parts of PART_BYTES, the last shorter. */
async function* inParts(text: AsyncIterable<string> | Iterable<string>): AsyncGenerator<Buffer> {
  const part = Buffer.allocUnsafe(PART_BYTES);
  let filled = 0;
  for await (const piece of text) {
    let bytes = Buffer.from(piece);
    while (filled + bytes.length >= PART_BYTES) {
      const taken = PART_BYTES - filled;
      bytes.copy(part, filled, 0, taken);
      yield Buffer.from(part);
      filled = 0;
      bytes = bytes.subarray(taken);
    }
    filled += bytes.copy(part, filled);
  }
  yield part.subarray(0, filled);
}
