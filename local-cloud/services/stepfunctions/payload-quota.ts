/**
 * Step Functions' payload quota: 256 KiB of UTF-8, for an execution's input (StartExecution refuses a larger
 * one), a task's effective input (after Parameters) and result, and a state's output. Past it in a running
 * execution AWS fails the execution with States.DataLimitExceeded,
 * which a States.ALL catcher does not catch, so the emulator must too: a workflow that could outgrow it fails
 * its tests here. A state's output is checked as the interpreter logs its exit, by which time the next state
 * may have started; on AWS it would not have.
 */
export const MAX_PAYLOAD_BYTES = 262_144;

export const DATA_LIMIT_EXCEEDED = 'States.DataLimitExceeded';

export function payloadBytes(value: unknown): number {
  return typeof value === 'string' ? Buffer.byteLength(value) : Buffer.byteLength(JSON.stringify(value ?? null));
}

/** Why the payload breaks the quota, in the words of the history's cause; undefined when it fits. */
export function payloadOverQuota(value: unknown, what: string): string | undefined {
  const bytes = payloadBytes(value);
  if (bytes <= MAX_PAYLOAD_BYTES) return undefined;
  return `${what} has a size of ${bytes} bytes, exceeding the maximum of ${MAX_PAYLOAD_BYTES} bytes (the 256 KiB payload quota).`;
}
