import type { S3ObjectRecord, Stored } from '../../store.ts';
import { decodePageToken, encodePageToken } from '../../wire/pagination.ts';
import type { ServiceResponse } from '../../wire/service.ts';
import { isoDate, requireBucket, type S3Call, type S3Service, s3XmlResponse } from './call.ts';
import { invalidArgument } from './errors.ts';

const MAX_KEYS = 1000;
/**
 * The last code point, which sorts after every character a key holds in practice (in UTF-8 byte order, S3's and
 * the store's): resuming after `<common prefix>\u{10FFFF}` skips every key under that prefix in one search.
 */
const PAST_PREFIX = '\u{10FFFF}';

type Entry = { object: Stored<S3ObjectRecord> } | { commonPrefix: string };

/**
 * ListObjectsV2. Keys come in order; with a delimiter, the keys that share a prefix up to the
 * delimiter's first occurrence after `prefix` come back once, as a CommonPrefix, which counts as one
 * of `MaxKeys`. The continuation token names where the page stopped, so a page is found in
 * O(log n + page) and stays valid across writes.
 */
export function listObjectsV2(service: S3Service, call: S3Call): ServiceResponse {
  const bucket = requireBucket(service.context, call.bucket);
  const objects = service.context.store.state.objects.in(bucket.name);
  const { query } = call.request;
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const startAfter = query.get('start-after') ?? '';
  const token = query.get('continuation-token');
  const maxKeysText = query.get('max-keys');
  const maxKeys = maxKeysText === null ? MAX_KEYS : Number(maxKeysText);
  if (maxKeysText !== null && (!/^\d+$/.test(maxKeysText) || !Number.isSafeInteger(maxKeys))) {
    throw invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys', maxKeysText);
  }
  const encodingType = query.get('encoding-type');
  if (encodingType !== null && encodingType !== 'url')
    throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', encodingType);
  const resumeAfter = token === null ? undefined : decodePageToken(token);
  if (token !== null && resumeAfter === undefined)
    throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);

  const limit = Math.min(maxKeys, MAX_KEYS);
  // biome-ignore lint/complexity/useMathMinMax: keys are strings, compared in code-unit order; Math.max would make NaN.
  const after = [startAfter, resumeAfter ?? ''].reduce((a, b) => (a > b ? a : b));
  let from = after >= prefix && after !== '' ? { key: after, exclusive: true } : { key: prefix, exclusive: false };
  const entries: Entry[] = [];
  let truncated = false;
  scan: for (;;) {
    for (const object of objects.valuesFrom(from.key, from)) {
      // Keys under the prefix are contiguous: the first key past them ends the listing.
      if (!object.key.startsWith(prefix)) break scan;
      if (entries.length === limit) {
        truncated = true;
        break scan;
      }
      const cut = delimiter === '' ? -1 : object.key.indexOf(delimiter, prefix.length);
      if (cut < 0) {
        entries.push({ object });
        continue;
      }
      const commonPrefix = object.key.slice(0, cut + delimiter.length);
      entries.push({ commonPrefix });
      from = { key: commonPrefix + PAST_PREFIX, exclusive: true };
      continue scan;
    }
    break;
  }

  const encode = encodingType === 'url' ? urlEncode : (value: string) => value;
  const last = entries.at(-1);
  const nextKey = last === undefined ? undefined : 'object' in last ? last.object.key : last.commonPrefix + PAST_PREFIX;
  const contents = entries.flatMap((entry) => ('object' in entry ? [entry.object] : []));
  const commonPrefixes = entries.flatMap((entry) => ('commonPrefix' in entry ? [entry.commonPrefix] : []));
  return s3XmlResponse('ListBucketResult', {
    Name: bucket.name,
    Prefix: encode(prefix),
    ...(delimiter !== '' && { Delimiter: encode(delimiter) }),
    MaxKeys: maxKeys,
    KeyCount: entries.length,
    IsTruncated: truncated,
    ...(token !== null && { ContinuationToken: token }),
    ...(truncated && nextKey !== undefined && { NextContinuationToken: encodePageToken(nextKey) }),
    ...(startAfter !== '' && { StartAfter: encode(startAfter) }),
    ...(encodingType !== null && { EncodingType: encodingType }),
    Contents: contents.map((object) => ({
      Key: encode(object.key),
      LastModified: isoDate(object.lastModified),
      ETag: object.etag,
      ...(object.checksum && { ChecksumAlgorithm: object.checksum.algorithm, ChecksumType: object.checksum.type }),
      Size: object.size,
      StorageClass: 'STANDARD',
    })),
    CommonPrefixes: commonPrefixes.map((commonPrefix) => ({ Prefix: encode(commonPrefix) })),
  });
}

/** S3's `encoding-type=url`: percent-encoding that keeps `/` and writes a space as `+`. */
function urlEncode(value: string): string {
  return encodeURIComponent(value).replaceAll('%2F', '/').replaceAll('%20', '+');
}
