import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { S3ChecksumAlgorithm } from '../../store.ts';
import { headerValue } from '../../wire/http-bindings.ts';
import { algorithmOfHeader, CHECKSUM_ALGORITHMS, checksumHeader, checksumOf } from './checksums.ts';
import { badDigest, incompleteBody, invalidRequest, s3Error } from './errors.ts';

export interface Payload {
  data: Buffer;
  /** The checksum the request supplied (header or trailer), verified; absent when it supplied none. */
  checksum?: { algorithm: S3ChecksumAlgorithm; value: string };
}

/**
 * The bytes of a PUT or POST as S3 receives them, with every integrity check S3 applies: an
 * `aws-chunked` body is decoded (the SDK v3 and the CLI stream PutObject and UploadPart that way,
 * the checksum in a trailer), and `Content-MD5`, a hex `x-amz-content-sha256` and any
 * `x-amz-checksum-*` (header or trailer) must match the bytes.
 */
export async function readPayload(headers: IncomingHttpHeaders, body: Buffer): Promise<Payload> {
  let data = body;
  let trailers = new Map<string, string>();
  const contentSha256 = headerValue(headers, 'x-amz-content-sha256');
  if (isAwsChunked(headers, contentSha256)) {
    const decoded = decodeAwsChunked(body);
    if (!decoded) throw incompleteBody();
    ({ data, trailers } = decoded);
    const decodedLength = headerValue(headers, 'x-amz-decoded-content-length');
    if (decodedLength !== undefined && Number(decodedLength) !== data.length) throw incompleteBody();
  } else if (contentSha256 !== undefined && /^[0-9a-f]{64}$/i.test(contentSha256)) {
    if (createHash('sha256').update(data).digest('hex') !== contentSha256.toLowerCase()) {
      throw s3Error('XAmzContentSHA256Mismatch', 400, "The provided 'x-amz-content-sha256' header does not match what was computed.", {
        ClientComputedContentSHA256: contentSha256,
        S3ComputedContentSHA256: createHash('sha256').update(data).digest('hex'),
      });
    }
  }

  const contentMd5 = headerValue(headers, 'content-md5');
  if (contentMd5 !== undefined) {
    if (Buffer.from(contentMd5, 'base64').length !== 16) throw s3Error('InvalidDigest', 400, 'The Content-MD5 you specified was invalid.');
    if (createHash('md5').update(data).digest('base64') !== contentMd5) {
      throw s3Error('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.');
    }
  }

  const supplied: { algorithm: S3ChecksumAlgorithm; value: string; trailing: boolean }[] = [];
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = headerValue(headers, checksumHeader(algorithm));
    if (value !== undefined) supplied.push({ algorithm, value, trailing: false });
  }
  const announced = headerValue(headers, 'x-amz-trailer');
  if (announced !== undefined) {
    const algorithm = algorithmOfHeader(announced.trim());
    const value = trailers.get(announced.trim().toLowerCase());
    if (!algorithm || value === undefined) {
      throw s3Error(
        'MalformedTrailerError',
        400,
        'The request contained trailing data that was not well-formed or did not conform to our published schema.',
      );
    }
    supplied.push({ algorithm, value, trailing: true });
  }
  if (supplied.length > 1) throw invalidRequest('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const [checksum] = supplied;
  if (!checksum) return { data };
  if ((await checksumOf(checksum.algorithm, data)) !== checksum.value) {
    throw checksum.trailing
      ? invalidRequest(`Value for ${checksumHeader(checksum.algorithm)} trailing header is invalid.`)
      : badDigest(checksum.algorithm);
  }
  return { data, checksum: { algorithm: checksum.algorithm, value: checksum.value } };
}

function isAwsChunked(headers: IncomingHttpHeaders, contentSha256: string | undefined): boolean {
  const encoding = headerValue(headers, 'content-encoding') ?? '';
  return encoding.split(',').some((value) => value.trim() === 'aws-chunked') || (contentSha256?.startsWith('STREAMING-') ?? false);
}

/**
 * Decodes `aws-chunked`: `<hex size>[;chunk-signature=…]\r\n<bytes>\r\n` … `0[;…]\r\n`, then trailing
 * headers `name:value\r\n` up to an empty line. Chunk signatures are not verified, as no signature is.
 * Undefined when the framing is broken.
 */
export function decodeAwsChunked(body: Buffer): { data: Buffer; trailers: Map<string, string> } | undefined {
  const chunks: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) return undefined;
    const sizeField = body.toString('latin1', offset, lineEnd).split(';')[0]?.trim() ?? '';
    if (!/^[0-9a-f]+$/i.test(sizeField)) return undefined;
    const size = Number.parseInt(sizeField, 16);
    offset = lineEnd + 2;
    if (size === 0) break;
    if (offset + size + 2 > body.length || body.toString('latin1', offset + size, offset + size + 2) !== '\r\n') return undefined;
    chunks.push(body.subarray(offset, offset + size));
    offset += size + 2;
  }
  const trailers = new Map<string, string>();
  for (const line of body.toString('utf8', offset).split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { data: Buffer.concat(chunks), trailers };
}
