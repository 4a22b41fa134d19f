/**
 * The bucket every fleet run keeps its files in (serverless.yml: FleetBucket). Apart from fleet-streams.ts, so that
 * a function that only names the bucket (POST and GET /fleet-runs, the upload trigger) does not bundle the S3 client.
 */
export function fleetBucket(): string {
  const bucket = process.env.FLEET_BUCKET;
  if (!bucket) throw new Error('FLEET_BUCKET is not set: the function is misconfigured');
  return bucket;
}
