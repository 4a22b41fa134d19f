import { DONE_STATUS_BY_ACTION } from './fleet-action.ts';
import { manifestFormatOf } from './fleet-manifest.ts';
import { FLEET_RUN_ID_PATTERN, type FleetAction, parseS3Uri } from './fleet-run.ts';
import { type FieldError, isRecord, type Validated } from './validation.ts';

/** `POST /fleet-runs`: a manifest in the fleet bucket, what to do with it, and request-level fields over the manifest's. */
export interface FleetRunRequest {
  fleetRunId?: string;
  manifest: string;
  action: FleetAction;
  /** Every other field of the body: request-level fields (coreDeviceThingName, templateName, …), validated with the manifest. */
  options: Record<string, unknown>;
}

/** Fields a fleet run sets itself: each batch gets its own request id, and the devices come from the manifest. */
const SET_BY_THE_RUN = ['requestId', 'devices'];

/**
 * The body's own fields are checked here; the request-level fields only with the manifest they apply to (a manifest
 * may set them too), by the run's ValidateManifest step, which touches no device when they are wrong.
 */
export function validateFleetRunRequest(body: unknown, fleetBucket: string): Validated<FleetRunRequest> {
  if (!isRecord(body)) return { ok: false, errors: [{ field: '(body)', reason: 'must be a JSON object' }] };
  const { fleetRunId, manifest, action = 'provision', ...options } = body;
  const errors: FieldError[] = [];
  if (fleetRunId !== undefined && (typeof fleetRunId !== 'string' || !FLEET_RUN_ID_PATTERN.test(fleetRunId))) {
    errors.push({ field: 'fleetRunId', reason: 'must be 1-72 characters of a-z, A-Z, 0-9, underscore or hyphen' });
  }
  const location = typeof manifest === 'string' ? parseS3Uri(manifest) : undefined;
  if (location === undefined || manifestFormatOf(location.key) === undefined) {
    errors.push({ field: 'manifest', reason: 'must be s3://<bucket>/<key> of a .csv or .json manifest' });
  } else if (location.bucket !== fleetBucket) {
    errors.push({
      field: 'manifest',
      reason: `must be in the fleet bucket ${fleetBucket} (POST /fleet-uploads gives an upload URL there)`,
    });
  }
  if (typeof action !== 'string' || !Object.hasOwn(DONE_STATUS_BY_ACTION, action))
    errors.push({ field: 'action', reason: 'must be provision or deprovision' });
  for (const name of SET_BY_THE_RUN)
    if (name in options) errors.push({ field: name, reason: 'is set by the fleet run and must not be given' });
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      ...(fleetRunId !== undefined && { fleetRunId: fleetRunId as string }),
      manifest: manifest as string,
      action: action as FleetAction,
      options,
    },
  };
}

/** What idempotency compares: the same fleetRunId with the same manifest, action and options is the same run. */
export function fleetRunIntent({ manifest, action, options }: FleetRunRequest): unknown {
  return { manifest, action, options };
}
