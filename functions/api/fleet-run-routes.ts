import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { FLEET_RUN_ID_PATTERN } from '../domain/fleet-run.ts';
import { badRequest, header, jsonBodyOf, jsonResponse, statusUrl } from './http.ts';
import { fleetRunStatus, submitFleetRun } from './fleet-runs.ts';
import { retryLater } from './request-routes.ts';

/** `POST /fleet-runs`: 202 with where to follow the run; 400/415 for a bad body; 409 for a fleetRunId used with another manifest or options. */
export async function postFleetRun(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const body = jsonBodyOf(event);
  if (!body.ok) return body.response;
  const outcome = await submitFleetRun(body.value, header(event, 'Idempotency-Key')).catch(retryLater);
  if ('statusCode' in outcome) return outcome;
  switch (outcome.kind) {
    case 'invalid':
      return badRequest(outcome.errors);
    case 'conflict':
      return jsonResponse(409, {
        message: `fleetRunId ${outcome.fleetRunId} was already used with another manifest, action or options; use a new fleetRunId`,
        fleetRunId: outcome.fleetRunId,
        executionArn: outcome.executionArn,
      });
    case 'started':
      return jsonResponse(202, { fleetRunId: outcome.fleetRunId, executionArn: outcome.executionArn, statusUrl: statusUrl(event, outcome.fleetRunId) });
  }
}

/** `GET /fleet-runs/{fleetRunId}`: the run's status, its counts so far and, once it has ended, its report or its error. */
export async function getFleetRun(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const fleetRunId = event.pathParameters?.fleetRunId ?? '';
  if (!FLEET_RUN_ID_PATTERN.test(fleetRunId)) return badRequest([{ field: 'path.fleetRunId', reason: 'must be 1-72 characters of a-z, A-Z, 0-9, underscore or hyphen' }]);
  const status = await fleetRunStatus(fleetRunId).catch(retryLater);
  if (status && 'statusCode' in status) return status;
  return status ? jsonResponse(200, status) : jsonResponse(404, { message: `no fleet run with fleetRunId ${fleetRunId}` });
}
