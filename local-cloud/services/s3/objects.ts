import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { BucketRecord, S3Checksum, S3ObjectRecord, Stored } from '../../store.ts';
import { headerValue } from '../../wire/http-bindings.ts';
import { parseXml } from '../../wire/rest-xml.ts';
import type { ServiceResponse } from '../../wire/service.ts';
import {
  checksumHeaders,
  checksumMembers,
  commitObject,
  header,
  isoDate,
  md5Hex,
  noContent,
  requireBucket,
  type S3Call,
  type S3Service,
  s3XmlResponse,
} from './call.ts';
import { checksumOf } from './checksums.ts';
import { invalidRequest, malformedXml, noSuchKey, notImplemented, s3Error } from './errors.ts';
import { readPayload } from './payload.ts';

/**
 * The representation headers S3 keeps with an object and sends back on GET and HEAD; GetObject's
 * `response-<header>` query parameters override them in one response.
 */
const REPRESENTATION_HEADERS = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires'];
const MAX_DELETE_KEYS = 1000;

/**
 * The headers to keep with a new object. `aws-chunked` is a transfer framing, not the object's
 * encoding: S3 drops it. Without a Content-Type S3 stores `binary/octet-stream`.
 */
export function storedHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const stored: Record<string, string> = { 'content-type': 'binary/octet-stream' };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || !(REPRESENTATION_HEADERS.includes(name) || name.startsWith('x-amz-meta-'))) continue;
    stored[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const encoding = stored['content-encoding']
    ?.split(',')
    .map((value) => value.trim())
    .filter((value) => value !== 'aws-chunked' && value !== '');
  if (encoding?.length) stored['content-encoding'] = encoding.join(',');
  else delete stored['content-encoding'];
  return stored;
}

/** S3 gives every new object a checksum: the one the request supplied, else a CRC-64/NVME of its own. */
export async function fullObjectChecksum(
  data: Uint8Array | Iterable<Uint8Array>,
  supplied?: Pick<S3Checksum, 'algorithm' | 'value'>,
): Promise<S3Checksum> {
  return supplied
    ? { ...supplied, type: 'FULL_OBJECT' }
    : { algorithm: 'CRC64NVME', value: await checksumOf('CRC64NVME', data), type: 'FULL_OBJECT' };
}

export async function putObject(service: S3Service, call: S3Call): Promise<ServiceResponse> {
  const { context } = service;
  requireBucket(context, call.bucket);
  const payload = await readPayload(call.headers, call.request.body);
  const checksum = await fullObjectChecksum(payload.data, payload.checksum);
  // Everything async is done: from here on the write is one event-loop turn.
  const bucket = requireBucket(context, call.bucket);
  if (header(call, 'if-none-match') === '*' && context.store.state.objects.in(bucket.name).has(call.key)) {
    throw s3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', {
      Condition: 'If-None-Match',
    });
  }
  const object: S3ObjectRecord = {
    key: call.key,
    blobId: context.store.blobs.put(payload.data),
    size: payload.data.length,
    etag: `"${md5Hex([payload.data])}"`,
    lastModified: context.clock.now(),
    headers: storedHeaders(call.headers),
    checksum,
  };
  commitObject(service, bucket, object, 'PutObject', call.request);
  return { status: 200, headers: { etag: object.etag, ...checksumHeaders(object) } };
}

function requireObject(service: S3Service, call: S3Call): Stored<S3ObjectRecord> {
  const bucket = requireBucket(service.context, call.bucket);
  const object = service.context.store.state.objects.in(bucket.name).get(call.key);
  if (!object) throw noSuchKey(call.key);
  return object;
}

function objectHeaders(object: Stored<S3ObjectRecord>): Record<string, string> {
  return { ...object.headers, etag: object.etag, 'last-modified': new Date(object.lastModified).toUTCString(), 'accept-ranges': 'bytes' };
}

/**
 * `bytes=a-b`, `bytes=a-` or `bytes=-n` within `size`; 'unsatisfiable' when it starts past the end.
 * Anything else (several ranges, a malformed header) is ignored and the whole object sent, as S3 does.
 */
