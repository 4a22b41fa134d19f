import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HeldDevice } from '../../../functions/domain/device-leases.ts';
import { manifestFormatOf, parseManifest } from '../../../functions/domain/fleet-manifest.ts';
import { type DeviceReportEntry, deviceReportCsv, failureCounts } from '../../../functions/domain/fleet-report.ts';
import { devicesSoFar } from '../../../functions/domain/fleet-run-counts.ts';
import type { FleetRunStatus } from '../../../functions/domain/fleet-run-schemas.ts';
import { type ProvisioningRequest, provisioningRequestSchema } from '../../../functions/domain/provisioning-request.ts';
import type { DeviceOutcome, RequestSummary, StepError } from '../../../functions/domain/records.ts';
import { validate } from '../../../functions/domain/validation.ts';

export interface FakeApiOptions {
  /** The error each named device fails with; every other device is provisioned. */
  failures?: Record<string, StepError>;
  /** How many status calls answer RUNNING before the execution ends. */
  runningPolls?: number;
  /** How many status calls answer 404 before the execution shows, as Step Functions' eventual consistency allows. */
  notVisiblePolls?: number;
  /** Fleet runs (`POST /fleet-uploads`, `/fleet-runs`): without them, their routes answer as API Gateway does an unknown one. */
  fleetRuns?: {
    /** How many status calls answer RUNNING before the run ends: the first without counts (validating), then counts that grow. */
    runningPolls?: number;
    /** The error a run ends FAILED with, instead of a report. */
    error?: FleetRunStatus['error'];
    /** The status answers no report URLs (an API older than the CLI). */
    withoutReportUrls?: boolean;
    /** The report URLs answer 403, as an expired presigned URL does. */
    expiredReportUrls?: boolean;
  };
}

/** A fleet run as the fake keeps it. */
export interface FakeFleetRun {
  body: Record<string, unknown>;
  /** The uploaded manifest's devices, in order. */
  thingNames: string[];
  statusCalls: number;
}

export interface FakeApi {
  url: string;
  /** Every POST body, in order of arrival, whether accepted or not. */
  posted: ProvisioningRequest[];
  /** Makes `requestId` known with this body, as if another client had used it. */
  seed(request: ProvisioningRequest): void;
  setFailures(failures: Record<string, StepError>): void;
  /** Devices that running requests hold: a request naming any of them is refused with 409 and `heldDevices`. */
  setHeld(held: HeldDevice[]): void;
  /** Manifests PUT to upload URLs, by their `s3://` URI. */
  uploads: Map<string, { bytes: Buffer; contentType?: string }>;
  fleetRuns: Map<string, FakeFleetRun>;
  /** `<method> <path>` of every call, in order of arrival. */
  calls: string[];
  close(): Promise<void>;
}

interface Execution {
  request: ProvisioningRequest;
  body: string;
  polls: number;
}

