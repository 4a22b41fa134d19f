import type { $ZodType } from 'zod/v4/core';
import { type DeprovisioningRequest, deprovisioningRequestSchema } from './deprovisioning-request.ts';
import { DONE_STATUS_BY_ACTION } from './fleet-action.ts';
import type { FleetAction } from './fleet-run-schemas.ts';
import { type ProvisioningRequest, provisioningRequestSchema } from './provisioning-request.ts';
import { isRecord } from './validation.ts';

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
  /** Starts every request id, so that the two workflows' ids never meet. */
  requestIdPrefix: string;
  /** Where the report and the state file go unless `--report` says otherwise. */
  defaultReportPrefix: string;
  /** The request-level fields, of the manifest's and the command line's, that this workflow's requests carry. */
  requestFields(fields: Record<string, unknown>): Record<string, unknown>;
  /** The fields of a manifest's device that this workflow's requests carry. */
  requestDevice(device: unknown): unknown;
}

export const PROVISIONING: FleetWorkflow = {
  name: 'provision',
  route: 'provisioning-requests',
  schema: provisioningRequestSchema,
  doneStatus: DONE_STATUS_BY_ACTION.provision,
  done: 'provisioned',
  requestIdPrefix: 'm',
  defaultReportPrefix: './iot-provision-report',
  requestFields: (fields) => fields,
  requestDevice: (device) => device,
};

/** The fields of a provisioning request (or of its devices) that a deprovisioning one does not have. */
function onlyIn(provisioning: object, deprovisioning: object): string[] {
  return Object.keys(provisioning).filter((name) => !(name in deprovisioning));
}
const PROVISIONING_ONLY_REQUEST_FIELDS = onlyIn(provisioningRequestSchema.shape, deprovisioningRequestSchema.shape);
const PROVISIONING_ONLY_DEVICE_FIELDS = onlyIn(
  provisioningRequestSchema.shape.devices.def.element.shape,
  deprovisioningRequestSchema.shape.devices.def.element.shape,
);

function omit<T>(value: T, names: readonly string[]): T {
  if (!isRecord(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([name]) => !names.includes(name))) as T;
}

/**
 * Takes the manifest that provisioned a fleet as it is: the fields only provisioning has (principals,
 * parameters, template fields) are left out of the deprovisioning requests; any other unknown field is
 * still refused by the schema, so that a misspelt option is never silently ignored.
 */
export const DEPROVISIONING: FleetWorkflow = {
  name: 'deprovision',
  route: 'deprovisioning-requests',
  schema: deprovisioningRequestSchema,
  doneStatus: DONE_STATUS_BY_ACTION.deprovision,
  done: 'deprovisioned',
  requestIdPrefix: 'd',
  defaultReportPrefix: './iot-deprovision-report',
  requestFields: (fields) => omit(fields, PROVISIONING_ONLY_REQUEST_FIELDS),
  requestDevice: (device) => omit(device, PROVISIONING_ONLY_DEVICE_FIELDS),
};

export const FLEET_WORKFLOWS: Record<FleetAction, FleetWorkflow> = { provision: PROVISIONING, deprovision: DEPROVISIONING };
