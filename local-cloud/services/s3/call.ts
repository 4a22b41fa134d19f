import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { BucketRecord, S3ObjectRecord, StateStore, Stored } from '../../store.ts';
import type { LocalCloudContext } from '../../wire/context.ts';
import { headerValue } from '../../wire/http-bindings.ts';
import { xmlResponse } from '../../wire/rest-xml.ts';
import type { ServiceRequest, ServiceResponse } from '../../wire/service.ts';
import { checksumHeader } from './checksums.ts';
import { noSuchBucket } from './errors.ts';

export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** A request addressed to a bucket (and a key), whichever addressing style it used. */
export interface S3Call {
  request: ServiceRequest;
  /** The request's headers, with the `x-amz-*` ones a presigned URL carries in its query string. */
  headers: IncomingHttpHeaders;
  bucket: string;
  key: string;
}

export interface S3Service {
  context: LocalCloudContext;
  /** Hex, increasing: S3's `sequencer`, which orders the events of one key. */
  nextSequencer(): string;
}

export function header(call: S3Call, name: string): string | undefined {
  return headerValue(call.headers, name);
}

export function requireBucket(context: LocalCloudContext, name: string): Stored<BucketRecord> {
  const bucket = context.store.state.buckets.get(name);
  if (!bucket) throw noSuchBucket(name);
  return bucket;
}

export function s3XmlResponse(root: string, content: Record<string, unknown>, headers: Record<string, string> = {}): ServiceResponse {
  return xmlResponse(root, content, { namespace: S3_NAMESPACE, headers });
}

export function noContent(headers: Record<string, string> = {}): ServiceResponse {
  return { status: 204, headers };
}

export function md5Hex(chunks: Iterable<Uint8Array>): string {
  const hash = createHash('md5');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

/** ISO 8601 with milliseconds, as S3 writes dates in XML. */
export function isoDate(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** The stored object's checksum as response headers (`x-amz-checksum-<algorithm>`, `x-amz-checksum-type`). */
export function checksumHeaders(object: Pick<S3ObjectRecord, 'checksum'>): Record<string, string> {
  const { checksum } = object;
  return checksum ? { [checksumHeader(checksum.algorithm)]: checksum.value, 'x-amz-checksum-type': checksum.type } : {};
}

/** The stored object's checksum as the XML members of CopyObject and CompleteMultipartUpload results. */
export function checksumMembers(object: Pick<S3ObjectRecord, 'checksum'>): Record<string, string> {
  const { checksum } = object;
  return checksum ? { [`Checksum${checksum.algorithm}`]: checksum.value, ChecksumType: checksum.type } : {};
}

/**
 * Puts `object` in `bucket` in place of any object of its key, then, when the bucket sends its events
 * to EventBridge, publishes S3's "Object Created" event with `reason`.
 */
export function commitObject(
  service: S3Service,
  bucket: Stored<BucketRecord>,
  object: S3ObjectRecord,
  reason: ObjectCreatedReason,
  request: ServiceRequest,
): void {
  const { context } = service;
  const objects = context.store.state.objects.in(bucket.name);
  const replaced = objects.get(object.key);
  objects.set(object.key, object);
  if (replaced) context.store.blobs.delete(replaced.blobId);
  if (!bucket.eventBridge) return;
  context.events.publish({
    source: 'aws.s3',
    detailType: 'Object Created',
    region: bucket.region,
    resources: [`arn:aws:s3:::${bucket.name}`],
    detail: objectCreatedDetail(service, bucket, object, reason, request),
  });
}

export type ObjectCreatedReason = 'PutObject' | 'CopyObject' | 'CompleteMultipartUpload';

/** The `detail` of S3's "Object Created" EventBridge event. */
export interface ObjectCreatedDetail {
  version: '0';
  bucket: { name: string };
  /** `etag` without quotes, as S3 puts it in events; no `version-id`: buckets are not versioned here. */
  object: { key: string; size: number; etag: string; sequencer: string };
  'request-id': string;
  requester: string;
  'source-ip-address': string;
  reason: ObjectCreatedReason;
  [member: string]: unknown;
}

function objectCreatedDetail(
  service: S3Service,
  bucket: Stored<BucketRecord>,
  object: S3ObjectRecord,
  reason: ObjectCreatedReason,
  request: ServiceRequest,
): ObjectCreatedDetail {
  return {
    version: '0',
    bucket: { name: bucket.name },
    object: { key: object.key, size: object.size, etag: object.etag.replaceAll('"', ''), sequencer: service.nextSequencer() },
    'request-id': request.requestId,
    requester: service.context.accountId,
    // The local cloud listens on the loopback interface unless told otherwise.
    'source-ip-address': '127.0.0.1',
    reason,
  };
}

/** Forgets a multipart upload and the bytes of its parts (CompleteMultipartUpload has copied them, AbortMultipartUpload drops them). */
export function discardUpload(store: StateStore, bucketName: string, uploadId: string): void {
  const parts = store.state.parts.in(uploadId);
  for (const part of parts.values()) store.blobs.delete(part.blobId);
  parts.clear();
  store.state.uploads.in(bucketName).delete(uploadId);
}
