import { generateKeyPair, generateKeyPairSync, createPublicKey, randomBytes, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import {
  bitString,
  boolean,
  decodeObjectIdentifier,
  explicit,
  objectIdentifier,
  octetString,
  readChildren,
  readElement,
  sequence,
  set,
  time,
  unsignedInteger,
  utf8String,
} from './der.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const COMMON_NAME = '2.5.4.3';
const BASIC_CONSTRAINTS = '2.5.29.19';

/** CSR signature algorithms accepted, by OID → digest. */
const CSR_SIGNATURE_DIGESTS: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  [ECDSA_WITH_SHA256]: 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

/** AWS IoT issues certificates valid until the end of 2049. */
const NOT_AFTER = new Date('2049-12-31T23:59:59Z');

export interface ParsedCertificate {
  certificateId: string;
  certificatePem: string;
  notBefore: number;
  notAfter: number;
}

export interface IssuedKeysAndCertificate extends ParsedCertificate {
  publicKey: string;
  privateKey: string;
}

/**
 * The emulator's own CA, standing in for the Amazon CA: it signs CSRs from RegisterThing templates
 * and the certificates of CreateKeysAndCertificate. Keys are EC P-256, not RSA 2048 as AWS issues,
 * because RSA key generation would dominate a 10k-device benchmark.
 */
export interface CertificateAuthority {
  readonly certificateId: string;
  signRequest(csrPem: string): ParsedCertificate;
  createKeysAndCertificate(): Promise<IssuedKeysAndCertificate>;
}

export function createCertificateAuthority(): CertificateAuthority {
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = distinguishedName('iot-provisioning-workflow local cloud CA');
  const now = new Date();
  const certificate = parseCertificate(
    issue(keys.privateKey, name, name, spkiOf(keys.publicKey), now, [
      sequence(objectIdentifier(BASIC_CONSTRAINTS), boolean(true), octetString(sequence(boolean(true)))),
    ]),
  );

  return {
    certificateId: certificate.certificateId,
    signRequest(csrPem) {
      const { subject, subjectPublicKeyInfo } = readCertificateRequest(csrPem);
      return parseCertificate(issue(keys.privateKey, name, subject, subjectPublicKeyInfo, new Date()));
    },
    async createKeysAndCertificate() {
      const deviceKeys = await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
      const issued = parseCertificate(
        issue(keys.privateKey, name, distinguishedName('AWS IoT Certificate'), spkiOf(deviceKeys.publicKey), new Date()),
      );
      return {
        ...issued,
        publicKey: deviceKeys.publicKey.export({ type: 'spki', format: 'pem' }) as string,
        privateKey: deviceKeys.privateKey.export({ type: 'sec1', format: 'pem' }) as string,
      };
    },
  };
}

/** Reads a PEM certificate; the id is the SHA-256 of its DER, as AWS IoT computes certificate ids. */
export function parseCertificate(pem: string): ParsedCertificate {
  const certificate = new X509Certificate(pem);
  return {
    certificateId: certificate.fingerprint256.replaceAll(':', '').toLowerCase(),
    certificatePem: certificate.toString(),
    notBefore: Date.parse(certificate.validFrom),
    notAfter: Date.parse(certificate.validTo),
  };
}

/** Extracts subject and key from a PKCS#10 request after checking its self-signature. */
function readCertificateRequest(csrPem: string): { subject: Buffer; subjectPublicKeyInfo: Buffer } {
  const base64 = /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]+?)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(csrPem);
  if (!base64?.[1]) throw new Error('not a PEM certificate signing request');
  const [info, algorithm, signature] = readChildren(readElement(Buffer.from(base64[1], 'base64')).content);
  if (!info || !algorithm || !signature) throw new Error('malformed certificate signing request');
  const [, subject, subjectPublicKeyInfo] = readChildren(info.content);
  const algorithmOid = readChildren(algorithm.content)[0];
  if (!subject || !subjectPublicKeyInfo || !algorithmOid) throw new Error('malformed certificate signing request');
  const digest = CSR_SIGNATURE_DIGESTS[decodeObjectIdentifier(algorithmOid.content)];
  if (!digest) throw new Error('unsupported certificate signing request signature algorithm');
  const publicKey = createPublicKey({ key: subjectPublicKeyInfo.raw, format: 'der', type: 'spki' });
  if (!verify(digest, info.raw, publicKey, signature.content.subarray(1))) {
    throw new Error('certificate signing request signature does not verify');
  }
  return { subject: subject.raw, subjectPublicKeyInfo: subjectPublicKeyInfo.raw };
}

function issue(
  issuerKey: KeyObject,
  issuer: Buffer,
  subject: Buffer,
  subjectPublicKeyInfo: Buffer,
  notBefore: Date,
  extensions: Buffer[] = [],
): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const signatureAlgorithm = sequence(objectIdentifier(ECDSA_WITH_SHA256));
  const toBeSigned = sequence(
    explicit(0, unsignedInteger(Buffer.from([2]))),
    unsignedInteger(serial),
    signatureAlgorithm,
    issuer,
    sequence(time(notBefore), time(NOT_AFTER)),
    subject,
    subjectPublicKeyInfo,
    ...(extensions.length > 0 ? [explicit(3, sequence(...extensions))] : []),
  );
  const der = sequence(toBeSigned, signatureAlgorithm, bitString(sign('sha256', toBeSigned, issuerKey)));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END CERTIFICATE-----\n`;
}

function distinguishedName(commonName: string): Buffer {
  return sequence(set(sequence(objectIdentifier(COMMON_NAME), utf8String(commonName))));
}

function spkiOf(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}
