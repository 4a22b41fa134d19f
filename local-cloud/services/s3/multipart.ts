import { randomBytes } from 'node:crypto';
import {
  type BucketRecord,
  type Collection,
  partKey,
  type S3Checksum,
  type S3ObjectRecord,
  type S3PartRecord,
  type S3UploadRecord,
  type Stored,
} from '../../store.ts';
import type { LocalCloudContext } from '../../wire/context.ts';
import { parseXml } from '../../wire/rest-xml.ts';
import type { ServiceResponse } from '../../wire/service.ts';
import {
  checksumMembers,
  commitObject,
  discardUpload,
  header,
  md5Hex,
  noContent,
  requireBucket,
  type S3Call,
  type S3Service,
  s3XmlResponse,
} from './call.ts';
import { checksumHeader, checksumOf, compositeChecksum, parseAlgorithm } from './checksums.ts';
import { invalidArgument, invalidRequest, malformedXml, noSuchUpload, s3Error } from './errors.ts';
import { fullObjectChecksum, storedHeaders } from './objects.ts';
import { readPayload } from './payload.ts';

const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;

export function createMultipartUpload(service: S3Service, call: S3Call): ServiceResponse {
  const { context } = service;
  const bucket = requireBucket(context, call.bucket);
  const algorithmHeader = header(call, 'x-amz-checksum-algorithm');
  const checksumAlgorithm = parseAlgorithm(algorithmHeader);
  if (algorithmHeader !== undefined && !checksumAlgorithm) {
    throw invalidArgument(
      'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]',
      'x-amz-checksum-algorithm',
      algorithmHeader,
    );
  }
  const typeHeader = header(call, 'x-amz-checksum-type')?.toUpperCase();
  // CRC-64/NVME checksums only whole objects; the others default to a checksum of the part checksums.
  const checksumType =
    typeHeader === 'FULL_OBJECT' || typeHeader === 'COMPOSITE'
      ? typeHeader
      : checksumAlgorithm === 'CRC64NVME'
        ? 'FULL_OBJECT'
        : 'COMPOSITE';
  if (checksumAlgorithm && checksumType === 'COMPOSITE' && checksumAlgorithm === 'CRC64NVME') {
    throw invalidRequest('The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
  }
  const upload: S3UploadRecord = {
    uploadId: randomBytes(48).toString('base64url'),
    key: call.key,
    initiatedAt: context.clock.now(),
    headers: storedHeaders(call.headers),
    ...(checksumAlgorithm && { checksumAlgorithm, checksumType }),
  };
  context.store.state.uploads.in(bucket.name).set(upload.uploadId, upload);
  const checksumResponseHeaders: Record<string, string> = checksumAlgorithm
    ? { 'x-amz-checksum-algorithm': checksumAlgorithm, 'x-amz-checksum-type': checksumType }
    : {};
  return s3XmlResponse(
    'InitiateMultipartUploadResult',
    { Bucket: bucket.name, Key: call.key, UploadId: upload.uploadId },
    checksumResponseHeaders,
  );
}

/** The upload `uploadId` names, for this key: S3 answers NoSuchUpload for another key's upload too. */
function requireUpload(context: LocalCloudContext, call: S3Call): Stored<S3UploadRecord> {
  const bucket = requireBucket(context, call.bucket);
  const uploadId = call.request.query.get('uploadId') ?? '';
  const upload = context.store.state.uploads.in(bucket.name).get(uploadId);
  if (!upload || upload.key !== call.key) throw noSuchUpload(uploadId);
  return upload;
}

export async function uploadPart(service: S3Service, call: S3Call): Promise<ServiceResponse> {
  const { context } = service;
  const partNumberText = call.request.query.get('partNumber') ?? '';
  const partNumber = Number(partNumberText);
  if (!/^\d+$/.test(partNumberText) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', partNumberText);
  }
  const { checksumAlgorithm } = requireUpload(context, call);
  const payload = await readPayload(call.headers, call.request.body);
  if (payload.checksum && checksumAlgorithm && payload.checksum.algorithm !== checksumAlgorithm) {
    throw invalidRequest(
      `Checksum Type mismatch occurred, expected checksum Type: ${checksumAlgorithm.toLowerCase()}, actual checksum Type: ${payload.checksum.algorithm.toLowerCase()}`,
    );
  }
  const checksum = checksumAlgorithm ? (payload.checksum?.value ?? (await checksumOf(checksumAlgorithm, payload.data))) : undefined;
  // The part's checksum in the upload's algorithm; for an upload without one, the checksum the part came with.
  const echoed = checksumAlgorithm && checksum !== undefined ? { algorithm: checksumAlgorithm, value: checksum } : payload.checksum;
  // The upload may have been completed or aborted while the checksum was computed.
  const parts = context.store.state.parts.in(requireUpload(context, call).uploadId);
  const replaced = parts.get(partKey(partNumber));
  const part: S3PartRecord = {
    partNumber,
    blobId: context.store.blobs.put(payload.data),
    size: payload.data.length,
    etag: `"${md5Hex([payload.data])}"`,
    lastModified: context.clock.now(),
    ...(checksum !== undefined && { checksum }),
  };
  parts.set(partKey(partNumber), part);
  if (replaced) context.store.blobs.delete(replaced.blobId);
  return { status: 200, headers: { etag: part.etag, ...(echoed && { [checksumHeader(echoed.algorithm)]: echoed.value }) } };
}

interface RequestedPart {
  PartNumber?: unknown;
  ETag?: unknown;
  [checksum: string]: unknown;
}

const unquote = (etag: string) => etag.replaceAll('"', '');

function invalidPart(upload: Stored<S3UploadRecord>, requested: RequestedPart) {
  return s3Error(
    'InvalidPart',
    400,
    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    { UploadId: upload.uploadId, PartNumber: String(requested.PartNumber ?? ''), ETag: String(requested.ETag ?? '') },
  );
}

/** The uploaded parts the request lists, checked as S3 checks them: in ascending order, each uploaded with that ETag (and checksum), each but the last at least 5 MiB. */
function listedParts(upload: Stored<S3UploadRecord>, uploaded: Collection<S3PartRecord>, body: Buffer): Stored<S3PartRecord>[] {
  const document = parseXml(body, ['Part'])?.CompleteMultipartUpload as { Part?: RequestedPart[] } | undefined;
  const requested = document?.Part;
  if (!requested || requested.length === 0) throw malformedXml();
  const parts = requested.map((entry, index) => {
    const partNumber = Number(entry.PartNumber);
    const part = Number.isInteger(partNumber) ? uploaded.get(partKey(partNumber)) : undefined;
    if (index > 0 && Number(entry.PartNumber) <= Number(requested[index - 1]?.PartNumber)) {
      throw s3Error(
        'InvalidPartOrder',
        400,
        'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
        { UploadId: upload.uploadId },
      );
    }
    if (!part || typeof entry.ETag !== 'string' || unquote(entry.ETag) !== unquote(part.etag)) throw invalidPart(upload, entry);
    const listedChecksum = upload.checksumAlgorithm && entry[`Checksum${upload.checksumAlgorithm}`];
    if (listedChecksum !== undefined && listedChecksum !== part.checksum) throw invalidPart(upload, entry);
    return part;
  });
  parts.slice(0, -1).forEach((part) => {
    if (part.size < MIN_PART_SIZE) {
      throw s3Error('EntityTooSmall', 400, 'Your proposed upload is smaller than the minimum allowed size', {
        ProposedSize: part.size,
        MinSizeAllowed: MIN_PART_SIZE,
        PartNumber: part.partNumber,
        ETag: part.etag,
      });
    }
  });
  return parts;
}

async function uploadChecksum(
  upload: Stored<S3UploadRecord>,
  parts: readonly Stored<S3PartRecord>[],
  data: Iterable<Uint8Array>,
): Promise<S3Checksum> {
  const { checksumAlgorithm: algorithm } = upload;
  if (!algorithm) return fullObjectChecksum(data);
  if (upload.checksumType === 'FULL_OBJECT') return { algorithm, value: await checksumOf(algorithm, data), type: 'FULL_OBJECT' };
  return {
    algorithm,
    value: await compositeChecksum(
      algorithm,
      parts.map((part) => part.checksum ?? ''),
    ),
    type: 'COMPOSITE',
  };
}

export async function completeMultipartUpload(service: S3Service, call: S3Call): Promise<ServiceResponse> {
  const { context } = service;
  const { store } = context;
  // Looked up again after every await: another request may have completed or aborted the upload meanwhile.
  const currentUpload = () => requireUpload(context, call);
  const payload = await readPayload(call.headers, call.request.body);
  const listed = currentUpload();
  const parts = listedParts(listed, store.state.parts.in(listed.uploadId), payload.data);
  // The parts joined in the database, in the turn they were listed in: the object is never held whole.
  const blobId = store.blobs.join(parts.map((part) => part.blobId));
  let checksum: S3Checksum;
  let bucket: Stored<BucketRecord>;
  let upload: Stored<S3UploadRecord>;
  try {
    checksum = await uploadChecksum(listed, parts, store.blobs.read(blobId));
    bucket = requireBucket(context, call.bucket);
    upload = currentUpload();
  } catch (error) {
    store.blobs.delete(blobId);
    throw error;
  }
  const object: S3ObjectRecord = {
    key: call.key,
    blobId,
    size: parts.reduce((size, part) => size + part.size, 0),
    // S3's multipart ETag: the MD5 of the parts' binary MD5s, then `-<parts>`.
    etag: `"${md5Hex(parts.map((part) => Buffer.from(unquote(part.etag), 'hex')))}-${parts.length}"`,
    lastModified: context.clock.now(),
    headers: upload.headers,
    checksum,
  };
  discardUpload(store, bucket.name, upload.uploadId);
  commitObject(service, bucket, object, 'CompleteMultipartUpload', call.request);
  const host = header(call, 'host') ?? 'localhost';
  return s3XmlResponse('CompleteMultipartUploadResult', {
    Location: `http://${host}/${encodeURIComponent(bucket.name)}/${call.key.split('/').map(encodeURIComponent).join('/')}`,
    Bucket: bucket.name,
    Key: call.key,
    ETag: object.etag,
    ...checksumMembers(object),
  });
}

export function abortMultipartUpload(service: S3Service, call: S3Call): ServiceResponse {
  const { context } = service;
  const upload = requireUpload(context, call);
  discardUpload(context.store, call.bucket, upload.uploadId);
  return noContent();
}
