import type { IntegerShape, StringShape, StructureShape } from '../../wire/validation.ts';
import { MAX_PAYLOAD_BYTES } from './payload-quota.ts';

/** Constraints hand-written from the Step Functions model (states-2016-11-23) for the emulated operations. */

const arn: StringShape = { type: 'string', min: 1, max: 256 };
const name: StringShape = { type: 'string', min: 1, max: 80 };
/** 0 asks for the default page size. */
const pageSize: IntegerShape = { type: 'integer', min: 0, max: 1000 };
const pageToken: StringShape = { type: 'string', min: 1, max: 1024 };
/** The payload quota, which the model states in UTF-8 bytes. */
const sensitiveData: StringShape = { type: 'string', maxBytes: MAX_PAYLOAD_BYTES, sensitive: true };

const EXECUTION_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] as const;

export const listStateMachinesInput: StructureShape = { type: 'structure', members: { maxResults: pageSize, nextToken: pageToken } };

export const stateMachineInput: StructureShape = { type: 'structure', required: ['stateMachineArn'], members: { stateMachineArn: arn } };

export const startExecutionInput: StructureShape = {
  type: 'structure',
  required: ['stateMachineArn'],
  members: { stateMachineArn: arn, name, input: sensitiveData },
};

export const executionInput: StructureShape = { type: 'structure', required: ['executionArn'], members: { executionArn: arn } };

/** `stateMachineArn` or `mapRunArn`, exactly one: checked after the model's constraints, as Step Functions' own rule. */
export const listExecutionsInput: StructureShape = {
  type: 'structure',
  members: {
    stateMachineArn: arn,
    mapRunArn: { type: 'string', min: 1, max: 2000 },
    statusFilter: { type: 'string', enum: EXECUTION_STATUSES },
    maxResults: pageSize,
    nextToken: { type: 'string', min: 1, max: 3096 },
  },
};

export const describeMapRunInput: StructureShape = {
  type: 'structure',
  required: ['mapRunArn'],
  members: { mapRunArn: { type: 'string', min: 1, max: 2000 } },
};

export const listMapRunsInput: StructureShape = {
  type: 'structure',
  required: ['executionArn'],
  members: { executionArn: arn, maxResults: pageSize, nextToken: { type: 'string', min: 1, max: 3096 } },
};

export const getExecutionHistoryInput: StructureShape = {
  type: 'structure',
  required: ['executionArn'],
  members: {
    executionArn: arn,
    maxResults: pageSize,
    reverseOrder: { type: 'boolean' },
    nextToken: pageToken,
    includeExecutionData: { type: 'boolean' },
  },
};

export const stopExecutionInput: StructureShape = {
  type: 'structure',
  required: ['executionArn'],
  members: {
    executionArn: arn,
    error: { type: 'string', max: 256, sensitive: true },
    cause: { type: 'string', max: 32_768, sensitive: true },
  },
};
