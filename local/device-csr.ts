import { KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** EC P-256: a key a device makes in milliseconds, where an RSA 2048 key takes tens of them. */
const DEVICE_KEY = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export interface DeviceCsr {
  /** PKCS#10, PEM: what a template's `CertificateSigningRequest` or CreateCertificateFromCsr takes. */
  csrPem: string;
  /** The device's own key (SEC 1, PEM), which never leaves it on a real fleet. */
  privateKeyPem: string;
}

/** A fresh key pair and a certificate signing request for it, one per device, as each device makes its own. */
export async function createDeviceCsr(commonName: string): Promise<DeviceCsr> {
  const keys = (await webcrypto.subtle.generateKey(DEVICE_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${commonName}`, keys, signingAlgorithm: DEVICE_KEY });
  return {
    csrPem: csr.toString('pem'),
    privateKeyPem: KeyObject.from(keys.privateKey).export({ type: 'sec1', format: 'pem' }) as string,
  };
}
