import { createHash } from 'node:crypto';
import { Crc32, Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';
import type { S3ChecksumAlgorithm } from '../../store.ts';

/** S3's additional checksum algorithms, computed with the SDK's own implementations so both sides agree bit for bit. */
export const CHECKSUM_ALGORITHMS: readonly S3ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

/** What the SDK's checksum classes and a Node hash have in common. */
interface Checksum {
  update(chunk: Uint8Array): void;
  digest(): Promise<Uint8Array>;
}

const hashes: Record<S3ChecksumAlgorithm, () => Checksum> = {
  CRC32: () => new Crc32(),
  CRC32C: () => new Crc32c(),
  CRC64NVME: () => new Crc64Nvme(),
  SHA1: () => nodeHash('sha1'),
  SHA256: () => nodeHash('sha256'),
};

function nodeHash(name: 'sha1' | 'sha256'): Checksum {
  const hash = createHash(name);
  return {
    update: (chunk) => void hash.update(chunk),
    digest: async () => hash.digest(),
  };
}

export function checksumHeader(algorithm: S3ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

export function algorithmOfHeader(name: string): S3ChecksumAlgorithm | undefined {
  return CHECKSUM_ALGORITHMS.find((algorithm) => checksumHeader(algorithm) === name.toLowerCase());
}

export function parseAlgorithm(value: string | undefined): S3ChecksumAlgorithm | undefined {
  return CHECKSUM_ALGORITHMS.find((algorithm) => algorithm === value?.toUpperCase());
}

/** The raw digest of `chunks` taken as one byte sequence. */
export async function digest(algorithm: S3ChecksumAlgorithm, chunks: Iterable<Uint8Array>): Promise<Buffer> {
  const hash = hashes[algorithm]();
  for (const chunk of chunks) hash.update(chunk);
  return Buffer.from(await hash.digest());
}

/** The base64 checksum S3 sends in `x-amz-checksum-*`, of bytes given whole or in chunks. */
export async function checksumOf(algorithm: S3ChecksumAlgorithm, data: Uint8Array | Iterable<Uint8Array>): Promise<string> {
  return (await digest(algorithm, data instanceof Uint8Array ? [data] : data)).toString('base64');
}

/**
 * A multipart upload's COMPOSITE checksum: the checksum of the parts' raw checksums, then `-<parts>`
 * (S3's "checksum of checksums").
 */
export async function compositeChecksum(algorithm: S3ChecksumAlgorithm, partChecksums: readonly string[]): Promise<string> {
  const value = await digest(
    algorithm,
    partChecksums.map((checksum) => Buffer.from(checksum, 'base64')),
  );
  return `${value.toString('base64')}-${partChecksums.length}`;
}
