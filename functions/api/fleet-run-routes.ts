import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { FLEET_RUN_ID_PATTERN } from '../domain/fleet-run.ts';
import type { FleetRunListItem } from '../domain/fleet-run-schemas.ts';
import { cancelFleetRun, fleetRunStatus, listFleetRuns, submitFleetRun } from './fleet-runs.ts';
import { createFleetUpload } from './fleet-uploads.ts';
import { badRequest, header, jsonBodyOf, jsonResponse, pathParameter, statusUrl } from './http.ts';
import { cancelledStatusUrl, listPage, retryLater } from './request-routes.ts';

const INVALID_PATH_FLEET_RUN_ID = [{ field: 'path.fleetRunId', reason: 'must be 1-72 characters of a-z, A-Z, 0-9, underscore or hyphen' }];

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
      return jsonResponse(202, {
        fleetRunId: outcome.fleetRunId,
        executionArn: outcome.executionArn,
        statusUrl: statusUrl(event, outcome.fleetRunId),
      });
  }
}

/** `GET /fleet-runs/{fleetRunId}`: the run's status, its counts so far and, once it has ended, its report or its error. */
export async function getFleetRun(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const fleetRunId = pathParameter(event, 'fleetRunId');
  if (!FLEET_RUN_ID_PATTERN.test(fleetRunId)) return badRequest(INVALID_PATH_FLEET_RUN_ID);
  const status = await fleetRunStatus(fleetRunId).catch(retryLater);
  if (status && 'statusCode' in status) return status;
  return status ? jsonResponse(200, status) : jsonResponse(404, { message: `no fleet run with fleetRunId ${fleetRunId}` });
}

/** `GET /fleet-runs?status=&limit=&nextToken=`: fleet runs, newest first, a page at a time. */
export async function getFleetRuns(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const page = await listPage(event, listFleetRuns);
  if ('statusCode' in page) return page;
  const fleetRuns = page.items.map(({ name, ...item }): FleetRunListItem => ({ fleetRunId: name, ...item }));
  return jsonResponse(200, { fleetRuns, ...(page.nextToken && { nextToken: page.nextToken }) });
}

/**
 * `POST /fleet-runs/{fleetRunId}/cancel`: 202 while the run runs (no new batch starts; the batches under way finish or
 * roll back; GET shows the outcome), the same again for a repeated cancel; 409 once the run has ended; 404 for no such run.
 */
export async function postFleetRunCancel(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const fleetRunId = pathParameter(event, 'fleetRunId');
  if (!FLEET_RUN_ID_PATTERN.test(fleetRunId)) return badRequest(INVALID_PATH_FLEET_RUN_ID);
  const outcome = await cancelFleetRun(fleetRunId).catch(retryLater);
  if ('statusCode' in outcome) return outcome;
  const url = cancelledStatusUrl(event, fleetRunId);
  switch (outcome.kind) {
    case 'unknown':
      return jsonResponse(404, { message: `no fleet run with fleetRunId ${fleetRunId}` });
    case 'finished':
      return jsonResponse(409, {
        message: `fleet run ${fleetRunId} has already ended (its execution is ${outcome.executionStatus}): there is nothing to cancel`,
        fleetRunId,
        executionArn: outcome.executionArn,
        executionStatus: outcome.executionStatus,
        statusUrl: url,
      });
    case 'cancelling':
      return jsonResponse(202, {
        fleetRunId,
        executionArn: outcome.executionArn,
        statusUrl: url,
        batchesCancelled: outcome.batchesCancelled,
      });
  }
}

/** `POST /fleet-uploads`: 201 with a presigned PUT URL for a new manifest in the fleet bucket; 400/415 for a bad body. */
export async function postFleetUpload(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  // No body at all takes the defaults, as `{}` does.
  const body =
    event.body === null || event.body === undefined || event.body.trim() === '' ? { ok: true as const, value: {} } : jsonBodyOf(event);
  if (!body.ok) return body.response;
  const outcome = await createFleetUpload(body.value);
  return outcome.kind === 'invalid' ? badRequest(outcome.errors) : jsonResponse(201, outcome.upload);
}
