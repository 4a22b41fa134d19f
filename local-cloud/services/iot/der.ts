/**
 * Just enough ASN.1 DER to read a PKCS#10 request and write an X.509 certificate: node:crypto
 * verifies and signs, but cannot build certificates or parse CSRs.
 */

export interface DerElement {
  tag: number;
  /** The whole element, header included. */
  raw: Buffer;
  /** The contents only. */
  content: Buffer;
}

export function readElement(buffer: Buffer, offset = 0): DerElement {
  const tag = byteAt(buffer, offset);
  let length = byteAt(buffer, offset + 1);
  let headerLength = 2;
  if (length & 0x80) {
    const lengthBytes = length & 0x7f;
    if (lengthBytes === 0 || lengthBytes > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < lengthBytes; i++) length = length * 256 + byteAt(buffer, offset + 2 + i);
    headerLength += lengthBytes;
  }
  const end = offset + headerLength + length;
  if (end > buffer.length) throw new Error('truncated DER element');
  return { tag, raw: buffer.subarray(offset, end), content: buffer.subarray(offset + headerLength, end) };
}

/** The elements directly inside a constructed element's contents. */
export function readChildren(content: Buffer): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = 0; offset < content.length; ) {
    const child = readElement(content, offset);
    children.push(child);
    offset += child.raw.length;
  }
  return children;
}

function element(tag: number, ...contents: Buffer[]): Buffer {
  const content = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export const sequence = (...contents: Buffer[]) => element(0x30, ...contents);
export const set = (...contents: Buffer[]) => element(0x31, ...contents);
export const explicit = (tagNumber: number, content: Buffer) => element(0xa0 + tagNumber, content);
export const utf8String = (text: string) => element(0x0c, Buffer.from(text, 'utf8'));
export const bitString = (bytes: Buffer) => element(0x03, Buffer.from([0]), bytes);
export const boolean = (value: boolean) => element(0x01, Buffer.from([value ? 0xff : 0]));
export const octetString = (bytes: Buffer) => element(0x04, bytes);

/** A non-negative INTEGER from big-endian magnitude bytes. */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  return element(0x02, (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export function objectIdentifier(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let value = arc >>> 7; value > 0; value >>>= 7) groups.unshift((value & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return element(0x06, Buffer.from(bytes));
}

export function decodeObjectIdentifier(content: Buffer): string {
  const first = byteAt(content, 0);
  const arcs = [Math.floor(first / 40), first % 40];
  let value = 0;
  for (let i = 1; i < content.length; i++) {
    const byte = byteAt(content, i);
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/** UTCTime for years before 2050, GeneralizedTime after, as RFC 5280 requires. */
export function time(date: Date): Buffer {
  const iso = date.toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  return date.getUTCFullYear() < 2050 ? element(0x17, Buffer.from(`${digits.slice(2)}Z`)) : element(0x18, Buffer.from(`${digits}Z`));
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let value = length; value > 0; value = Math.floor(value / 256)) bytes.unshift(value & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function byteAt(buffer: Buffer, index: number): number {
  const byte = buffer[index];
  if (byte === undefined) throw new Error('truncated DER element');
  return byte;
}
