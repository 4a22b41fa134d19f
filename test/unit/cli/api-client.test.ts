import { describe, expect, it } from 'vitest';
import { type ApiResult, createFleetApi, type FleetApi, isLoopback, resolveRegion, waitUntilFinished } from '../../../cli/api-client.ts';
import type { RequestStatusResponse } from '../../../functions/domain/fleet-outcomes.ts';
import { DEPROVISIONING, PROVISIONING } from '../../../functions/domain/fleet-workflow.ts';
import type { ProvisioningRequest } from '../../../functions/domain/provisioning-request.ts';

const request: ProvisioningRequest = {
  requestId: 'm0-0',
  thingPrincipalType: 'EXCLUSIVE_THING',
  rollbackOnFailure: true,
  coreDeviceThingName: 'core-a',
  devices: [{ thingName: 'a' }],
};
const noDelay = { initialMs: 0, maxMs: 0 };

/** A fetch that answers from a list and remembers what it was asked. */
function scriptedFetch(...answers: (Response | Error)[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch = async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    const answer = answers.shift();
    if (answer === undefined) throw new Error('no more answers');
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetch: fetch as typeof globalThis.fetch, calls };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('the API client', () => {
  it('signs requests to a remote API for execute-api in the given region, and keeps the stage path', async () => {
    const { fetch, calls } = scriptedFetch(json(202, { requestId: 'm0-0', executionArn: 'arn:x', statusUrl: '/x' }));
    const credentials = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' });
    const api = createFleetApi({
      apiUrl: new URL('https://abc.execute-api.eu-west-1.amazonaws.com/prod'),
      workflow: PROVISIONING,
      region: 'eu-west-1',
      credentials,
      fetch,
      backoff: noDelay,
    });

    const result = await api.submit(request);

    expect(result).toEqual({ ok: true, value: { requestId: 'm0-0', executionArn: 'arn:x', statusUrl: '/x' } });
    expect(calls[0]!.url).toBe('https://abc.execute-api.eu-west-1.amazonaws.com/prod/provisioning-requests');
    const headers = calls[0]!.init.headers as Record<string, string>;
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host/,
    );
    expect(headers).not.toHaveProperty('host');
  });

  it('sends unsigned requests to a loopback API', async () => {
    const { fetch, calls } = scriptedFetch(json(404, { message: 'unknown request' }));
    const api = createFleetApi({ apiUrl: new URL('http://127.0.0.1:3000'), workflow: PROVISIONING, fetch, backoff: noDelay });

    const result = await api.status('m0-0');

    expect(result).toEqual({ ok: false, failure: { code: 'NotFound', message: 'unknown request' } });
    expect(calls[0]!.url).toBe('http://127.0.0.1:3000/provisioning-requests/m0-0');
    expect(calls[0]!.init.headers).not.toHaveProperty('authorization');
  });

  it("sends a deprovisioning run's requests to the deprovisioning routes", async () => {
    const { fetch, calls } = scriptedFetch(json(404, { message: 'unknown request' }), json(404, { message: 'unknown request' }));
    const api = createFleetApi({ apiUrl: new URL('http://127.0.0.1:3000/local'), workflow: DEPROVISIONING, fetch, backoff: noDelay });

    await api.submit({
      requestId: 'd0-0',
      disassociate: true,
      detachPrincipals: true,
      deleteThings: true,
      devices: [{ thingName: 'a', coreDeviceThingName: 'core-a' }],
    });
    await api.status('d0-0');

    expect(calls.map(({ url, init }) => `${init.method} ${url}`)).toEqual([
      'POST http://127.0.0.1:3000/local/deprovisioning-requests',
      'GET http://127.0.0.1:3000/local/deprovisioning-requests/d0-0',
    ]);
  });

  it('repeats a request after a network error, throttling or a server error, but not after a 409', async () => {
    const { fetch, calls } = scriptedFetch(
      new TypeError('fetch failed'),
      json(429, { message: 'slow down' }),
      json(503, {}),
      json(409, { message: 'requestId used with another body' }),
    );
    const api = createFleetApi({ apiUrl: new URL('http://localhost:3000'), workflow: PROVISIONING, fetch, backoff: noDelay });

    const result = await api.submit(request);

    expect(result).toEqual({ ok: false, failure: { code: 'Conflict', message: 'requestId used with another body' } });
    expect(calls).toHaveLength(4);
  });

  it("asks whether the URL is the service's API when the answer is a 403, and does not repeat the request", async () => {
    const { fetch, calls } = scriptedFetch(json(403, { message: 'Missing Authentication Token' }));
    const api = createFleetApi({ apiUrl: new URL('http://127.0.0.1:4566'), workflow: PROVISIONING, fetch, backoff: noDelay });

    expect(await api.submit(request)).toEqual({
      ok: false,
      failure: {
        code: 'Forbidden',
        message: "Missing Authentication Token: is http://127.0.0.1:4566/ this service's API, and may your credentials invoke it?",
      },
    });
    expect(calls).toHaveLength(1);
  });

  it('gives up on a transient failure after four attempts, with the last answer', async () => {
    const { fetch, calls } = scriptedFetch(...Array.from({ length: 4 }, () => json(502, { message: 'bad gateway' })));
    const api = createFleetApi({ apiUrl: new URL('http://localhost:3000'), workflow: PROVISIONING, fetch, backoff: noDelay });

    expect(await api.submit(request)).toEqual({ ok: false, failure: { code: 'HTTP 502', message: 'bad gateway' } });
    expect(calls).toHaveLength(4);
  });

  it('passes on the field errors of a 400', async () => {
    const errors = [{ field: 'devices[0].thingName', reason: 'is bad' }];
    const { fetch } = scriptedFetch(json(400, { message: 'invalid provisioning request', errors }));
    const api = createFleetApi({ apiUrl: new URL('http://localhost:3000'), workflow: PROVISIONING, fetch, backoff: noDelay });

    expect(await api.submit(request)).toEqual({
      ok: false,
      failure: { code: 'InvalidRequest', message: 'invalid provisioning request', fieldErrors: errors },
    });
  });
});