function parseRange(value: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const match = value === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    return suffix === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

export function getObject(service: S3Service, call: S3Call, { withBody }: { withBody: boolean }): ServiceResponse {
  const object = requireObject(service, call);
  const headers = objectHeaders(object);
  const range = parseRange(header(call, 'range'), object.size);
  if (range === 'unsatisfiable') {
    throw s3Error('InvalidRange', 416, 'The requested range is not satisfiable', {
      RangeRequested: header(call, 'range') ?? '',
      ActualObjectSize: object.size,
    });
  }
  // A checksum describes the whole object, so a part of it comes without one.
  if (!range && header(call, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') Object.assign(headers, checksumHeaders(object));
  for (const name of REPRESENTATION_HEADERS) {
    const override = call.request.query.get(`response-${name}`);
    if (override !== null) headers[name] = override;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? object.size - 1;
  headers['content-length'] = String(end - start + 1);
  if (range) headers['content-range'] = `bytes ${start}-${end}/${object.size}`;
  const status = range ? 206 : 200;
  if (!withBody) return { status, headers };
  return { status, headers, body: objectBytes(service, object.blobId, start, end + 1) };
}

/**
 * The bytes from `start` to `end` (exclusive) as they are read from the store, so that a large object is never
 * held whole; an object deleted while it is sent breaks the response off, as its length can no longer be kept.
 */
function objectBytes(service: S3Service, blobId: string, start: number, end: number): Readable {
  const { blobs } = service.context.store;
  return Readable.from(
    (function* () {
      let sent = 0;
      for (const chunk of blobs.read(blobId, start, end)) {
        sent += chunk.length;
        yield chunk;
      }
      if (sent < end - start) throw new Error(`The object's bytes were deleted while they were sent (${sent} of ${end - start})`);
    })(),
    { objectMode: false },
  );
}

/** `x-amz-copy-source`: `bucket/key` or `/bucket/key`, percent-encoded. */
function copySource(call: S3Call): { bucket: string; key: string } {
  const value = header(call, 'x-amz-copy-source') ?? '';
  const [path = '', query] = value.replace(/^\//, '').split('?');
  if (query !== undefined) throw notImplemented('versioned copy sources (versionId): buckets are not versioned');
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1)
    throw invalidRequest('Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
  try {
    return { bucket: decodeURIComponent(path.slice(0, slash)), key: decodeURIComponent(path.slice(slash + 1)) };
  } catch {
    throw invalidRequest('Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
  }
}

export async function copyObject(service: S3Service, call: S3Call): Promise<ServiceResponse> {
  const { context } = service;
  const source = copySource(call);
  requireBucket(context, call.bucket);
  const sourceObject = requireObject(service, { ...call, ...source });
  const replace = header(call, 'x-amz-metadata-directive')?.toUpperCase() === 'REPLACE';
  if (!replace && source.bucket === call.bucket && source.key === call.key) {
    throw invalidRequest(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const { blobs } = context.store;
  // Copied now, in the database: the source may be replaced or deleted while the checksum is made.
  const blobId = blobs.join([sourceObject.blobId]);
  let checksum: S3Checksum;
  let bucket: Stored<BucketRecord>;
  try {
    // A composite checksum names the source's parts; the copy is one part, so S3 checksums it anew.
    checksum = sourceObject.checksum?.type === 'FULL_OBJECT' ? sourceObject.checksum : await fullObjectChecksum(blobs.read(blobId));
    bucket = requireBucket(context, call.bucket);
  } catch (error) {
    blobs.delete(blobId);
    throw error;
  }
  const object: S3ObjectRecord = {
    key: call.key,
    blobId,
    size: sourceObject.size,
    etag: `"${md5Hex(blobs.read(blobId))}"`,
    lastModified: context.clock.now(),
    headers: replace ? storedHeaders(call.headers) : { ...sourceObject.headers },
    checksum,
  };
  commitObject(service, bucket, object, 'CopyObject', call.request);
  return s3XmlResponse('CopyObjectResult', { ETag: object.etag, LastModified: isoDate(object.lastModified), ...checksumMembers(object) });
}

/** Deleting a key that does not exist succeeds, as on an unversioned bucket. */
function deleteKey(service: S3Service, bucketName: string, key: string): void {
  const { store } = service.context;
  const objects = store.state.objects.in(requireBucket(service.context, bucketName).name);
  const object = objects.get(key);
  if (!object) return;
  objects.delete(key);
  store.blobs.delete(object.blobId);
}

export function deleteObject(service: S3Service, call: S3Call): ServiceResponse {
  deleteKey(service, call.bucket, call.key);
  return noContent();
}

export async function deleteObjects(service: S3Service, call: S3Call): Promise<ServiceResponse> {
  requireBucket(service.context, call.bucket);
  const payload = await readPayload(call.headers, call.request.body);
  if (!payload.checksum && headerValue(call.headers, 'content-md5') === undefined) {
    throw invalidRequest('Missing required header for this request: Content-MD5 OR x-amz-checksum-*');
  }
  const document = parseXml(payload.data, ['Object'])?.Delete as { Object?: { Key?: unknown }[]; Quiet?: unknown } | undefined;
  const keys = document?.Object?.map((entry) => entry.Key);
  if (!keys || keys.length === 0 || keys.length > MAX_DELETE_KEYS || keys.some((key) => typeof key !== 'string' || key === ''))
    throw malformedXml();
  for (const key of keys as string[]) deleteKey(service, call.bucket, key);
  const quiet = document?.Quiet === 'true';
  return s3XmlResponse('DeleteResult', quiet ? {} : { Deleted: (keys as string[]).map((key) => ({ Key: key })) });
}
