import type * as z from 'zod/mini';
import type { deviceOutcomeSchema, requestSummarySchema, rollbackReportSchema, stepErrorSchema, stepSchema } from './request-status.ts';

/** Shapes that flow through the state machines. The ASL files move them; these types name them. */

export type ThingPrincipalType = 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING';

export interface Correlation {
  requestId: string;
  executionName: string;
}

export type Step = z.infer<typeof stepSchema>;

export type StepError = z.infer<typeof stepErrorSchema>;

export interface DeviceSpec {
  thingName: string;
  coreDeviceThingName: string;
  principal?: string;
  parameters?: Record<string, string>;
}

/** What the execution saw before touching a thing: rollback never removes what was already there. */
export interface PriorState {
  thingExisted: boolean;
  /** The device's principal was already attached to the existing thing. */
  principalAttached: boolean;
  /**
   * The type of that attachment, recorded only when the request asks for the other one: AttachPrincipal
   * converts it, and a rollback converts it back.
   */
  principalType?: ThingPrincipalType;
}

/** NOT_STARTED: a cancel reached the device before its first step (docs/workflow.md, Cancelling a request). */
export type DeviceStatus = 'PENDING' | 'REGISTERED' | 'PROVISIONED' | 'FAILED' | 'DEPROVISIONED' | 'NOT_STARTED';

/** One device's progress and, at the end, its single recorded outcome. */
export interface DeviceRecord {
  thingName: string;
  coreDeviceThingName: string;
  status: DeviceStatus;
  principal?: string;
  prior?: PriorState;
  thingArn?: string;
  certificateArn?: string;
  /** The certificate was issued by this execution's RegisterThing (a template with a CSR). */
  certificateCreated?: boolean;
  error?: StepError;
  rollback?: RollbackReport;
}

/** The device's record so far, or a fresh PENDING one when no task has written it yet. */
export function recordOf(spec: DeviceSpec, device: DeviceRecord | undefined): DeviceRecord {
  return (
    device ?? {
      thingName: spec.thingName,
      coreDeviceThingName: spec.coreDeviceThingName,
      status: 'PENDING',
      ...(spec.principal && { principal: spec.principal }),
    }
  );
}

export type RollbackReport = z.infer<typeof rollbackReportSchema>;

export interface ProvisioningExecutionInput {
  requestId: string;
  templateName?: string;
  templateBody: string;
  /** The template issues a new certificate per call (a CSR): rollback may delete it. */
  templateIssuesCertificate: boolean;
  templateParameters: Record<string, string>;
  thingPrincipalType: ThingPrincipalType;
  rollbackOnFailure: boolean;
  /** Derived from the configured API quotas: see functions/domain/pacing.ts. */
  pacing: { deviceConcurrency: number };
  devices: DeviceSpec[];
}

/** The input of each per-device task inside the provisioning Map. */
export type DeviceTaskInput = Pick<
  ProvisioningExecutionInput,
  'templateBody' | 'templateIssuesCertificate' | 'templateParameters' | 'thingPrincipalType' | 'rollbackOnFailure'
> & {
  spec: DeviceSpec;
  /** The owner string of the request's leases (the execution input's), which names its cancel marker. */
  leaseOwner?: string;
  /** Written by each task in turn (ResultPath `$.device`); absent until inspection succeeds. */
  device?: DeviceRecord;
  correlation: Correlation;
  /** The Catch of a failed step puts Step Functions' error here. */
  failure?: { Error: string; Cause?: string };
};

export interface ClientDeviceBatch {
  coreDeviceThingName: string;
  /** Devices still to send; after a call, only those whose error entry was retryable. */
  pending: string[];
  done: string[];
  failed: { thingName: string; code: string; message: string }[];
  attempt: number;
  retryDelaySeconds: number;
  /** The name of the error with which the whole call kept failing until the state machine gave up on it. */
  callError?: { Error: string };
  /** Devices a cancel reached before the batch's first call: none of them was sent. */
  notStarted?: string[];
}

/**
 * A batch the state machine is done with. A finished one keeps only its outcomes; one whose call kept failing
 * keeps its pending devices and the error.
 */
export type SettledBatch = Pick<ClientDeviceBatch, 'done' | 'failed'> &
  Partial<Pick<ClientDeviceBatch, 'pending' | 'callError' | 'notStarted'>>;

/** The provisioning state from PlanAssociations to SettleAssociations: the records and their batches. */
export type AssociationState<Batch extends SettledBatch> = Pick<
  ProvisioningExecutionInput,
  'requestId' | 'pacing' | 'rollbackOnFailure'
> & {
  devices: DeviceRecord[];
  associationBatches: Batch[];
};

export type RequestSummary = z.infer<typeof requestSummarySchema>;

export type RequestStatus = RequestSummary['status'];

export type DeviceOutcome = z.infer<typeof deviceOutcomeSchema>;
