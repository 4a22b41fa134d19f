/**
 * The service's contract with its clients: what a request and a manifest may say, what the API and the
 * completion events answer, and the limits and pacing they are held to. The fleet CLI, the benchmark and the
 * scripts import from here and from nowhere else under functions/; the functions themselves import the modules
 * behind it, so that a bundle carries only the schemas it uses.
 */
export { COMPLETION_DETAIL_TYPES } from './domain/completion-event.ts';
export { completionDetailSchema } from './domain/completion-event-schema.ts';
export { type DeprovisioningRequest, deprovisioningRequestSchema } from './domain/deprovisioning-request.ts';
export type { HeldDevice } from './domain/device-leases.ts';
export { executionStatusSchema } from './domain/execution-status.ts';
export {
  coreDeviceOf,
  type ManifestProblem,
  manifestFormatOf,
  type PlannedDevice,
  parseManifest,
  requestBody,
  requestBytes,
  type ValidManifest,
  validateManifest,
  withRequestOverrides,
} from './domain/fleet-manifest.ts';
export {
  type DeviceResult,
  type FinalExecutionStatus,
  type FinishedRequest,
  type FleetDeviceOutcome,
  failedOutcome,
  finishRequest,
  type OutcomeError,
  type RequestProgress,
  type RequestStatusResponse,
} from './domain/fleet-outcomes.ts';
export { type DeviceReportEntry, deviceReportCsv, failureCounts } from './domain/fleet-report.ts';
export { FLEET_COMPLETION_DETAIL_TYPE, FLEET_RUN_ID_PATTERN } from './domain/fleet-run.ts';
export {
  type FleetCompletionDetail,
  type FleetOutcome,
  type FleetRunListItem,
  type FleetRunStatus,
  type FleetTotals,
  fleetCompletionDetailSchema,
  fleetRunListSchema,
  fleetRunRequestSchema,
  fleetRunStatusSchema,
} from './domain/fleet-run-schemas.ts';
export { type FleetUpload, type FleetUploadRequest, fleetUploadRequestSchema, fleetUploadSchema } from './domain/fleet-upload.ts';
export {
  DEPROVISIONING,
  type DoneStatus,
  type FleetRequest,
  type FleetWorkflow,
  PROVISIONING,
  type RequestOptions,
} from './domain/fleet-workflow.ts';
export { EXCLUSIVE_PRINCIPAL_REASON, MAX_DEVICES_PER_REQUEST, MAX_REQUEST_BYTES, REQUEST_ID_PATTERN } from './domain/limits.ts';
export { deviceConcurrency, quotasFromEnvironment } from './domain/pacing.ts';
export { type ProvisioningRequest, provisioningRequestSchema } from './domain/provisioning-request.ts';
export type { DeviceOutcome, RequestSummary, RollbackReport, Step } from './domain/records.ts';
export { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, requestListSchema } from './domain/request-listing.ts';
export {
  requestOutcomeSchema,
  requestProgressSchema,
  requestStatusSchema,
  requestSummarySchema,
} from './domain/request-status.ts';
export { type FieldError, isRecord, validate } from './domain/validation.ts';
