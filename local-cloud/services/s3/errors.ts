import { RestXmlError } from '../../wire/rest-xml.ts';

/** S3's error codes with their statuses and the messages S3 sends, plus the elements it adds to each. */

export const s3Error = (code: string, status: number, message: string, members: Record<string, string | number> = {}) =>
  new RestXmlError(code, status, message, members);

export const noSuchBucket = (bucket: string) => s3Error('NoSuchBucket', 404, 'The specified bucket does not exist', { BucketName: bucket });

export const noSuchKey = (key: string) => s3Error('NoSuchKey', 404, 'The specified key does not exist.', { Key: key });

export const noSuchUpload = (uploadId: string) =>
  s3Error(
    'NoSuchUpload',
    404,
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    { UploadId: uploadId },
  );

export const invalidArgument = (message: string, name: string, value: string) =>
  s3Error('InvalidArgument', 400, message, { ArgumentName: name, ArgumentValue: value });

export const invalidRequest = (message: string) => s3Error('InvalidRequest', 400, message);

export const malformedXml = () =>
  s3Error('MalformedXML', 400, 'The XML you provided was not well-formed or did not validate against our published schema');

export const badDigest = (what: string) => s3Error('BadDigest', 400, `The ${what} you specified did not match the calculated checksum.`);

export const incompleteBody = () =>
  s3Error('IncompleteBody', 400, 'You did not provide the number of bytes specified by the Content-Length HTTP header');

export const notImplemented = (what: string) =>
  s3Error(
    'NotImplemented',
    501,
    `A header or query you provided implies functionality that is not implemented: the local cloud does not emulate ${what}`,
  );
