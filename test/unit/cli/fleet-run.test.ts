import { describe, expect, it } from 'vitest';
import type { ApiResult, FleetApi } from '../../../cli/api-client.ts';
import { type FleetRunDependencies, runFleet } from '../../../cli/fleet-run.ts';
import type { FleetPlan } from '../../../cli/plan.ts';
import type { PlannedDevice } from '../../../functions/domain/fleet-manifest.ts';
import type { RequestStatusResponse } from '../../../functions/domain/fleet-outcomes.ts';
import { type FleetRequest, PROVISIONING } from '../../../functions/domain/fleet-workflow.ts';

function plan(chunkSizes: number[]): FleetPlan {
  let index = 0;
  return {
    workflow: PROVISIONING,
    options: { coreDeviceThingName: 'core-a', thingPrincipalType: 'EXCLUSIVE_THING', rollbackOnFailure: true },
    chunks: chunkSizes.map((size, chunk) => ({
      index: chunk,
      requestId: `m000000000000-${chunk}`,
      devices: Array.from({ length: size }, (): PlannedDevice => {
        index += 1;
        return { index: index - 1, line: index + 1, where: `line ${index + 1}`, device: { thingName: `d${index - 1}` } };
      }),
    })),
  };
}

function dependencies(api: Partial<FleetApi>, concurrency = 4): FleetRunDependencies {
  return {
    api: api as FleetApi,
    state: new Map(),
    recordFinished: async () => {},
    startProgress: () => ({ running: () => {}, settle: () => {}, stop: () => {} }),
    concurrency,
    pollBackoff: { initialMs: 0, maxMs: 0, notVisibleGraceMs: 0 },
  };
}

const succeeded = (request: FleetRequest): ApiResult<RequestStatusResponse> => ({
  ok: true,
  value: {
    requestId: request.requestId!,
    executionStatus: 'SUCCEEDED',
    outcome: 'SUCCEEDED',
    startDate: 't0',
    summary: {
      requestId: request.requestId!,
      status: 'SUCCEEDED',
      counts: { requested: request.devices.length, succeeded: request.devices.length, failed: 0, rolledBack: 0 },
      devices: request.devices.map(({ thingName }) => ({ thingName, status: 'PROVISIONED', coreDeviceThingName: 'core-a' })),
    },
  },
});

describe('runFleet', () => {
  it('keeps at most `concurrency` requests in flight', async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    const sent = new Map<string, FleetRequest>();
    const api: Partial<FleetApi> = {
      async submit(request) {
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        sent.set(request.requestId!, request);
        return { ok: true, value: { requestId: request.requestId!, executionArn: 'arn', statusUrl: '/' } };
      },
      async status(requestId) {
        await new Promise((resolve) => setImmediate(resolve));
        inFlight -= 1;
        return succeeded(sent.get(requestId)!);
      },
    };

    const result = await runFleet(plan([1, 1, 1, 1, 1, 1, 1]), dependencies(api, 3));

    expect(mostInFlight).toBe(3);
    expect(result.devices.map(({ outcome }) => outcome.status)).toEqual(Array(7).fill('PROVISIONED'));
  });

  it('gives each device of a rejected request the errors about itself, at its manifest line', async () => {
    const api: Partial<FleetApi> = {
      submit: async () => ({
        ok: false,
        failure: {
          code: 'InvalidRequest',
          message: 'invalid provisioning request',
          fieldErrors: [
            { field: 'devices[1].principal', reason: 'is required' },
            { field: 'templateName', reason: 'is unknown' },
          ],
        },
      }),
    };

    const result = await runFleet(plan([2]), dependencies(api));

    expect(result.devices.map(({ outcome }) => outcome.error)).toEqual([
      { step: 'submit', code: 'InvalidRequest', message: 'invalid provisioning request: templateName: is unknown' },
      {
        step: 'submit',
        code: 'InvalidRequest',
        message: 'invalid provisioning request: line 3 principal: is required; templateName: is unknown',
      },
    ]);
    expect(result.requests).toMatchObject([{ result: 'not-submitted', failure: { code: 'InvalidRequest' } }]);
  });

  it('fails the devices of a request whose status cannot be read, and does not record it as finished', async () => {
    const recorded: string[] = [];
    const api: Partial<FleetApi> = {
      submit: async (request) => ({ ok: true, value: { requestId: request.requestId!, executionArn: 'arn:execution', statusUrl: '/' } }),
      status: async () => ({ ok: false, failure: { code: 'NotFound', message: 'unknown request' } }),
    };

    const result = await runFleet(plan([2]), {
      ...dependencies(api),
      recordFinished: async ({ requestId }) => void recorded.push(requestId),
    });

    expect(result.devices.map(({ outcome }) => outcome.error)).toEqual(
      Array(2).fill({ step: 'status', code: 'NotFound', message: 'unknown request (execution arn:execution)' }),
    );
    expect(result.requests).toMatchObject([{ result: 'status-unknown', executionArn: 'arn:execution' }]);
    expect(recorded).toEqual([]);
  });
});
