import { AwsJsonError, awsJsonProtocol } from '../../wire/aws-json.ts';

/** Step Functions speaks awsJson1.0 with targets `AWSStepFunctions.<Operation>`. */
/** Step Functions throttles with a 400 `ThrottlingException`; its server faults are 500/503 without a modelled shape. */
export const { operationName, parseBody, jsonResponse, encodeError } = awsJsonProtocol('AWSStepFunctions', 'InternalServerError', {
  throttled: ['ThrottlingException', 'Rate exceeded', 400],
  internalError: ['InternalServerError', 'Internal service error', 500],
  unavailable: ['ServiceUnavailable', 'Service unavailable', 503],
});

/** An error in the service's own vocabulary; `status` 5xx marks a server fault. */
export class StepFunctionsError extends AwsJsonError {}
