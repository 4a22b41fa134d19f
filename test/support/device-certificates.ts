import { createDeviceCsr } from '../../local/device-csr.ts';

/**
 * A CSR of its own for each device, as a fleet makes them. The key is EC P-256, which takes milliseconds to
 * make: these tests are about what the local cloud does with a CSR, not about key sizes.
 */
export async function deviceCsr(commonName: string): Promise<string> {
  return (await createDeviceCsr(commonName)).csrPem;
}

/** A self-signed certificate, registered through a template's CertificatePem. */
export const SELF_SIGNED_CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIBkjCCATmgAwIBAgIUE8Uvn/XzAyP8ZNbHf+RAnBq9KQUwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTZml4dHVyZS1zZWxmLXNpZ25lZDAgFw0yNjExMjMxMzMwMDRa
GA8yMTI2MTAzMDEzMzAwNFowHjEcMBoGA1UEAwwTZml4dHVyZS1zZWxmLXNpZ25l
ZDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCB91Duy39kRzHx8Dd+BVJ1ZTyUL
dE8WXtv3H2V6/5rG6Zqd9UxFA6/fyA1E1WRGoX5gHgQ/q5AcgpsNCygKV5OjUzBR
MB0GA1UdDgQWBBRd/bch+VI6BYhDSJkaMgFLxftI8DAfBgNVHSMEGDAWgBRd/bch
+VI6BYhDSJkaMgFLxftI8DAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cA
MEQCIFA1DHhzY/qOTXPHJd/9+/neR5N4vaEXUChhSHgZP/4dAiAgdzivMJqEPg1a
0LS+5kM/V5tmolVtvLxM0MiG+ZRRzg==
-----END CERTIFICATE-----`;
