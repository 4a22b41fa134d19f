import { AwsJsonError, awsJsonProtocol } from '../../wire/aws-json.ts';

/** Step Functions speaks awsJson1.0 with targets `AWSStepFunctions.<Operation>`. */
export const { operationName, parseBody, jsonResponse, encodeError } = awsJsonProtocol('AWSStepFunctions', 'InternalServerError');

/** An error in the service's own vocabulary; `status` 5xx marks a server fault. */
export class StepFunctionsError extends AwsJsonError {}
