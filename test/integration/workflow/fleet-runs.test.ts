import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { DescribeMapRunCommand, ListExecutionsCommand, ListMapRunsCommand } from '@aws-sdk/client-sfn';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import { fleetCompletionDetailSchema, fleetRunListSchema, fleetRunStatusSchema } from '../../../functions/domain/fleet-run-schemas.ts';
import { fleetUploadSchema } from '../../../functions/domain/fleet-upload.ts';
import { useFleetHarness } from '../../support/fleet-runs.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';
import { waitForExecution } from '../../support/step-functions.ts';

const CORES = ['core-1', 'core-2', 'core-3', 'core-4', 'core-5'];

/**
 * Fleet runs (docs/fleet-runs.md): a manifest in the fleet bucket, provisioned by the provision-fleet state
 * machine in batches, each batch one request of the provision state machine.
 */
describe('fleet runs', () => {
  const cloud = useServiceCloud({ coreDevices: CORES, keyAlgorithm: 'ec-p256' });
  const fleet = useFleetHarness(cloud);
  let certificates: string[] = [];

  /** Certificates made once per test (a reset removes them): `count` fresh active ones. */
  async function makeCertificates(count: number): Promise<string[]> {
    certificates = await pLimit(16).map(
      Array.from({ length: count }, (_, index) => index),
      () => cloud.createCertificate(),
    );
    return certificates;
  }

  /** A CSV manifest whose devices take turns over the core devices, so that the run has to group them. */
  function csvManifest(count: number, prefix: string): string {
    const rows = Array.from(
      { length: count },
      (_, index) => `${prefix}-${String(index).padStart(4, '0')},${certificates[index]},${CORES[index % CORES.length]}`,
    );
    return ['thingName,principal,coreDeviceThingName', ...rows].join('\n');
  }

  /** A run through `POST /fleet-runs`, followed to its end. */
  async function runFleet(fleetRunId: string, manifest: string, options: Record<string, unknown> = {}) {
    const { executionArn, status, error, cause, output } = await fleet.run(fleetRunId, manifest, options);
    return { executionArn, description: { status, error, cause }, output };
  }

  async function requestExecutions() {
    const { executions } = await cloud.sfn.send(new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArn('provision') }));
    return executions ?? [];
  }

  it('POST /fleet-runs provisions 1,000 devices over 5 core devices (a batch per core), each once in the S3 report; GET counts and presigns the report; same id same run, another manifest 409; completion event', async () => {
    await makeCertificates(1_000);
    const manifest = await fleet.upload('staged/fleet-1000.csv', csvManifest(1_000, 'fleet'));
    const started = performance.now();
    const { executionArn, description, output } = await runFleet('fleet-1000', manifest);
    const seconds = (performance.now() - started) / 1000;

    expect(description.status).toBe('SUCCEEDED');
    expect(output).toMatchObject({
      fleetRunId: 'fleet-1000',
      outcome: 'SUCCEEDED',
      totals: { batches: 5, batchesFailed: 0, devices: 1_000, succeeded: 1_000, failed: 0, notStarted: 0 },
      report: {
        json: `s3://${fleet.bucket}/fleet-runs/fleet-1000/report.json`,
        csv: `s3://${fleet.bucket}/fleet-runs/fleet-1000/report.csv`,
      },
    });

    const document = await fleet.report('fleet-1000');
    expect(document.devices.map((device) => device.index)).toEqual(Array.from({ length: 1_000 }, (_, index) => index));
    expect(document.devices.every((device) => device.status === 'PROVISIONED' && device.thingArn !== undefined)).toBe(true);
    // Line 1 is the header; a device's line is its row.
    expect(document.devices[7]).toMatchObject({
      line: 9,
      thingName: 'fleet-0007',
      coreDeviceThingName: CORES[7 % 5],
      certificateArn: certificates[7],
    });
    const csv = (await fleet.readText('fleet-runs/fleet-1000/report.csv')).trim().split('\n');
    expect(csv[0]).toBe(
      'line,index,thingName,status,coreDeviceThingName,requestId,resumed,thingArn,certificateArn,errorStep,errorCode,errorMessage,rolledBack,rollbackIncomplete',
    );
    expect(csv).toHaveLength(1_001);

    // Ordered by core device, 200 devices a core: each batch is one request for one core device.
    const requests = await requestExecutions();
    expect(requests.map((execution) => execution.name).sort()).toEqual([
      'fleet-1000-0',
      'fleet-1000-200',
      'fleet-1000-400',
      'fleet-1000-600',
      'fleet-1000-800',
    ]);
    const coresByRequest = new Map<string, Set<string | undefined>>();
    for (const device of document.devices)
      coresByRequest.set(device.requestId, (coresByRequest.get(device.requestId) ?? new Set()).add(device.coreDeviceThingName));
    expect([...coresByRequest.values()].map((cores) => cores.size)).toEqual([1, 1, 1, 1, 1]);

    expect(cloud.clientThings()).toHaveLength(1_000);
    const { associations } = cloud.cloud.admin.state();
    for (const core of CORES) expect(associations[core], core).toHaveLength(200);

    const { mapRuns } = await cloud.sfn.send(new ListMapRunsCommand({ executionArn }));
    const mapRun = await cloud.sfn.send(new DescribeMapRunCommand({ mapRunArn: mapRuns![0]!.mapRunArn }));
    expect(mapRun.itemCounts).toMatchObject({ total: 1_000, succeeded: 1_000, failed: 0 });
    expect(mapRun.executionCounts).toMatchObject({ total: 5, succeeded: 5 });

    const status = await fleet.get('fleet-1000');
    expect(status).toMatchObject({
      statusCode: 200,
      body: {
        fleetRunId: 'fleet-1000',
        executionArn,
        executionStatus: 'SUCCEEDED',
        manifest,
        devices: { total: 1_000, done: 1_000, succeeded: 1_000, failed: 0, rolledBack: 0, notStarted: 0, pending: 0 },
        batches: { total: 5, done: 5, failed: 0 },
        outcome: 'SUCCEEDED',
        totals: output!.totals,
        report: output!.report,
      },
    });
    expect(status.body.devicesPerSecond).toBeGreaterThan(0);
    // Each batch counted itself once, to the report's totals.
    expect(await fleet.counts(executionArn)).toEqual({ succeeded: 1_000, failed: 0, rolledBack: 0, notStarted: 0 });
    // Presigned: a client without S3 permissions (the fleet CLI's --server) downloads the report through them.
    const csvUrl = new URL(status.body.reportUrls.csv as string);
    expect(csvUrl.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(await (await fetch(csvUrl)).text()).toBe(await fleet.readText('fleet-runs/fleet-1000/report.csv'));
    expect(JSON.parse(await (await fetch(status.body.reportUrls.json as string)).text())).toEqual(document);
    // The same fleetRunId and manifest reach the same run; another manifest under it is a conflict.
    expect(await fleet.post({ fleetRunId: 'fleet-1000', manifest })).toMatchObject({ statusCode: 202, body: { executionArn } });
    const other = await fleet.upload('staged/other.csv', csvManifest(1, 'other'));
    expect(await fleet.post({ fleetRunId: 'fleet-1000', manifest: other })).toMatchObject({
      statusCode: 409,
      body: { fleetRunId: 'fleet-1000', executionArn },
    });

    expect(await fleet.completions()).toEqual([
      expect.objectContaining({ fleetRunId: 'fleet-1000', outcome: 'SUCCEEDED', report: output!.report }),
    ]);
    // A figure for docs/fleet-runs.md, never asserted: it depends on the machine.
    console.info(`fleet of 1,000 devices: ${seconds.toFixed(1)} s, ${(1_000 / seconds).toFixed(0)} devices/s`);
  }, 600_000);

  it('fails the run with InvalidManifest and a problems file naming each line, touching no device, and publishes Fleet Run Completed FAILED with the problems file, when the manifest is invalid', async () => {
    await makeCertificates(2);
    const rows = [
      'thingName,principal,coreDeviceThingName',
      `good-1,${certificates[0]},core-1`,
      `bad name,${certificates[1]},core-1`,
      `good-1,${certificates[0]},core-2`,
      'short-row,core-1',
    ];
    const manifest = await fleet.upload('staged/invalid.csv', rows.join('\n'));
    const { description } = await runFleet('fleet-invalid', manifest);

    expect(description.status).toBe('FAILED');
    expect(description.error).toBe('InvalidManifest');
    expect(description.cause).toContain(`4 problems; no device was touched: s3://${fleet.bucket}/fleet-runs/fleet-invalid/problems.json`);
    const problems = JSON.parse(await fleet.readText('fleet-runs/fleet-invalid/problems.json')) as {
      manifest: string;
      problems: { where: string; field?: string }[];
    };
    expect(problems.manifest).toBe(manifest);
    expect(problems.problems.map(({ where, field }) => `${where} ${field ?? ''}`.trim())).toEqual([
      'line 3 thingName',
      'line 4 thingName',
      'line 4 principal',
      'line 5',
    ]);
    expect(await fleet.get('fleet-invalid')).toMatchObject({
      statusCode: 200,
      body: {
        executionStatus: 'FAILED',
        error: { code: 'InvalidManifest', problems: `s3://${fleet.bucket}/fleet-runs/fleet-invalid/problems.json` },
      },
    });
    expect(cloud.clientThings()).toEqual([]);
    expect(await requestExecutions()).toEqual([]);
    expect(cloud.cloud.admin.state().tables?.find((table) => table.tableName.endsWith('device-leases'))?.items).toEqual([]);

    const completions = await fleet.completions();
    expect(completions).toEqual([
      {
        fleetRunId: 'fleet-invalid',
        action: 'provision',
        outcome: 'FAILED',
        error: {
          code: 'InvalidManifest',
          message: expect.stringContaining('4 problems; no device was touched'),
          problems: `s3://${fleet.bucket}/fleet-runs/fleet-invalid/problems.json`,
        },
        completedAt: expect.any(String),
      },
    ]);
    expect(fleetCompletionDetailSchema.safeParse(completions[0]).success).toBe(true);
  });

  it('tolerates a batch that fails for good (its request id taken by another request), counts and reports its devices failed at submit, and a re-run under a new id converges', async () => {
    await makeCertificates(450);
    const manifest = await fleet.upload('staged/fleet-450.csv', csvManifest(450, 'retry'));
    // Another request already holds the id of the run's second batch: the batch can never start.
    const other = await cloud.provision({
      requestId: 'fleet-taken-200',
      coreDeviceThingName: 'core-1',
      devices: [{ thingName: 'unrelated', principal: await cloud.createCertificate() }],
    });
    expect(other.status).toBe('SUCCEEDED');

    const first = await runFleet('fleet-taken', manifest);
    expect(first.description.status).toBe('SUCCEEDED');
    expect(first.output).toMatchObject({
      outcome: 'PARTIAL',
      totals: { batches: 3, batchesFailed: 1, devices: 450, succeeded: 250, failed: 200, notStarted: 0 },
    });
    const failedReport = await fleet.report('fleet-taken');
    const failed = failedReport.devices.filter((device) => device.status === 'FAILED');
    expect(failed).toHaveLength(200);
    expect(new Set(failed.map((device) => device.requestId))).toEqual(new Set(['fleet-taken-200']));
    expect(failed.every((device) => device.error?.step === 'submit' && device.error.code === 'Conflict')).toBe(true);
    expect(failedReport.failures).toEqual({ 'submit Conflict': 200 });
    // The failed batch is counted as failed before it fails with its own error.
    expect(await fleet.counts(first.executionArn)).toEqual({ succeeded: 250, failed: 200, rolledBack: 0, notStarted: 0 });
    expect(cloud.clientThings()).toHaveLength(250 + 1);

    const rerun = await runFleet('fleet-rerun', manifest);
    expect(rerun.output).toMatchObject({ outcome: 'SUCCEEDED', totals: { devices: 450, succeeded: 450, failed: 0 } });
    expect((await fleet.report('fleet-rerun')).devices.every((device) => device.status === 'PROVISIONED')).toBe(true);
    expect(cloud.clientThings()).toHaveLength(450 + 1);
  }, 600_000);

  it('a batch whose counts cannot be written keeps its result: the report and the final GET stand on the result files, and a failed batch still fails with its own error', async () => {
    await makeCertificates(3);
    const manifest = await fleet.upload('staged/uncounted.csv', csvManifest(3, 'uncounted'));
    const other = await cloud.provision({
      requestId: 'fleet-uncounted-failed-0',
      coreDeviceThingName: 'core-1',
      devices: [{ thingName: 'unrelated', principal: await cloud.createCertificate() }],
    });
    expect(other.status).toBe('SUCCEEDED');
    // Every write of the counters fails, after CountBatch's retries too.
    cloud.cloud.admin.configureFaults({ serverError: { UpdateItem: 1 } });

    const counted = await runFleet('fleet-uncounted', manifest);
    expect(counted.output).toMatchObject({ outcome: 'SUCCEEDED', totals: { devices: 3, succeeded: 3, failed: 0 } });
    expect(await fleet.counts(counted.executionArn)).toBeUndefined();
    expect((await fleet.get('fleet-uncounted')).body.devices).toEqual({
      total: 3,
      done: 3,
      succeeded: 3,
      failed: 0,
      rolledBack: 0,
      notStarted: 0,
      pending: 0,
    });

    const failed = await runFleet('fleet-uncounted-failed', manifest);
    expect(failed.output).toMatchObject({ outcome: 'FAILED', totals: { batchesFailed: 1, devices: 3, succeeded: 0, failed: 3 } });
    expect((await fleet.report('fleet-uncounted-failed')).failures).toEqual({ 'submit Conflict': 3 });
    expect(await fleet.counts(failed.executionArn)).toBeUndefined();
  });

  it('refuses a manifest outside the fleet fleet.bucket, fields the run sets, and answers 404 for an unknown fleetRunId', async () => {
    expect(await fleet.post({ manifest: 's3://somebody-elses-fleet.bucket/fleet.csv', requestId: 'r', devices: [] })).toMatchObject({
      statusCode: 400,
      body: { errors: [{ field: 'manifest' }, { field: 'requestId' }, { field: 'devices' }] },
    });
    expect(await fleet.post({ manifest: `s3://${fleet.bucket}/fleet.txt`, action: 'remove' })).toMatchObject({
      statusCode: 400,
      body: { errors: [{ field: 'manifest' }, { field: 'action' }] },
    });
    expect(await fleet.get('no-such-run')).toMatchObject({ statusCode: 404 });
  });

  it('starts one run for a manifest uploaded under manifests/, named after the object: a duplicate delivery of its event starts nothing new', async () => {
    await makeCertificates(3);
    const devices = certificates.map((principal, index) => ({ thingName: `uploaded-${index}`, principal }));
    await fleet.upload('manifests/uploaded.json', JSON.stringify({ coreDeviceThingName: 'core-2', devices }));

    let runs: { executionArn?: string; name?: string }[] = [];
    for (let attempt = 0; attempt < 200 && runs.length === 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      ({ executions: runs = [] } = await cloud.sfn.send(
        new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArn('provisionFleet') }),
      ));
    }
    expect(runs).toHaveLength(1);
    const [run] = runs;
    expect(run!.name).toMatch(/^s3-[0-9a-f]{40}$/);
    const description = await waitForExecution(cloud.sfn, run!.executionArn!, { timeoutMs: 60_000 });
    expect(JSON.parse(description.output!)).toMatchObject({ outcome: 'SUCCEEDED', totals: { devices: 3, succeeded: 3 } });
    expect(
      cloud
        .clientThings()
        .map((thing) => thing.thingName)
        .sort(),
    ).toEqual(['uploaded-0', 'uploaded-1', 'uploaded-2']);

    const { handleManifestUploaded } = await import('../../../functions/handle-manifest-uploaded.ts');
    const { ETag } = await fleet.s3.send(new HeadObjectCommand({ Bucket: fleet.bucket, Key: 'manifests/uploaded.json' }));
    const redelivered = {
      id: 'redelivered',
      detail: { bucket: { name: fleet.bucket }, object: { key: 'manifests/uploaded.json', etag: ETag!.replaceAll('"', '') } },
    };
    expect(await handleManifestUploaded(redelivered as never)).toMatchObject({
      kind: 'started',
      fleetRunId: run!.name,
      executionArn: run!.executionArn,
    });
    const { executions } = await cloud.sfn.send(new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArn('provisionFleet') }));
    expect(executions).toHaveLength(1);
  });
  it('POST /fleet-uploads answers a presigned PUT under uploads/ that starts no run by itself; the uploaded manifest then runs through POST /fleet-runs', async () => {
    await makeCertificates(3);
    const answer = await fleet.createUpload(JSON.stringify({ fileName: 'line-7.csv' }));
    expect(answer.statusCode).toBe(201);
    expect(fleetUploadSchema.safeParse(answer.body).success).toBe(true);
    const manifest = answer.body.manifest as string;
    expect(manifest).toMatch(new RegExp(`^s3://${fleet.bucket}/uploads/[0-9a-f-]{36}/line-7\\.csv$`));
    expect(answer.body).toMatchObject({ method: 'PUT', headers: { 'Content-Type': 'text/csv' } });
    const signed = new URL(answer.body.uploadUrl).searchParams;
    expect(signed.get('X-Amz-Expires')).toBe('900');
    // S3 refuses an upload of another Content-Type (the local cloud checks no signature: presigned-urls.test.ts).
    expect(signed.get('X-Amz-SignedHeaders')).toBe('content-type;host');
    // No checksum of the empty body the URL was signed without.
    expect([...signed.keys()].filter((name) => name.toLowerCase().includes('checksum'))).toEqual([]);

    // The client has no S3 credentials: only the URL and the headers it was given.
    const put = await fetch(answer.body.uploadUrl, { method: 'PUT', headers: answer.body.headers, body: csvManifest(3, 'uploaded') });
    expect(put.status).toBe(200);
    const key = manifest.slice(`s3://${fleet.bucket}/`.length);
    expect((await fleet.s3.send(new HeadObjectCommand({ Bucket: fleet.bucket, Key: key }))).ContentType).toBe('text/csv');

    const { output } = await runFleet('uploaded-run', manifest);
    expect(output).toMatchObject({ outcome: 'SUCCEEDED', totals: { devices: 3, succeeded: 3 } });
    expect(
      cloud
        .clientThings()
        .map((thing) => thing.thingName)
        .sort(),
    ).toEqual(['uploaded-0000', 'uploaded-0001', 'uploaded-0002']);
    // The upload's own Object Created event reached the bus long before the run ended, and started nothing.
    const { executions } = await cloud.sfn.send(new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArn('provisionFleet') }));
    expect(executions?.map((execution) => execution.name)).toEqual(['uploaded-run']);
  });

  it('POST /fleet-uploads takes no body for the defaults, and answers 400 naming each bad field', async () => {
    expect(await fleet.createUpload()).toMatchObject({
      statusCode: 201,
      body: { manifest: expect.stringMatching(/\/manifest\.csv$/), headers: { 'Content-Type': 'text/csv' } },
    });
    expect(await fleet.createUpload(JSON.stringify({ fileName: 'fleet.json' }))).toMatchObject({
      statusCode: 201,
      body: { headers: { 'Content-Type': 'application/json' } },
    });
    const refused = await fleet.createUpload(JSON.stringify({ fileName: '../fleet.csv', contentType: 'csv', bucket: 'elsewhere' }));
    expect(refused.statusCode).toBe(400);
    expect(refused.body.errors.map((error: { field: string }) => error.field).sort()).toEqual(['bucket', 'contentType', 'fileName']);
    expect(await fleet.createUpload(JSON.stringify({ fileName: 'fleet.txt' }))).toMatchObject({
      statusCode: 400,
      body: { errors: [{ field: 'fileName' }] },
    });
    expect(await fleet.createUpload('[')).toMatchObject({ statusCode: 400, body: { errors: [{ field: '(body)' }] } });
  });

  it('GET /fleet-runs lists runs newest first, filtered by status and a page at a time, and answers 400 naming each bad parameter', async () => {
    await makeCertificates(2);
    const valid = await fleet.upload('staged/two.csv', csvManifest(2, 'listed'));
    const invalid = await fleet.upload('staged/invalid.csv', 'thingName,principal\nbad name,nothing');
    // One after the other, so that newest first has one order.
    for (const [fleetRunId, manifest] of [
      ['list-a', invalid],
      ['list-b', valid],
      ['list-c', invalid],
    ] as const)
      await runFleet(fleetRunId, manifest);

    const all = await fleet.list();
    expect(all.statusCode).toBe(200);
    expect(fleetRunListSchema.safeParse(all.body).success).toBe(true);
    expect(all.body.fleetRuns.map((run: { fleetRunId: string }) => run.fleetRunId)).toEqual(['list-c', 'list-b', 'list-a']);
    expect(all.body.fleetRuns[1]).toMatchObject({ executionStatus: 'SUCCEEDED', statusUrl: 'https://api.test/fleet-runs/list-b' });

    const failed = await fleet.list({ status: 'FAILED' });
    expect(
      failed.body.fleetRuns.map((run: { fleetRunId: string; executionStatus: string }) => `${run.fleetRunId} ${run.executionStatus}`),
    ).toEqual(['list-c FAILED', 'list-a FAILED']);

    const pages: string[][] = [];
    let nextToken: string | undefined;
    do {
      const page = await fleet.list({ limit: '2', ...(nextToken && { nextToken }) });
      pages.push(page.body.fleetRuns.map((run: { fleetRunId: string }) => run.fleetRunId));
      nextToken = page.body.nextToken;
    } while (nextToken);
    expect(pages).toEqual([['list-c', 'list-b'], ['list-a']]);

    const refused = await fleet.list({ status: 'DONE', limit: '0', colour: 'red' });
    expect(refused.statusCode).toBe(400);
    expect(refused.body.errors.map((error: { field: string }) => error.field).sort()).toEqual([
      'query.colour',
      'query.limit',
      'query.status',
    ]);
    expect(await fleet.list({ nextToken: 'not-a-token' })).toMatchObject({
      statusCode: 400,
      body: { errors: [{ field: 'query.nextToken' }] },
    });
    expect(fleetRunStatusSchema.safeParse((await fleet.get('list-a')).body).success).toBe(true);
  });
  it('sends the event of an uploaded manifest whose run cannot be started to the dead-letter queue, after the function has been tried three times', async () => {
    cloud.cloud.admin.configureFaults({ serverError: { StartExecution: 1 } });
    await fleet.upload('manifests/unstartable.csv', 'thingName,principal\nnever-started,nothing');

    type Letter = { origin: string; body: string };
    let letters: Letter[] = [];
    for (let attempt = 0; attempt < 500 && letters.length === 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const { deadLetters } = (await (await fetch(`${cloud.url}/_local/eventbridge/dead-letters`)).json()) as {
        deadLetters: Record<string, Letter[]>;
      };
      letters = Object.entries(deadLetters).flatMap(([queue, queued]) =>
        queue.includes('ProvisioningEventsDeadLetterQueue') ? queued : [],
      );
    }
    expect(letters).toHaveLength(1);
    expect(letters[0]!.origin).toBe('lambda-on-failure');
    expect(JSON.parse(letters[0]!.body)).toMatchObject({
      requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { source: 'aws.s3', 'detail-type': 'Object Created', detail: { object: { key: 'manifests/unstartable.csv' } } },
    });
    const { executions } = await cloud.sfn.send(new ListExecutionsCommand({ stateMachineArn: cloud.stateMachineArn('provisionFleet') }));
    expect(executions).toEqual([]);
  });
});
