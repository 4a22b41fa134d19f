/**
 * Why 200: an execution's input and every state's output must stay under Step Functions' 256 KiB
 * payload quota. With 128-character names a device's record takes about 830 bytes and its outcome up to
 * 1.3 KB, so the template and its parameters are kept out of the state (statemachines/provision.asl.yaml).
 * `test/integration/workflow/largest-requests.test.ts` runs the worst cases, `test/unit/functions/domain/summary-and-limits.test.ts` the summary's.
 */
export const MAX_DEVICES_PER_REQUEST = 200;

/** Why two devices must not share a principal: AttachThingPrincipal refuses the second thing. */
export const EXCLUSIVE_PRINCIPAL_REASON = 'with thingPrincipalType EXCLUSIVE_THING a certificate is attached to one thing only';

/** AWS error messages have no documented bound; an outcome keeps this much of one. */
export const MAX_ERROR_MESSAGE_CHARS = 120;

/** A request body this large could not fit, with its template, in one execution input (256 KiB). */
export const MAX_REQUEST_BYTES = 200 * 1024;

export const MAX_TEMPLATE_BODY_CHARS = 10_240;
export const MAX_PARAMETER_KEY_CHARS = 2_048;
export const MAX_PARAMETER_VALUE_CHARS = 4_096;
/**
 * The shared template parameters stay in the execution state beside the records of all its devices until
 * association begins: with 200 devices of 128-character names those take 166 KB, the template up to 20 KB
 * (escaped), and this keeps the whole under 256 KiB. test/integration/workflow/largest-requests.test.ts runs that case.
 */
export const MAX_SHARED_PARAMETERS_BYTES = 32 * 1024;

/** BatchAssociate/BatchDisassociateClientDevice… accept 1–100 entries a call. */
export const MAX_CLIENT_DEVICES_PER_BATCH = 100;

/** Step Functions execution names: 1–80 characters; we keep to a set that is safe in URLs too. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;

export const THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;

/**
 * Every part bounded, because the largest state keeps the ARN twice per device (test/integration/workflow/largest-requests.test.ts):
 * the longest partition today is aws-us-gov (10), the longest region 14 (ap-southeast-1), with room to grow.
 */
export const MAX_PARTITION_CHARS = 16;
export const MAX_REGION_CHARS = 24;
export const CERTIFICATE_ARN_PATTERN = new RegExp(
  `^arn:aws[a-z-]{0,${MAX_PARTITION_CHARS - 3}}:iot:[a-z0-9-]{1,${MAX_REGION_CHARS}}:\\d{12}:cert/[0-9a-f]{64}$`,
);

/** A completion event names at most this many failed devices: far below EventBridge's entry size, whatever the request. */
export const MAX_FAILED_THING_NAMES = 50;
