import { isVirtualHostableS3Bucket, partition } from '@aws-sdk/core/client';
import { formatUrl } from '@aws-sdk/core/util';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Sha256 } from '@smithy/core/checksum';
import { extendedEncodeURIComponent, HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * S3 presigned URLs signed here with SigV4 rather than by `@aws-sdk/s3-request-presigner` over an S3 client: those
 * two put over 100 KiB in each fleet function's bundle, this module about 5. The URLs are the SDK's to the byte
 * (presigned-urls.test.ts compares them). Nothing here runs at import, so a bundle that never presigns drops it all.
 */

type CredentialsProvider = ReturnType<typeof defaultProvider>;
let credentials: CredentialsProvider | undefined;

/** In a bundle, Lambda's role credentials from the environment (clients/lambda-credentials.ts); from source, the SDK's chain. */
function credentialsProvider(): CredentialsProvider {
  credentials ??= defaultProvider();
  return credentials;
}

function region(): string {
  const name = process.env.AWS_REGION;
  if (!name) throw new Error('AWS_REGION is not set: there is no region to presign S3 URLs for');
  return name;
}

interface ObjectLocation {
  /** HttpRequest's own default is https:. */
  protocol?: string;
  hostname: string;
  port?: number;
  /** Percent-encoded, and never normalized: `a/../b` is a key of its own. */
  path: string;
}

/**
 * Where the object is, as the S3 client puts it: an endpoint override is the local cloud, which serves buckets by path
 * (clients/s3.ts); on AWS the bucket is the host name, unless its name cannot be one.
 */
function objectLocation(bucket: string, key: string, regionName: string): ObjectLocation {
  const encodedKey = key.split('/').map(extendedEncodeURIComponent).join('/');
  const override = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  if (override) {
    const endpoint = new URL(override);
    const basePath = endpoint.pathname.replace(/\/?$/, '/');
    return {
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port && { port: Number(endpoint.port) }),
      path: `${basePath}${extendedEncodeURIComponent(bucket)}/${encodedKey}`,
    };
  }
  const { dnsSuffix } = partition(regionName);
  return isVirtualHostableS3Bucket(bucket)
    ? { hostname: `${bucket}.s3.${regionName}.${dnsSuffix}`, path: `/${encodedKey}` }
    : { hostname: `s3.${regionName}.${dnsSuffix}`, path: `/${extendedEncodeURIComponent(bucket)}/${encodedKey}` };
}

/**
 * `query` holds what the SDK's URL for the operation carries besides the signature: `x-id`, the operation's name, and
 * any header the SDK would hoist. `headers` are signed and stay headers: the client must send them as they are.
 */
async function presign(
  method: 'GET' | 'PUT',
  bucket: string,
  key: string,
  expiresInSeconds: number,
  query: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<string> {
  const regionName = region();
  const location = objectLocation(bucket, key, regionName);
  const host = location.port === undefined ? location.hostname : `${location.hostname}:${location.port}`;
  // The payload is whatever the client sends, so the signature covers none of it.
  const request = new HttpRequest({
    method,
    ...location,
    query,
    headers: { ...headers, host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
  });
  const signer = new SignatureV4({
    service: 's3',
    region: regionName,
    credentials: credentialsProvider(),
    sha256: Sha256,
    uriEscapePath: false,
  });
  return formatUrl(await signer.presign(request, { expiresIn: expiresInSeconds }));
}

/** A URL that reads the object without credentials until it expires: how a client without S3 permissions downloads a report. */
export function presignedGetUrl(bucket: string, key: string, expiresInSeconds: number): Promise<string> {
  // S3 answers the object's stored checksum with it, as it does to the SDK's GetObject.
  // Stryker disable next-line StringLiteral: equivalent: HttpRequest takes an empty method as GET
  return presign('GET', bucket, key, expiresInSeconds, { 'x-amz-checksum-mode': 'ENABLED', 'x-id': 'GetObject' });
}

/**
 * A URL that puts the object without credentials until it expires, with no checksum of a body it has not seen. Its
 * Content-Type is signed (the SDK's presigner leaves it out), so S3 refuses an upload of any other type, or of none.
 */
export function presignedPutUrl(bucket: string, key: string, contentType: string, expiresInSeconds: number): Promise<string> {
  return presign('PUT', bucket, key, expiresInSeconds, { 'x-id': 'PutObject' }, { 'content-type': contentType });
}
