import { randomUUID } from 'node:crypto';
import { fleetBucket } from '../aws/fleet-bucket.ts';
import { presignedPutUrl } from '../aws/presigned-urls.ts';
import { type FleetUpload, fleetUploadRequestSchema, plannedUpload, UPLOAD_URL_SECONDS } from '../domain/fleet-upload.ts';
import { type FieldError, validate } from '../domain/validation.ts';

export type UploadOutcome = { kind: 'invalid'; errors: FieldError[] } | { kind: 'ready'; upload: FleetUpload };

/**
 * A presigned PUT for a new manifest object under `uploads/<id>/`: a client without S3 permissions uploads with it,
 * then starts the run with `POST /fleet-runs`. Not under `manifests/`, where the upload alone would start a run.
 */
export async function createFleetUpload(body: unknown): Promise<UploadOutcome> {
  const request = validate(fleetUploadRequestSchema, body);
  if (!request.ok) return { kind: 'invalid', errors: request.errors };
  const bucket = fleetBucket();
  const { key, contentType } = plannedUpload(request.value, randomUUID());
  const expiresAt = new Date(Date.now() + UPLOAD_URL_SECONDS * 1000);
  const uploadUrl = await presignedPutUrl(bucket, key, contentType, UPLOAD_URL_SECONDS);
  return {
    kind: 'ready',
    upload: {
      uploadUrl,
      manifest: `s3://${bucket}/${key}`,
      expiresAt: expiresAt.toISOString(),
      method: 'PUT',
      headers: { 'Content-Type': contentType },
    },
  };
}
