import type { $ZodType } from 'zod/v4/core';
import { deprovisioningRequestSchema, type DeprovisioningRequest } from '../functions/domain/deprovisioning-request.ts';
import { provisioningRequestSchema, type ProvisioningRequest } from '../functions/domain/provisioning-request.ts';
import { isRecord } from '../functions/domain/validation.ts';

export type FleetRequest = ProvisioningRequest | DeprovisioningRequest;
/** A device as a request carries it (a deprovisioning request carries only its name and core device). */
export type Device = ProvisioningRequest['devices'][number];
/** Everything in a request except its id and devices: the same for every request of a manifest. */
export type RequestOptions = Omit<ProvisioningRequest, 'requestId' | 'devices'> | Omit<DeprovisioningRequest, 'requestId' | 'devices'>;
export type DoneStatus = 'PROVISIONED' | 'DEPROVISIONED';

/** What differs between provisioning a fleet and deprovisioning it; the rest of a run is the same. */
export interface FleetWorkflow {
  name: 'provision' | 'deprovision';
  /** The API's collection: `POST /<route>`, `GET /<route>/{requestId}`. */
  route: 'provisioning-requests' | 'deprovisioning-requests';
  schema: $ZodType<FleetRequest>;
  /** The summary status of a device the workflow is done with. */
  doneStatus: DoneStatus;
  /** For messages: "3 provisioned", "skip: deprovisioned by an earlier run". */
  done: 'provisioned' | 'deprovisioned';
  /** Starts every request id, so that the two workflows' ids never meet in one state file. */
  requestIdPrefix: string;
  /** The request-level fields, of the manifest's and the command line's, that this workflow's requests carry. */
  requestFields(fields: Record<string, unknown>): Record<string, unknown>;
  /** The fields of a manifest's device that this workflow's requests carry. */
  requestDevice(device: unknown): unknown;
}

export const PROVISIONING: FleetWorkflow = {
  name: 'provision',
  route: 'provisioning-requests',
  schema: provisioningRequestSchema,
  doneStatus: 'PROVISIONED',
  done: 'provisioned',
  requestIdPrefix: 'm',
  requestFields: (fields) => fields,
  requestDevice: (device) => device,
};

const DEPROVISIONING_REQUEST_FIELDS = ['coreDeviceThingName', 'disassociate', 'detachPrincipals', 'deleteThings'];
const DEPROVISIONING_DEVICE_FIELDS = ['thingName', 'coreDeviceThingName'];

function pick(value: unknown, names: readonly string[]): unknown {
  if (!isRecord(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([name]) => names.includes(name)));
}

/**
 * Takes the manifest that provisioned a fleet as it is: principals, template parameters and template fields
 * are what provisioning needed, and are left out of the deprovisioning requests.
 */
export const DEPROVISIONING: FleetWorkflow = {
  name: 'deprovision',
  route: 'deprovisioning-requests',
  schema: deprovisioningRequestSchema,
  doneStatus: 'DEPROVISIONED',
  done: 'deprovisioned',
  requestIdPrefix: 'd',
  requestFields: (fields) => pick(fields, DEPROVISIONING_REQUEST_FIELDS) as Record<string, unknown>,
  requestDevice: (device) => pick(device, DEPROVISIONING_DEVICE_FIELDS),
};
