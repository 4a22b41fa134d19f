import { RestJsonError } from '../../wire/rest-json.ts';

/** HTTP status of each IoT error shape, from the service model. */
const IOT_ERROR_STATUS = {
  InvalidRequestException: 400,
  ThrottlingException: 400,
  ResourceRegistrationFailureException: 400,
  MalformedPolicyException: 400,
  CertificateValidationException: 400,
  UnauthorizedException: 401,
  ResourceNotFoundException: 404,
  LimitExceededException: 410,
  UnknownOperationException: 404,
  CertificateStateException: 406,
  ConflictingResourceUpdateException: 409,
  VersionConflictException: 409,
  ResourceAlreadyExistsException: 409,
  CertificateConflictException: 409,
  DeleteConflictException: 409,
  InternalFailureException: 500,
  ServiceUnavailableException: 503,
} as const;

export type IotErrorCode = keyof typeof IOT_ERROR_STATUS;

export function iotError(code: IotErrorCode, message: string, members?: Record<string, unknown>): RestJsonError {
  return new RestJsonError(code, IOT_ERROR_STATUS[code], message, members);
}
