import type { IncomingHttpHeaders } from 'node:http';
import type { LocalCloudContext } from '../../wire/context.ts';
import { headerValue } from '../../wire/http-bindings.ts';
import { InjectedFault } from '../../wire/injected-fault.ts';
import { encodeRestXmlError, RestXmlError, restXmlRequestIdHeaders } from '../../wire/rest-xml.ts';
import type { EmulatedService, ServiceRequest, ServiceResponse } from '../../wire/service.ts';
import {
  createBucket,
  deleteBucket,
  getBucketLocation,
  getBucketNotificationConfiguration,
  headBucket,
  listBuckets,
  putBucketNotificationConfiguration,
} from './buckets.ts';
import type { S3Call, S3Service } from './call.ts';
import { notImplemented, s3Error } from './errors.ts';
import { listObjectsV2 } from './list-objects.ts';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, uploadPart } from './multipart.ts';
import { copyObject, deleteObject, deleteObjects, getObject, putObject } from './objects.ts';

export type { ObjectCreatedDetail } from './call.ts';

type Operation = (service: S3Service, call: S3Call) => ServiceResponse | Promise<ServiceResponse>;

/** The operations by name: `ResolvedOperation.name` is the key for quotas, faults and counters. */
const OPERATIONS = {
  ListBuckets: (service) => listBuckets(service),
  CreateBucket: createBucket,
  HeadBucket: headBucket,
  DeleteBucket: deleteBucket,
  GetBucketLocation: getBucketLocation,
  PutBucketNotificationConfiguration: putBucketNotificationConfiguration,
  GetBucketNotificationConfiguration: getBucketNotificationConfiguration,
  ListObjectsV2: listObjectsV2,
  DeleteObjects: deleteObjects,
  PutObject: putObject,
  CopyObject: copyObject,
  GetObject: (service, call) => getObject(service, call, { withBody: true }),
  HeadObject: (service, call) => getObject(service, call, { withBody: false }),
  DeleteObject: deleteObject,
  CreateMultipartUpload: createMultipartUpload,
  UploadPart: uploadPart,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
} satisfies Record<string, Operation>;

type OperationName = keyof typeof OPERATIONS;

/** The names S3 operations resolve to, for checks that faults and quotas can name each one. */
export const S3_OPERATION_NAMES = Object.keys(OPERATIONS) as readonly OperationName[];

/** Query parameters that select no other operation: listing options, `x-id` (the SDK's), the multipart upload's ids. */
const PLAIN_PARAMETERS = new Set([
  'prefix',
  'delimiter',
  'max-keys',
  'continuation-token',
  'start-after',
  'encoding-type',
  'fetch-owner',
  'x-id',
  'list-type',
  'uploadId',
  'partNumber',
]);
const PRESIGNING_PARAMETERS = new Set([
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-signedheaders',
  'x-amz-signature',
  'x-amz-security-token',
  'x-amz-content-sha256',
]);

/**
 * S3 names its operations by method, by whether the path has a key, and by a query "subresource"
 * (`?uploads`, `?delete`, `?notification`, …). A subresource the local cloud does not emulate is
 * refused with NotImplemented instead of being read as a plain PutObject or CreateBucket.
 */
function operationOf(
  method: string,
  hasBucket: boolean,
  hasKey: boolean,
  query: URLSearchParams,
  headers: IncomingHttpHeaders,
): OperationName {
  // `x-amz-*` parameters are a presigned URL's signing parameters and hoisted headers, never subresources.
  const subresources = [...query.keys()].filter(
    (name) => !PLAIN_PARAMETERS.has(name) && !name.startsWith('response-') && !name.toLowerCase().startsWith('x-amz-'),
  );
  const [subresource, ...others] = subresources;
  const wanted = `${method} ${!hasBucket ? 'service' : hasKey ? 'object' : 'bucket'}${subresource === undefined ? '' : `?${subresource}`}`;
  const copy = headerValue(headers, 'x-amz-copy-source') !== undefined;
  const uploadId = query.has('uploadId');
  const byRequest: Record<string, OperationName> = {
    'GET service': 'ListBuckets',
    'PUT bucket': 'CreateBucket',
    'HEAD bucket': 'HeadBucket',
    'DELETE bucket': 'DeleteBucket',
    'GET bucket': 'ListObjectsV2',
    'GET bucket?location': 'GetBucketLocation',
    'PUT bucket?notification': 'PutBucketNotificationConfiguration',
    'GET bucket?notification': 'GetBucketNotificationConfiguration',
    'POST bucket?delete': 'DeleteObjects',
    'PUT object': uploadId ? 'UploadPart' : copy ? 'CopyObject' : 'PutObject',
    'GET object': 'GetObject',
    'HEAD object': 'HeadObject',
    'DELETE object': uploadId ? 'AbortMultipartUpload' : 'DeleteObject',
    'POST object?uploads': 'CreateMultipartUpload',
    'POST object': 'CompleteMultipartUpload',
  };
  const name = others.length === 0 && Object.hasOwn(byRequest, wanted) ? byRequest[wanted] : undefined;
  const unsupported = !name
    ? `${wanted}${others.map((other) => `&${other}`).join('')}`
    : name === 'ListObjectsV2' && query.get('list-type') !== '2'
      ? 'ListObjects (version 1): use ListObjectsV2'
      : name === 'CompleteMultipartUpload' && !uploadId
        ? 'POST on an object without uploadId'
        : name === 'GetObject' && uploadId
          ? 'ListParts'
          : name === 'UploadPart' && copy
            ? 'UploadPartCopy'
            : (name === 'GetObject' || name === 'HeadObject') && query.has('partNumber')
              ? `${name} of one part (partNumber)`
              : undefined;
  if (unsupported !== undefined || !name) throw notImplemented(unsupported ?? wanted);
  return name;
}

