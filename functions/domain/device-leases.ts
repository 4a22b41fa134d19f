/**
 * A device (thing name) belongs to at most one running request: before an execution starts, its
 * request takes a lease on every device in a DynamoDB table, with a conditional write that succeeds
 * only where the device is free or the lease is already this request's. The execution's last step
 * releases them. A lease in the way whose request no longer runs (its execution ended, or never
 * started) is taken over: the holder's execution status decides, not a clock, so a long execution
 * keeps its devices however long it runs, and a dead one's are free at once.
 */
export type Workflow = 'provision' | 'deprovision';

export interface LeaseHolder {
  workflow: Workflow;
  requestId: string;
}

export interface HeldDevice {
  thingName: string;
  heldBy: LeaseHolder;
}

/**
 * When DynamoDB's TTL may delete a lease that was never released (its request's start or release died): after
 * Step Functions' longest execution (a year), so TTL only ever collects debris. Conditions never read it.
 */
export const LEASE_TTL_SECONDS = 366 * 24 * 3_600;
/**
 * A lease whose request shows no execution is taken to be starting for this long (the start function
 * writes the lease, then starts the execution), and to be debris of a start that died after it.
 */
export const STARTING_GRACE_SECONDS = 60;
/** Longer than any task function runs (serverless.yml's timeout, 15 s): none of an ended execution's is still at work. */
export const IN_FLIGHT_TASK_GRACE_SECONDS = 60;
/** TransactWriteItems takes at most 100 actions. */
export const LEASES_PER_TRANSACTION = 100;

/**
 * Who holds a lease: the request, and the digest of what it asked, so that a different request reusing
 * the same requestId (answered 409) never counts as the holder of another's leases.
 */
export function leaseOwner(holder: LeaseHolder, requestDigest: string): string {
  return `${holder.workflow}/${holder.requestId}/${requestDigest.slice(0, 16)}`;
}

/**
 * The key of a request's cancel marker, in the leases table beside its device leases: `#` is in no thing name
 * (`[a-zA-Z0-9:_-]`), so a marker never takes a device's place, and it names the owner, so a marker of a
 * request that reused another's requestId (answered 409) never cancels the other.
 */
export function cancelMarkerKey(owner: string): string {
  return `cancel#${owner}`;
}

export function inChunks<T>(items: readonly T[], size = LEASES_PER_TRANSACTION): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}

/** A holder's execution as DescribeExecution shows it; undefined when it has none (yet). */
export interface HolderExecution {
  status: string;
  /** Epoch seconds. */
  stopDate?: number;
}

/**
 * Whether a lease found in the way may be taken over: its execution succeeded (its release was lost); or it
 * ended otherwise (failed, timed out, stopped) long enough ago that no task it had invoked still runs — Step
 * Functions does not stop a Lambda invocation under way, and a rollback may still be removing things; or
 * it never started and the start that wrote the lease is long gone.
 */
export function isStaleLease(execution: HolderExecution | undefined, acquiredAtSeconds: number, nowSeconds: number): boolean {
  if (execution === undefined) return nowSeconds - acquiredAtSeconds > STARTING_GRACE_SECONDS;
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent for RUNNING: a running execution has no stopDate, so the grace check below answers false too
  if (execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE') return false;
  return execution.status === 'SUCCEEDED' || nowSeconds - (execution.stopDate ?? nowSeconds) > IN_FLIGHT_TASK_GRACE_SECONDS;
}

const NAMED_IN_MESSAGE = 5;

/** The 409's message: which devices, held by which requests, and what to do. */
export function heldDevicesMessage(held: readonly HeldDevice[]): string {
  const holders = [
    ...new Set(
      held.map(({ heldBy }) => `${heldBy.workflow === 'provision' ? 'provisioning' : 'deprovisioning'} request ${heldBy.requestId}`),
    ),
  ];
  const names = held.slice(0, NAMED_IN_MESSAGE).map(({ thingName }) => thingName);
  const more = held.length > NAMED_IN_MESSAGE ? ` and ${held.length - NAMED_IN_MESSAGE} more` : '';
  const devices = held.length === 1 ? `device ${names[0]} belongs` : `${held.length} devices (${names.join(', ')}${more}) belong`;
  return `${devices} to running ${holders.join(', ')}; send this request again once ${holders.length > 1 ? 'they have' : 'it has'} finished`;
}
