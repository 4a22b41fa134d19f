import type * as z from 'zod/mini';
import type { executionStatusSchema } from './execution-status.ts';
import type { PlannedDevice } from './fleet-manifest.ts';
import type { DoneStatus } from './fleet-workflow.ts';
import type { DeviceOutcome, RequestSummary, Step } from './records.ts';
import type { requestOutcomeSchema, requestProgressSchema } from './request-status.ts';

/** Steps of the CLI itself, beside the workflow's: the request could not be sent, or its execution gave no usable summary. */
type ClientStep = 'submit' | 'status';

export interface OutcomeError {
  step: Step | ClientStep;
  code: string;
  message: string;
}

/**
 * Every device of the manifest ends with exactly one of these: done (provisioned, or deprovisioned), failed with a
 * reason, or NOT_STARTED (its request was cancelled before it: nothing was done to it). Only done devices are
 * skipped when a run is resumed.
 */
export interface FleetDeviceOutcome extends Omit<DeviceOutcome, 'status' | 'error' | 'coreDeviceThingName'> {
  status: DoneStatus | 'FAILED' | 'NOT_STARTED';
  /** None only for a device deprovisioned without being disassociated. */
  coreDeviceThingName?: string;
  error?: OutcomeError;
}

type ExecutionStatus = z.infer<typeof executionStatusSchema>;
/** A redrive restarts a failed execution, so PENDING_REDRIVE is not final either. */
export type FinalExecutionStatus = Exclude<ExecutionStatus, 'RUNNING' | 'PENDING_REDRIVE'>;
export type RequestProgress = z.infer<typeof requestProgressSchema>;

/** `GET /provisioning-requests/{requestId}` (or `/deprovisioning-requests/…`): the fields the CLI reads. */
export interface RequestStatusResponse {
  requestId: string;
  executionStatus: ExecutionStatus;
  outcome: z.infer<typeof requestOutcomeSchema>;
  /** While the execution runs: its devices through their own steps so far. */
  progress?: RequestProgress;
  startDate: string;
  stopDate?: string;
  summary?: RequestSummary;
}

/** A request whose execution has ended, with one outcome per device it carried: what resuming relies on. */
export interface FinishedRequest {
  requestId: string;
  executionStatus: FinalExecutionStatus;
  devices: FleetDeviceOutcome[];
}

/** A device's final outcome and the request that produced it. */
export interface DeviceResult {
  planned: PlannedDevice;
  requestId: string;
  outcome: FleetDeviceOutcome;
  /** Done by an earlier run and not sent again. */
  resumed?: true;
}

/** The identity of a device as sent: its name and the core device it was to be associated with. */
interface SentDevice {
  thingName: string;
  coreDeviceThingName: string | undefined;
}

/**
 * One outcome per device sent, whatever the summary holds: a device the summary leaves out, or a request
 * whose execution ended without a summary, counts as failed rather than silently vanishing from the report.
 */
export function finishRequest(
  requestId: string,
  status: FinalExecutionStatus,
  summary: RequestSummary | undefined,
  sent: readonly SentDevice[],
  doneStatus: DoneStatus,
): FinishedRequest {
  const reported = new Map(summary?.devices.map((outcome) => [outcome.thingName, outcome]));
  const devices = sent.map((device): FleetDeviceOutcome => {
    const outcome = reported.get(device.thingName);
    if (outcome === undefined) {
      return summary === undefined
        ? failedOutcome(device, { step: 'status', code: status, message: `the execution ended ${status} without a summary` })
        : failedOutcome(device, { step: 'status', code: 'MissingOutcome', message: 'the request summary has no outcome for this device' });
    }
    // A device deprovisioned without a core device has '' there in the summary.
    const fromSummary = { ...outcome, coreDeviceThingName: outcome.coreDeviceThingName || undefined };
    if (outcome.status === doneStatus) return { ...fromSummary, status: doneStatus };
    if (outcome.status === 'NOT_STARTED') return { ...fromSummary, status: 'NOT_STARTED' };
    return {
      ...fromSummary,
      status: 'FAILED',
      error: outcome.error ?? {
        step: 'status',
        code: `Unexpected${outcome.status}`,
        message: `the summary reports ${outcome.status} with no error`,
      },
    };
  });
  return { requestId, executionStatus: status, devices };
}

export function failedOutcome(device: SentDevice, error: OutcomeError): FleetDeviceOutcome {
  return { thingName: device.thingName, coreDeviceThingName: device.coreDeviceThingName, status: 'FAILED', error };
}