/** `bucket.localhost[:port]` or `bucket.s3[.region].amazonaws.com`: a virtual-hosted request names its bucket in Host. */
const VIRTUAL_HOST = /^(.+?)\.(?:localhost|s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com)$/;

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Bucket and key of a path-style (`/bucket/key`) or virtual-hosted (`Host: bucket.…`, `/key`) request. */
function addressOf(request: ServiceRequest): { bucket: string; key: string } {
  const rawPath = request.rawPath ?? request.path;
  const hostname = (headerValue(request.headers, 'host') ?? '').replace(/:\d+$/, '');
  const virtual = VIRTUAL_HOST.exec(hostname);
  if (virtual) return { bucket: virtual[1] as string, key: decodeSegment(rawPath.slice(1)) };
  const slash = rawPath.indexOf('/', 1);
  if (slash < 0) return { bucket: decodeSegment(rawPath.slice(1)), key: '' };
  return { bucket: decodeSegment(rawPath.slice(1, slash)), key: decodeSegment(rawPath.slice(slash + 1)) };
}

/**
 * A presigned URL carries its signed `x-amz-*` headers in the query string (the SDK hoists them
 * there, `x-amz-meta-*` included); S3 reads them as headers. A header sent as a header wins.
 * Checksums are the exception: the SDK v3 presigns a PutObject with the CRC32 of the empty body
 * it had at signing time, and S3 ignores checksum parameters in a query string (objects uploaded
 * that way have no additional checksum), so a URL made with the SDK's defaults still uploads.
 */
function effectiveHeaders(request: ServiceRequest): IncomingHttpHeaders {
  if (!request.query.has('X-Amz-Credential')) return request.headers;
  const headers: IncomingHttpHeaders = { ...request.headers };
  for (const [name, value] of request.query) {
    const lower = name.toLowerCase();
    const hoisted =
      lower.startsWith('x-amz-') &&
      !PRESIGNING_PARAMETERS.has(lower) &&
      !lower.startsWith('x-amz-checksum-') &&
      lower !== 'x-amz-sdk-checksum-algorithm';
    if (hoisted && headers[lower] === undefined) headers[lower] = value;
  }
  return headers;
}

/** A presigned URL is refused once `X-Amz-Date` + `X-Amz-Expires` has passed. The signature itself is not checked, as no signature is. */
function checkNotExpired(context: LocalCloudContext, query: URLSearchParams): void {
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(query.get('X-Amz-Date') ?? '');
  const expires = Number(query.get('X-Amz-Expires'));
  if (!date || !Number.isFinite(expires)) return;
  const [, year, month, day, hours, minutes, seconds] = date.map(Number) as number[];
  const expiresAt = Date.UTC(year as number, (month as number) - 1, day, hours, minutes, seconds) + expires * 1000;
  const now = context.clock.now();
  if (now > expiresAt) {
    throw s3Error('AccessDenied', 403, 'Request has expired', {
      'X-Amz-Expires': String(expires),
      Expires: new Date(expiresAt).toISOString(),
      ServerTime: new Date(now).toISOString(),
    });
  }
}

/**
 * The largest PutObject or UploadPart body read (S3's own limit is 5 GiB): a body is held in memory while it is
 * stored, and a fleet run of 100,000 devices writes objects of tens of MiB in one PutObject.
 */
const MAX_OBJECT_BODY_BYTES = 256 * 1024 * 1024;

/**
 * Amazon S3, path-style and virtual-hosted: buckets, objects (with checksums, `aws-chunked` bodies and
 * ranges), ListObjectsV2, multipart uploads, presigned URLs, and "Object Created" events to EventBridge
 * for buckets that enable them. Object bytes live in the store's blobs, their metadata in the state.
 */
export function createS3Service(context: LocalCloudContext): EmulatedService {
  let lastSequence = 0n;
  const service: S3Service = {
    context,
    nextSequencer() {
      // Time-based so that a restart on a data dir keeps a key's sequencers increasing.
      lastSequence = [lastSequence + 1n, BigInt(context.clock.now()) << 16n].reduce((a, b) => (a > b ? a : b));
      return lastSequence.toString(16).padStart(16, '0').toUpperCase();
    },
  };
  return {
    signingName: 's3',
    maxBodyBytes: MAX_OBJECT_BODY_BYTES,
    resolve(request) {
      const { bucket, key } = addressOf(request);
      const headers = effectiveHeaders(request);
      const name = operationOf(request.method, bucket !== '', key !== '', request.query, headers);
      const operation: Operation = OPERATIONS[name];
      return {
        name,
        run: async () => {
          if (request.query.has('X-Amz-Credential')) checkNotExpired(context, request.query);
          const response = await operation(service, { request, headers, bucket, key });
          return { ...response, headers: { ...restXmlRequestIdHeaders(request.requestId), ...response.headers } };
        },
      };
    },
    encodeError: (error, requestId) => encodeRestXmlError(toS3Error(error), requestId),
  };
}

function toS3Error(error: unknown): RestXmlError {
  if (error instanceof RestXmlError) return error;
  if (error instanceof InjectedFault) {
    switch (error.kind) {
      case 'throttled':
        return s3Error('SlowDown', 503, 'Please reduce your request rate.');
      case 'unavailable':
        return s3Error('ServiceUnavailable', 503, 'Service is unable to handle request.');
      case 'internalError':
        return s3Error('InternalError', 500, 'We encountered an internal error. Please try again.');
    }
  }
  return s3Error('InternalError', 500, 'We encountered an internal error. Please try again.');
}