describe('waitUntilFinished', () => {
  const notFound: ApiResult<RequestStatusResponse> = {
    ok: false,
    failure: { code: 'NotFound', message: 'no provisioning request with requestId r' },
  };

  it('asks again while the execution runs or awaits a redrive, and returns the finished status', async () => {
    const answers: RequestStatusResponse[] = [
      { requestId: 'r', executionStatus: 'RUNNING', outcome: 'IN_PROGRESS', startDate: 't0' },
      { requestId: 'r', executionStatus: 'PENDING_REDRIVE', outcome: 'IN_PROGRESS', startDate: 't0' },
      { requestId: 'r', executionStatus: 'ABORTED', outcome: 'UNKNOWN', startDate: 't0', stopDate: 't1' },
    ];
    let asked = 0;
    const api = { status: async () => ({ ok: true, value: answers[asked++]! }) } as unknown as FleetApi;

    expect(await waitUntilFinished(api, 'r', noDelay)).toEqual({ ok: true, value: answers[2] });
    expect(asked).toBe(3);
  });

  it('hands on the progress of each answer while the execution runs, and none of the finished one', async () => {
    const running = (finished: number): RequestStatusResponse => ({
      requestId: 'r',
      executionStatus: 'RUNNING',
      outcome: 'IN_PROGRESS',
      progress: { requested: 3, finished },
      startDate: 't0',
    });
    const answers: RequestStatusResponse[] = [
      running(1),
      { requestId: 'r', executionStatus: 'RUNNING', outcome: 'IN_PROGRESS', startDate: 't0' },
      running(3),
      {
        requestId: 'r',
        executionStatus: 'SUCCEEDED',
        outcome: 'PARTIAL',
        progress: { requested: 3, finished: 3 },
        startDate: 't0',
        stopDate: 't1',
      },
    ];
    let asked = 0;
    const api = { status: async () => ({ ok: true, value: answers[asked++]! }) } as unknown as FleetApi;
    const progress: number[] = [];

    await waitUntilFinished(api, 'r', noDelay, undefined, (reported) => progress.push(reported.finished));
    expect(progress).toEqual([1, 3]);
  });

  it('takes a 404 right after the request was accepted for an execution not visible yet, and asks again', async () => {
    const finished: RequestStatusResponse = {
      requestId: 'r',
      executionStatus: 'SUCCEEDED',
      outcome: 'SUCCEEDED',
      startDate: 't0',
      stopDate: 't1',
    };
    const answers: ApiResult<RequestStatusResponse>[] = [notFound, notFound, { ok: true, value: finished }];
    let asked = 0;
    const api = { status: async () => answers[asked++]! } as unknown as FleetApi;

    expect(await waitUntilFinished(api, 'r', noDelay)).toEqual({ ok: true, value: finished });
    expect(asked).toBe(3);
  });

  it('passes on a 404 once the grace for a new execution is over', async () => {
    let asked = 0;
    const api = {
      status: async () => {
        asked++;
        return notFound;
      },
    } as unknown as FleetApi;

    expect(await waitUntilFinished(api, 'r', { ...noDelay, notVisibleGraceMs: 0 })).toEqual(notFound);
    expect(asked).toBe(1);
  });
});

describe('where requests go', () => {
  it('treats localhost and 127.x.x.x and ::1 as loopback, nothing else', () => {
    expect(
      ['http://localhost:3000', 'http://127.0.0.2', 'http://[::1]:3000', 'https://api.example.com', 'http://10.0.0.1'].map((url) =>
        isLoopback(new URL(url)),
      ),
    ).toEqual([true, true, true, false, false]);
  });

  it('takes the region from --region, then the API Gateway host, then the environment', () => {
    const gateway = new URL('https://abc.execute-api.ap-south-1.amazonaws.com/prod');
    const custom = new URL('https://fleet.example.com');

    expect(resolveRegion(gateway, 'us-east-2', 'eu-west-1')).toBe('us-east-2');
    expect(resolveRegion(gateway, undefined, 'eu-west-1')).toBe('ap-south-1');
    expect(resolveRegion(custom, undefined, 'eu-west-1')).toBe('eu-west-1');
    expect(resolveRegion(custom, undefined, undefined)).toBeUndefined();
  });
});
