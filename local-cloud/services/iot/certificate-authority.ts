import { generateKeyPair, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';

const generateKeyPairAsync = promisify(generateKeyPair);

/** AWS IoT issues certificates valid until the end of 2049. */
const NOT_AFTER = new Date('2049-12-31T23:59:59Z');
/** Amazon's CA signs with RSA and SHA-256; so does the emulator's. */
const CA_ALGORITHM = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
/** CreateCertificateFromCsr's model: an RSA key of at least 2048 bits, or an EC key on P-256, P-384 or P-521. */
const MIN_RSA_BITS = 2048;
const CSR_CURVES: readonly string[] = ['P-256', 'P-384', 'P-521'];

/**
 * The key pairs CreateKeysAndCertificate makes: `rsa-2048` as AWS does, or `ec-p256`, which is about a hundred
 * times faster to generate, for benchmarks and demo fleets that create thousands (`LOCAL_CLOUD_KEY_ALGORITHM`).
 */
export type KeyAlgorithm = 'rsa-2048' | 'ec-p256';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['rsa-2048', 'ec-p256'];

export interface ParsedCertificate {
  certificateId: string;
  certificatePem: string;
  notBefore: number;
  notAfter: number;
}

export interface IssuedCertificate extends ParsedCertificate {
  /** The id of the CA certificate that signed it, as DescribeCertificate reports it. */
  caCertificateId: string;
}

export interface IssuedKeysAndCertificate extends IssuedCertificate {
  publicKey: string;
  privateKey: string;
}

/** A CSR the emulator refuses, with the reason; the operation turns it into its own error. */
export class CertificateRequestError extends Error {
  override readonly name = 'CertificateRequestError';
}

/**
 * The emulator's own CA, standing in for the Amazon CA: it signs CSRs (RegisterThing templates,
 * CreateCertificateFromCsr) and the certificates of CreateKeysAndCertificate. Its RSA key is made on first use,
 * so that a local cloud that never signs does not pay for it.
 */
export interface CertificateAuthority {
  signRequest(csrPem: string): Promise<IssuedCertificate>;
  createKeysAndCertificate(): Promise<IssuedKeysAndCertificate>;
  /**
   * The id of the CA certificate that signed `certificatePem`: `caCertificatePem` when given and it did, else
   * this CA when it did; undefined when neither did (or a PEM does not parse).
   */
  issuerOf(certificatePem: string, caCertificatePem?: string): Promise<string | undefined>;
}

interface Signer {
  keys: webcrypto.CryptoKeyPair;
  certificate: x509.X509Certificate;
  certificateId: string;
}

export function createCertificateAuthority(options: { keyAlgorithm: KeyAlgorithm }): CertificateAuthority {
  let signer: Promise<Signer> | undefined;
  const ca = () => (signer ??= createSigner());

  const issue = async (subject: x509.Name | string, publicKey: Buffer | x509.PublicKey): Promise<IssuedCertificate> => {
    const { keys, certificate, certificateId } = await ca();
    const issued = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject,
      issuer: certificate.subjectName,
      notBefore: new Date(),
      notAfter: NOT_AFTER,
      publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: CA_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        await x509.AuthorityKeyIdentifierExtension.create(certificate),
      ],
    });
    return { ...parseCertificate(issued.toString('pem')), caCertificateId: certificateId };
  };

  return {
    async signRequest(csrPem) {
      const request = readCertificateRequest(csrPem);
      const key = request.publicKey.algorithm as { name: string; modulusLength?: number; namedCurve?: string };
      const acceptable = key.name === 'ECDSA' ? CSR_CURVES.includes(key.namedCurve ?? '') : (key.modulusLength ?? 0) >= MIN_RSA_BITS;
      if (!acceptable) {
        throw new CertificateRequestError('the public key must be RSA of at least 2048 bits or EC on NIST P-256, P-384 or P-521');
      }
      if (!(await request.verify().catch(() => false))) throw new CertificateRequestError('its signature does not verify');
      return issue(request.subjectName, request.publicKey);
    },
    async issuerOf(certificatePem, caCertificatePem) {
      try {
        const certificate = new x509.X509Certificate(certificatePem);
        const issuer =
          caCertificatePem === undefined
            ? await ca()
            : { certificate: new x509.X509Certificate(caCertificatePem), certificateId: parseCertificate(caCertificatePem).certificateId };
        const signed = await certificate.verify({ publicKey: issuer.certificate.publicKey, signatureOnly: true });
        return signed ? issuer.certificateId : undefined;
      } catch {
        return undefined;
      }
    },
    async createKeysAndCertificate() {
      const device =
        options.keyAlgorithm === 'ec-p256'
          ? await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' })
          : await generateKeyPairAsync('rsa', { modulusLength: 2048 });
      const issued = await issue('CN=AWS IoT Certificate', device.publicKey.export({ type: 'spki', format: 'der' }));
      return {
        ...issued,
        publicKey: device.publicKey.export({ type: 'spki', format: 'pem' }) as string,
        // AWS hands out the RSA key in PKCS#1 (`BEGIN RSA PRIVATE KEY`); an EC key's counterpart is SEC 1.
        privateKey: device.privateKey.export({ type: options.keyAlgorithm === 'ec-p256' ? 'sec1' : 'pkcs1', format: 'pem' }) as string,
      };
    },
  };
}

async function createSigner(): Promise<Signer> {
  const keys = (await webcrypto.subtle.generateKey(CA_ALGORITHM, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: 'CN=iot-provisioning-workflow local cloud CA',
    notBefore: new Date(),
    notAfter: NOT_AFTER,
    keys,
    signingAlgorithm: CA_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keys, certificate, certificateId: parseCertificate(certificate.toString('pem')).certificateId };
}

function readCertificateRequest(csrPem: string): x509.Pkcs10CertificateRequest {
  try {
    return new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new CertificateRequestError('it is not a PEM-encoded PKCS#10 certificate signing request');
  }
}

/** A positive 128-bit serial, random as RFC 5280 recommends for CAs. */
function serialNumber(): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  return serial.toString('hex');
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