/** The provisioning API's HTTP contract, in memory: an execution ends after a few polls with one outcome per device. */
export async function startFakeApi(options: FakeApiOptions = {}): Promise<FakeApi> {
  const executions = new Map<string, Execution>();
  const posted: ProvisioningRequest[] = [];
  let failures = options.failures ?? {};
  let held: HeldDevice[] = [];
  const runningPolls = options.runningPolls ?? 1;
  const notVisiblePolls = options.notVisiblePolls ?? 0;

  const summaryOf = ({ requestId, devices, coreDeviceThingName }: ProvisioningRequest): RequestSummary => {
    const outcomes = devices.map((device): DeviceOutcome => {
      const core = device.coreDeviceThingName ?? coreDeviceThingName!;
      const error = failures[device.thingName];
      if (error) return { thingName: device.thingName, status: 'FAILED', coreDeviceThingName: core, error };
      return {
        thingName: device.thingName,
        status: 'PROVISIONED',
        coreDeviceThingName: core,
        thingArn: `arn:aws:iot:us-east-1:123456789012:thing/${device.thingName}`,
      };
    });
    const failed = outcomes.filter((outcome) => outcome.status === 'FAILED').length;
    return {
      requestId: requestId!,
      status: failed === 0 ? 'SUCCEEDED' : failed === outcomes.length ? 'FAILED' : 'PARTIAL',
      counts: { requested: outcomes.length, succeeded: outcomes.length - failed, failed, rolledBack: failed },
      devices: outcomes,
    };
  };

  const uploads = new Map<string, { bytes: Buffer; contentType?: string }>();
  const fleetRuns = new Map<string, FakeFleetRun>();
  const fleetOptions = options.fleetRuns;
  let url = '';

  /** The run's final report, the service's columns: each device provisioned unless `failures` names it. */
  const fleetReport = (fleetRunId: string, run: FakeFleetRun) => {
    const devices = run.thingNames.map((thingName, index): DeviceReportEntry => {
      const error = failures[thingName];
      const requestId = `${fleetRunId}-${index - (index % 200)}`;
      return error
        ? {
            index,
            line: index + 2,
            thingName,
            status: 'FAILED',
            requestId,
            error: { step: error.step, code: error.code, message: error.message },
          }
        : run.body.action === 'deprovision'
          ? { index, line: index + 2, thingName, status: 'DEPROVISIONED', requestId }
          : {
              index,
              line: index + 2,
              thingName,
              status: 'PROVISIONED',
              requestId,
              thingArn: `arn:aws:iot:us-east-1:123456789012:thing/${thingName}`,
            };
    });
    const failed = devices.filter((device) => device.status === 'FAILED').length;
    const batches = Math.ceil(devices.length / 200);
    const totals = {
      batches,
      batchesFailed: 0,
      batchesNotStarted: 0,
      devices: devices.length,
      succeeded: devices.length - failed,
      failed,
      rolledBack: 0,
      notStarted: 0,
      devicesPerSecond: devices.length,
    };
    const outcome = failed === 0 ? 'SUCCEEDED' : failed === devices.length ? 'FAILED' : 'PARTIAL';
    const document = {
      fleetRunId,
      workflow: run.body.action,
      manifest: run.body.manifest,
      outcome,
      totals,
      failures: failureCounts(devices),
      devices,
    };
    return { document, csv: deviceReportCsv(devices) };
  };

  const fleetRunStatus = (fleetRunId: string, run: FakeFleetRun): FleetRunStatus => {
    run.statusCalls += 1;
    const base = {
      fleetRunId,
      executionArn: `arn:aws:states:us-east-1:123456789012:execution:provision-fleet:${fleetRunId}`,
      action: run.body.action as string,
      manifest: run.body.manifest as string,
      startDate: '2026-01-01T00:00:00.000Z',
    };
    const total = run.thingNames.length;
    const runningPolls = fleetOptions?.runningPolls ?? 2;
    if (run.statusCalls <= runningPolls) {
      // The first answer comes before the Map Run exists (the manifest is being validated): no counts yet.
      const done = Math.floor((total * (run.statusCalls - 1)) / runningPolls);
      return {
        ...base,
        executionStatus: 'RUNNING',
        ...(run.statusCalls > 1 && {
          devices: devicesSoFar(total, { succeeded: done, failed: 0, rolledBack: 0, notStarted: 0 }),
          batches: { total: Math.ceil(total / 200), done: Math.floor(done / 200), failed: 0 },
        }),
      };
    }
    const ended = { ...base, stopDate: '2026-01-01T00:00:10.000Z' };
    if (fleetOptions?.error) return { ...ended, executionStatus: 'FAILED', error: fleetOptions.error };
    const { document } = fleetReport(fleetRunId, run);
    const report = {
      json: `s3://fake-fleet-bucket/fleet-runs/${fleetRunId}/report.json`,
      csv: `s3://fake-fleet-bucket/fleet-runs/${fleetRunId}/report.csv`,
    };
    const reportUrls = {
      json: `${url}/_reports/${fleetRunId}/report.json?X-Amz-Signature=fake`,
      csv: `${url}/_reports/${fleetRunId}/report.csv?X-Amz-Signature=fake`,
      expiresAt: '2026-01-01T00:15:10.000Z',
    };
    return {
      ...ended,
      executionStatus: 'SUCCEEDED',
      devices: devicesSoFar(total, document.totals),
      batches: { total: document.totals.batches, done: document.totals.batches, failed: 0 },
      outcome: document.outcome as 'SUCCEEDED' | 'PARTIAL' | 'FAILED',
      totals: document.totals,
      report,
      ...(!fleetOptions?.withoutReportUrls && { reportUrls }),
    };
  };

  const handleFleetRuns = async (
    request: IncomingMessage,
    reply: (status: number, body: unknown) => void,
    response: ServerResponse,
  ): Promise<boolean> => {
    const path = new URL(request.url ?? '/', 'http://fake').pathname;
    const readBody = async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };
    if (request.method === 'POST' && path === '/fleet-uploads') {
      const { fileName = 'manifest.csv', contentType } = JSON.parse((await readBody()).toString()) as {
        fileName?: string;
        contentType?: string;
      };
      const key = `uploads/${randomUUID()}/${fileName}`;
      reply(201, {
        uploadUrl: `${url}/_s3/${key}?X-Amz-Signature=fake`,
        manifest: `s3://fake-fleet-bucket/${key}`,
        expiresAt: '2026-01-01T00:15:00.000Z',
        method: 'PUT',
        headers: { ...(contentType && { 'content-type': contentType }) },
      });
      return true;
    }
    if (request.method === 'PUT' && path.startsWith('/_s3/')) {
      uploads.set(`s3://fake-fleet-bucket/${decodeURIComponent(path.slice('/_s3/'.length))}`, {
        bytes: await readBody(),
        contentType: request.headers['content-type'],
      });
      response.writeHead(200).end();
      return true;
    }
    if (request.method === 'POST' && path === '/fleet-runs') {
      const text = (await readBody()).toString();
      const body = JSON.parse(text) as Record<string, unknown>;
      const fleetRunId = body.fleetRunId as string;
      const uploaded = uploads.get(body.manifest as string);
      if (!uploaded) {
        reply(400, {
          message: 'invalid fleet run',
          errors: [{ field: 'manifest', reason: 'must be s3://<bucket>/<key> of a .csv or .json manifest' }],
        });
        return true;
      }
      const existing = fleetRuns.get(fleetRunId);
      if (existing && JSON.stringify(existing.body) !== text) {
        reply(409, {
          message: `fleetRunId ${fleetRunId} was already used with another manifest, action or options; use a new fleetRunId`,
          fleetRunId,
        });
        return true;
      }
      if (!existing) {
        const parsed = parseManifest(uploaded.bytes.toString('utf8'), manifestFormatOf(body.manifest as string)!);
        const thingNames = parsed.ok ? parsed.manifest.rows.map((row) => (row.device as { thingName: string }).thingName) : [];
        fleetRuns.set(fleetRunId, { body, thingNames, statusCalls: 0 });
      }
      reply(202, {
        fleetRunId,
        executionArn: `arn:aws:states:us-east-1:123456789012:execution:provision-fleet:${fleetRunId}`,
        statusUrl: `${url}/fleet-runs/${fleetRunId}`,
      });
      return true;
    }
    const statusPath = /^\/fleet-runs\/([^/]+)$/.exec(path);
    if (request.method === 'GET' && statusPath) {
      const fleetRunId = decodeURIComponent(statusPath[1]!);
      const run = fleetRuns.get(fleetRunId);
      if (run) reply(200, fleetRunStatus(fleetRunId, run));
      else reply(404, { message: `no fleet run with fleetRunId ${fleetRunId}` });
      return true;
    }
    const reportPath = /^\/_reports\/([^/]+)\/report\.(json|csv)$/.exec(path);
    if (request.method === 'GET' && reportPath) {
      if (fleetOptions?.expiredReportUrls) {
        response
          .writeHead(403, { 'content-type': 'application/xml' })
          .end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
        return true;
      }
      const { document, csv } = fleetReport(reportPath[1]!, fleetRuns.get(reportPath[1]!)!);
      response.writeHead(200).end(reportPath[2] === 'json' ? `${JSON.stringify(document, null, 2)}\n` : csv);
      return true;
    }
    return false;
  };

  const calls: string[] = [];
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    calls.push(`${request.method} ${new URL(request.url ?? '/', 'http://fake').pathname}`);
    const reply = (status: number, body: unknown) =>
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (fleetOptions && (await handleFleetRuns(request, reply, response))) return;
    const statusPath = /^\/provisioning-requests\/([^/]+)$/.exec(request.url ?? '');
    if (request.method === 'POST' && request.url === '/provisioning-requests') {
      let text = '';
      for await (const chunk of request) text += chunk;
      const body = JSON.parse(text) as ProvisioningRequest;
      posted.push(body);
      const validated = validate(provisioningRequestSchema, body);
      if (!validated.ok) return reply(400, { message: 'invalid provisioning request', errors: validated.errors });
      const requestId = body.requestId!;
      const existing = executions.get(requestId);
      if (existing && existing.body !== text) return reply(409, { message: `requestId ${requestId} was already used with another body` });
      const heldDevices = held.filter(({ thingName }) => body.devices.some((device) => device.thingName === thingName));
      if (!existing && heldDevices.length > 0)
        return reply(409, { message: `${heldDevices.length} devices belong to running requests`, requestId, heldDevices });
      if (!existing) executions.set(requestId, { request: body, body: text, polls: 0 });
      return reply(202, {
        requestId,
        executionArn: `arn:aws:states:us-east-1:123456789012:execution:provision:${requestId}`,
        statusUrl: `/provisioning-requests/${requestId}`,
      });
    }
    if (request.method === 'GET' && statusPath) {
      const requestId = decodeURIComponent(statusPath[1]!);
      const execution = executions.get(requestId);
      const notFound = () => reply(404, { message: `no provisioning request with requestId ${requestId}` });
      if (!execution) return notFound();
      execution.polls += 1;
      if (execution.polls <= notVisiblePolls) return notFound();
      if (execution.polls <= notVisiblePolls + runningPolls) {
        const progress = {
          requested: execution.request.devices.length,
          finished: Math.min(execution.polls - notVisiblePolls - 1, execution.request.devices.length),
        };
        return reply(200, {
          requestId,
          executionStatus: 'RUNNING',
          outcome: 'IN_PROGRESS',
          progress,
          startDate: '2026-01-01T00:00:00.000Z',
        });
      }
      const summary = summaryOf(execution.request);
      return reply(200, {
        requestId,
        executionStatus: 'SUCCEEDED',
        outcome: summary.status,
        startDate: '2026-01-01T00:00:00.000Z',
        stopDate: '2026-01-01T00:00:01.000Z',
        summary,
      });
    }
    // What API Gateway answers for a route the REST API does not define.
    return reply(403, { message: 'Missing Authentication Token' });
  };

  const server = createServer((request, response) => void handle(request, response));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    posted,
    uploads,
    fleetRuns,
    calls,
    seed(request) {
      executions.set(request.requestId!, { request, body: JSON.stringify(request), polls: 0 });
    },
    setFailures(next) {
      failures = next;
    },
    setHeld(next) {
      held = next;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
