import * as z from 'zod/mini';
import { manifestFormatOf } from './fleet-manifest.ts';

/** Long enough to upload a large manifest over a slow link; short enough that a leaked URL soon stops working. */
export const UPLOAD_URL_SECONDS = 900;

/** Uploads go under their own prefix: not `manifests/`, where an upload would start a run of its own. */
export const UPLOADS_PREFIX = 'uploads/';

const FILE_NAME_REASON = 'must be 1-100 characters of a-z, A-Z, 0-9, dot, underscore or hyphen, ending in .csv or .json';
/** A media type as a Content-Type header carries it, parameters and all (`text/csv; charset=utf-8`). */
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[^"]*"|[A-Za-z0-9!#$&^_.+-]+))*$/;

/** `POST /fleet-uploads`: what the client will upload, both optional. */
export const fleetUploadRequestSchema = z
  .strictObject({
    fileName: z.optional(
      z.string().check(
        z.regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/, FILE_NAME_REASON),
        z.refine((name) => manifestFormatOf(name) !== undefined, FILE_NAME_REASON),
        z.meta({
          description: 'The manifest’s file name; its extension says its format (docs/fleet-cli.md, Manifests). Default manifest.csv.',
        }),
      ),
    ),
    contentType: z.optional(
      z.string().check(
        z.maxLength(200, 'must be at most 200 characters'),
        z.regex(MEDIA_TYPE, 'must be a media type such as text/csv or application/json'),
        z.meta({
          description:
            'The Content-Type the upload will send; it is signed into the URL. Default text/csv or application/json, after the file name.',
        }),
      ),
    ),
  })
  .check(
    z.meta({
      id: 'FleetUploadRequest',
      description: 'What POST /fleet-uploads is told of the manifest to upload; an empty object takes the defaults.',
    }),
  );

export const fleetUploadSchema = z
  .strictObject({
    uploadUrl: z
      .string()
      .check(z.meta({ description: 'A presigned S3 PUT URL for the new manifest object; it works once per upload and until expiresAt.' })),
    manifest: z
      .string()
      .check(
        z.meta({ description: 'The object the upload creates, as POST /fleet-runs takes it: s3://<bucket>/uploads/<id>/<fileName>.' }),
      ),
    expiresAt: z.iso.datetime().check(z.meta({ description: 'When the upload URL stops working.' })),
    method: z.literal('PUT'),
    headers: z
      .record(z.string(), z.string())
      .check(z.meta({ description: 'Headers the upload must send as they are: they are signed into the URL.' })),
  })
  .check(
    z.meta({
      id: 'FleetUpload',
      description: 'Where to upload a manifest without S3 permissions; then POST /fleet-runs with its manifest.',
    }),
  );

export type FleetUploadRequest = z.infer<typeof fleetUploadRequestSchema>;
export type FleetUpload = z.infer<typeof fleetUploadSchema>;

const DEFAULT_FILE_NAME = 'manifest.csv';
const CONTENT_TYPES = { csv: 'text/csv', json: 'application/json' } as const;

/** The new object's key and the Content-Type its upload is signed for: each upload gets a prefix of its own. */
export function plannedUpload(request: FleetUploadRequest, uploadId: string): { key: string; contentType: string } {
  const fileName = request.fileName ?? DEFAULT_FILE_NAME;
  // Stryker disable next-line StringLiteral: equivalent: the schema admits only names with a manifest format
  const format = manifestFormatOf(fileName) ?? 'csv';
  return { key: `${UPLOADS_PREFIX}${uploadId}/${fileName}`, contentType: request.contentType ?? CONTENT_TYPES[format] };
}
