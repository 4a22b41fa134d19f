import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { fleetRunStatusSchema } from '../../../../functions/domain/fleet-run-schemas.ts';
import { useFleetHarness } from '../../../support/fleet-runs.ts';
import { useServiceCloud } from '../../../support/service-cloud.ts';

/**
 * The fleet-run routes (api/fleet-run-routes.ts, api/fleet-runs.ts) on runs of a few devices, quick enough for `npm run
 * mutation`; a cancel while a run runs is fleet-run-routes-real-time.test.ts; fleet runs at size, under faults and
 * cancelled mid-batch are test/integration/workflow/fleet-run*.test.ts.
 */
describe('fleet-run routes', () => {
  const cloud = useServiceCloud({ coreDevices: ['core-1'], keyAlgorithm: 'ec-p256' });
  const fleet = useFleetHarness(cloud);

  it('a run: 202 with where to follow it; once ended GET answers its counts, report and report URLs presigned for 15 minutes; the same id and manifest reach the same run, another manifest is 409; a cancel is 409', async () => {
    const manifest = await fleet.uploadDevices('staged/small.csv', 'small', 2, 'core-1');
    const accepted = await fleet.post({ fleetRunId: 'small-run', manifest });
    expect(accepted).toEqual({
      statusCode: 202,
      body: {
        fleetRunId: 'small-run',
        executionArn: expect.stringMatching(/:execution:.*:small-run$/),
        statusUrl: 'https://api.test/fleet-runs/small-run',
      },
    });
    const { executionArn } = accepted.body;
    const { status, output } = await fleet.waitForEnd(executionArn);
    expect(status).toBe('SUCCEEDED');

    const before = Date.now();
    const answer = await fleet.get('small-run');
    expect(answer.statusCode).toBe(200);
    expect(fleetRunStatusSchema.safeParse(answer.body).success).toBe(true);
    expect(answer.body).toMatchObject({
      fleetRunId: 'small-run',
      executionArn,
      executionStatus: 'SUCCEEDED',
      manifest,
      devices: { total: 2, done: 2, succeeded: 2, failed: 0, rolledBack: 0, notStarted: 0, pending: 0 },
      batches: { total: 1, done: 1, failed: 0 },
      outcome: 'SUCCEEDED',
      report: output!.report,
    });
    expect(answer.body.cancelled).toBeUndefined();
    const expiresAt = Date.parse(answer.body.reportUrls.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 15 * 60_000 - 1_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    for (const [format, key] of [
      ['json', 'report.json'],
      ['csv', 'report.csv'],
    ] as const) {
      const url = new URL(answer.body.reportUrls[format]);
      expect(url.pathname).toBe(`/${fleet.bucket}/fleet-runs/small-run/${key}`);
      expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
      expect(await (await fetch(url)).text()).toBe(await fleet.readText(`fleet-runs/small-run/${key}`));
    }

    expect(await fleet.post({ fleetRunId: 'small-run', manifest })).toEqual({
      statusCode: 202,
      body: { fleetRunId: 'small-run', executionArn, statusUrl: 'https://api.test/fleet-runs/small-run' },
    });
    const other = await fleet.uploadDevices('staged/other.csv', 'other', 1, 'core-1');
    expect(await fleet.post({ fleetRunId: 'small-run', manifest: other })).toEqual({
      statusCode: 409,
      body: {
        message: 'fleetRunId small-run was already used with another manifest, action or options; use a new fleetRunId',
        fleetRunId: 'small-run',
        executionArn,
      },
    });
    expect(await fleet.cancel('small-run')).toEqual({
      statusCode: 409,
      body: {
        message: 'fleet run small-run has already ended (its execution is SUCCEEDED): there is nothing to cancel',
        fleetRunId: 'small-run',
        executionArn,
        executionStatus: 'SUCCEEDED',
        statusUrl: 'https://api.test/fleet-runs/small-run',
      },
    });
  });

  it('names a run after the Idempotency-Key header when the body names none, and lists runs with a limit and a status', async () => {
    const manifest = await fleet.uploadDevices('staged/keyed.csv', 'keyed', 1, 'core-1');
    const call = (await import('../../../../functions/start-fleet-run.ts')).handler;
    const { lambdaContext } = await import('../../../support/task-fixtures.ts');
    const keyed = (await call(
      {
        headers: { Host: 'api.test', 'Idempotency-Key': 'keyed-run' },
        httpMethod: 'POST',
        path: '/fleet-runs',
        body: JSON.stringify({ manifest }),
      } as never,
      lambdaContext(30_000),
    )) as {
      statusCode: number;
      body: string;
    };
    expect(keyed.statusCode).toBe(202);
    expect(JSON.parse(keyed.body)).toMatchObject({ fleetRunId: 'keyed-run', statusUrl: 'https://api.test/fleet-runs/keyed-run' });
    await fleet.waitForEnd(JSON.parse(keyed.body).executionArn);
    const second = await fleet.post({ fleetRunId: 'second-run', manifest: `s3://${fleet.bucket}/staged/none.csv` });
    await fleet.waitForEnd(second.body.executionArn);

    const listed = await fleet.list({ limit: '1' });
    expect(listed).toMatchObject({
      statusCode: 200,
      body: {
        fleetRuns: [{ fleetRunId: 'second-run', executionArn: second.body.executionArn, executionStatus: 'FAILED' }],
        nextToken: expect.any(String),
      },
    });
    expect((await fleet.list()).body).toEqual({
      fleetRuns: [
        expect.objectContaining({ fleetRunId: 'second-run' }),
        expect.objectContaining({ fleetRunId: 'keyed-run', executionStatus: 'SUCCEEDED' }),
      ],
    });
    expect((await fleet.list({ status: 'SUCCEEDED' })).body.fleetRuns.map((run: { fleetRunId: string }) => run.fleetRunId)).toEqual([
      'keyed-run',
    ]);
    expect((await fleet.list({ limit: '1', nextToken: listed.body.nextToken })).body).toEqual({
      fleetRuns: [expect.objectContaining({ fleetRunId: 'keyed-run' })],
    });
  });

  it('GET of a run that failed before its batches (no Map Run) answers its error, and for an invalid manifest where its problems are', async () => {
    const missing = await fleet.post({ fleetRunId: 'missing-run', manifest: `s3://${fleet.bucket}/staged/missing.csv` });
    await fleet.waitForEnd(missing.body.executionArn);
    const answer = await fleet.get('missing-run');
    expect(answer).toMatchObject({
      statusCode: 200,
      body: { fleetRunId: 'missing-run', executionStatus: 'FAILED', error: { code: expect.any(String) } },
    });
    expect(answer.body.devices).toBeUndefined();
    const invalid = await fleet.post({
      fleetRunId: 'invalid-run',
      manifest: await fleet.upload('staged/invalid.csv', 'thingName,principal\nbad name,nothing'),
    });
    await fleet.waitForEnd(invalid.body.executionArn);
    expect(await fleet.get('invalid-run')).toMatchObject({
      statusCode: 200,
      body: {
        executionStatus: 'FAILED',
        error: { code: 'InvalidManifest', problems: `s3://${fleet.bucket}/fleet-runs/invalid-run/problems.json` },
      },
    });
  });

  it('answers 400 naming path.fleetRunId for a malformed id, 404 for an unknown one, 400 for a body that is not a fleet run', async () => {
    const reason = 'must be 1-72 characters of a-z, A-Z, 0-9, underscore or hyphen';
    for (const answer of [await fleet.get('not a run'), await fleet.cancel('not a run')])
      expect(answer).toEqual({ statusCode: 400, body: expect.objectContaining({ errors: [{ field: 'path.fleetRunId', reason }] }) });
    expect(await fleet.get('no-such-run')).toEqual({ statusCode: 404, body: { message: 'no fleet run with fleetRunId no-such-run' } });
    expect(await fleet.cancel('no-such-run')).toEqual({ statusCode: 404, body: { message: 'no fleet run with fleetRunId no-such-run' } });
    const refused = await fleet.post({ manifest: 's3://elsewhere/fleet.csv', fleetRunId: 'bad id' });
    expect(refused.statusCode).toBe(400);
    expect(refused.body.errors.map((error: { field: string }) => error.field).sort()).toEqual(['fleetRunId', 'manifest']);
    const badKey = await fleet.post({ manifest: `s3://${fleet.bucket}/fleet.csv`, fleetRunId: 'bad id' });
    expect(badKey.body.errors.map((error: { field: string }) => error.field)).toEqual(['fleetRunId']);
  });

  it('POST refuses a body that is not JSON with 400 and one declared as another type with 415, naming why; GET and cancel refuse a path without a fleetRunId; the list names a malformed parameter', async () => {
    const { lambdaContext } = await import('../../../support/task-fixtures.ts');
    const call = async (name: string, event: object) => {
      const { handler } = await import(`../../../../functions/${name}.ts`);
      const answer = (await handler({ headers: { Host: 'api.test' }, pathParameters: null, ...event } as never, lambdaContext(30_000))) as {
        statusCode: number;
        body: string;
      };
      return { statusCode: answer.statusCode, body: JSON.parse(answer.body) };
    };
    const notJson = await call('start-fleet-run', { httpMethod: 'POST', path: '/fleet-runs', body: '{' });
    expect(notJson).toMatchObject({
      statusCode: 400,
      body: { errors: [{ field: '(body)', reason: expect.stringMatching(/^is not valid JSON: /) }] },
    });
    const manifest = `s3://${fleet.bucket}/staged/never.csv`;
    expect(
      await call('start-fleet-run', {
        httpMethod: 'POST',
        path: '/fleet-runs',
        headers: { Host: 'api.test', 'Content-Type': 'text/csv' },
        body: JSON.stringify({ fleetRunId: 'typed-run', manifest }),
      }),
    ).toMatchObject({ statusCode: 415, body: { errors: [{ field: 'headers.Content-Type' }] } });
    expect(await fleet.get('typed-run')).toMatchObject({ statusCode: 404 });
    expect(
      await call('start-fleet-run', {
        httpMethod: 'POST',
        path: '/fleet-runs',
        headers: { Host: 'api.test', 'Idempotency-Key': 'bad key!' },
        body: JSON.stringify({ manifest }),
      }),
    ).toEqual({
      statusCode: 400,
      body: expect.objectContaining({
        errors: [{ field: 'headers.Idempotency-Key', reason: 'must be 1-80 characters of a-z, A-Z, 0-9, underscore or hyphen' }],
      }),
    });

    const reason = 'must be 1-72 characters of a-z, A-Z, 0-9, underscore or hyphen';
    for (const [name, path] of [
      ['get-fleet-run', '/fleet-runs/'],
      ['cancel-fleet-run', '/fleet-runs//cancel'],
    ] as const) {
      expect(await call(name, { path })).toEqual({
        statusCode: 400,
        body: expect.objectContaining({ errors: [{ field: 'path.fleetRunId', reason }] }),
      });
    }
    expect(await fleet.list({ limit: '0' })).toMatchObject({
      statusCode: 400,
      body: { errors: [{ field: 'query.limit', reason: 'must be a whole number from 1 to 1000' }] },
    });
  });

  it('POST, GET, the list and cancel answer 429 to retry while Step Functions throttles, and POST starts nothing', async () => {
    const manifest = await fleet.uploadDevices('staged/throttled.csv', 'throttled', 1, 'core-1');
    const throttled = { statusCode: 429, body: { message: expect.stringContaining('retry the same request') } };
    cloud.cloud.admin.configureFaults({ throttle: { StartExecution: 1, DescribeExecution: 1, ListExecutions: 1 } });
    try {
      expect(await fleet.post({ fleetRunId: 'throttled-run', manifest })).toEqual(throttled);
      expect(await fleet.get('throttled-run')).toEqual(throttled);
      expect(await fleet.list()).toEqual(throttled);
      expect(await fleet.cancel('throttled-run')).toEqual(throttled);
    } finally {
      cloud.cloud.admin.configureFaults({ throttle: {} });
    }
    expect(await fleet.get('throttled-run')).toMatchObject({ statusCode: 404 });
  });

  it('reads no run it did not start: an execution of the fleet state machine without an action or a requestDigest in its input', async () => {
    const { fleetRunStatus } = await import('../../../../functions/api/fleet-runs.ts');
    const stateMachineArn = cloud.stateMachineArn('provisionFleet');
    await cloud.sfn.send(
      new StartExecutionCommand({
        stateMachineArn,
        name: 'no-digest',
        input: JSON.stringify({ fleetRunId: 'no-digest', action: 'provision' }),
      }),
    );
    await cloud.sfn.send(
      new StartExecutionCommand({
        stateMachineArn,
        name: 'no-action',
        input: JSON.stringify({ fleetRunId: 'no-action', requestDigest: 'digest' }),
      }),
    );
    for (const fleetRunId of ['no-digest', 'no-action']) {
      await expect(fleetRunStatus(fleetRunId)).rejects.toThrow(
        /:no-(digest|action) has no action or requestDigest in its input: it is not a fleet run this service started$/,
      );
    }
  });

  it('fails as misconfigured without the fleet state machine in its environment', async () => {
    const { listFleetRuns } = await import('../../../../functions/api/fleet-runs.ts');
    const arn = process.env.PROVISION_FLEET_STATE_MACHINE_ARN;
    delete process.env.PROVISION_FLEET_STATE_MACHINE_ARN;
    try {
      expect(() => listFleetRuns({})).toThrow('PROVISION_FLEET_STATE_MACHINE_ARN is not set: the function is misconfigured');
    } finally {
      process.env.PROVISION_FLEET_STATE_MACHINE_ARN = arn;
    }
  });

  it('POST /fleet-uploads: no body takes the defaults, a URL that uploads the manifest for 15 minutes; a bad field or body is 400', async () => {
    const before = Date.now();
    const created = await fleet.createUpload();
    expect(created).toMatchObject({
      statusCode: 201,
      body: {
        method: 'PUT',
        headers: { 'Content-Type': 'text/csv' },
        manifest: expect.stringMatching(new RegExp(`^s3://${fleet.bucket}/uploads/[0-9a-f-]{36}/manifest\\.csv$`)),
      },
    });
    const expiresAt = Date.parse(created.body.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 15 * 60_000 - 1_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    const key = (created.body.manifest as string).slice(`s3://${fleet.bucket}/`.length);
    const url = new URL(created.body.uploadUrl);
    expect(url.pathname).toBe(`/${fleet.bucket}/${key}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    const uploaded = await fetch(url, { method: 'PUT', headers: created.body.headers, body: 'thingName,principal\n' });
    expect(uploaded.status).toBe(200);
    expect(await fleet.readText(key)).toBe('thingName,principal\n');
    expect(await fleet.createUpload('  ')).toMatchObject({
      statusCode: 201,
      body: { manifest: expect.stringMatching(/\/manifest\.csv$/) },
    });
    expect(await fleet.createUpload(JSON.stringify({ fileName: 'fleet.txt' }))).toMatchObject({
      statusCode: 400,
      body: { errors: [{ field: 'fileName' }] },
    });
    expect(await fleet.createUpload('{')).toMatchObject({
      statusCode: 400,
      body: { errors: [{ field: '(body)', reason: expect.stringMatching(/^is not valid JSON: /) }] },
    });
    const { handler } = await import('../../../../functions/create-fleet-upload.ts');
    const { lambdaContext } = await import('../../../support/task-fixtures.ts');
    const withoutBody = (await handler({ headers: { Host: 'api.test' }, path: '/fleet-uploads' } as never, lambdaContext(30_000))) as {
      statusCode: number;
    };
    expect(withoutBody.statusCode).toBe(201);
    const { createFleetUpload } = await import('../../../../functions/api/fleet-uploads.ts');
    expect(await createFleetUpload({ fileName: 'fleet.json' })).toMatchObject({
      kind: 'ready',
      upload: { headers: { 'Content-Type': 'application/json' }, manifest: expect.stringMatching(/\/fleet\.json$/) },
    });
  });
});
