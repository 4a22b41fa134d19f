import type { FleetAction } from './fleet-run-schemas.ts';
import type { DoneStatus } from './fleet-workflow.ts';

/**
 * The status a fleet run's action leaves a device in when it is done with it. Apart from fleet-workflow.ts, whose
 * request schemas only the manifest's validation needs: the other fleet functions import this without building them.
 */
export const DONE_STATUS_BY_ACTION: Record<FleetAction, DoneStatus> = { provision: 'PROVISIONED', deprovision: 'DEPROVISIONED' };
