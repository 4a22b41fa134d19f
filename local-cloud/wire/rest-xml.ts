import { randomBytes } from 'node:crypto';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import type { ServiceResponse } from './service.ts';
import { ServiceError } from './service-error.ts';

const XML_CONTENT_TYPE = 'application/xml';
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_' });

/**
 * An error in the restXml shape S3 uses: `<Error><Code>…</Code><Message>…</Message>…</Error>` at the
 * document root (S3's model has `noErrorWrapping`; other restXml services wrap it in `<ErrorResponse>`).
 * `members` are the error's extra elements (`<BucketName>`, `<Key>`, …).
 */
export class RestXmlError extends ServiceError<string | number> {}

/** A document with `root` as its element; `namespace` becomes the root's `xmlns`. */
export function xmlDocument(root: string, content: Record<string, unknown>, namespace?: string): string {
  return DECLARATION + builder.build({ [root]: namespace === undefined ? content : { '@_xmlns': namespace, ...content } });
}

export function xmlResponse(
  root: string,
  content: Record<string, unknown>,
  options: { namespace?: string; status?: number; headers?: Record<string, string> } = {},
): ServiceResponse {
  return {
    status: options.status ?? 200,
    headers: { 'content-type': XML_CONTENT_TYPE, ...options.headers },
    body: xmlDocument(root, content, options.namespace),
  };
}

/** The request ids S3 sends: `x-amz-request-id`, and the opaque extended id `x-amz-id-2`. */
export function restXmlRequestIdHeaders(requestId: string): Record<string, string> {
  return { 'x-amz-request-id': requestId, 'x-amz-id-2': randomBytes(24).toString('base64') };
}

export function encodeRestXmlError(error: RestXmlError, requestId: string): ServiceResponse {
  const ids = restXmlRequestIdHeaders(requestId);
  return {
    status: error.status,
    headers: { 'content-type': XML_CONTENT_TYPE, ...ids, ...error.headers },
    body: xmlDocument('Error', {
      Code: error.code,
      Message: error.message,
      ...error.members,
      RequestId: requestId,
      HostId: ids['x-amz-id-2'],
    }),
  };
}

/**
 * Parses a request document. Text is kept as sent (no number parsing, no trimming: an object key
 * `007 ` stays `007 `); elements named in `lists` always come back as arrays, however many there are.
 * Undefined when the body is not well-formed XML.
 */
export function parseXml(body: Buffer, lists: readonly string[]): Record<string, unknown> | undefined {
  const parser = new XMLParser({
    ignoreAttributes: true,
    ignoreDeclaration: true,
    parseTagValue: false,
    trimValues: false,
    htmlEntities: true,
    isArray: (name) => lists.includes(name),
  });
  try {
    const parsed: unknown = parser.parse(body.toString('utf8'), true);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
