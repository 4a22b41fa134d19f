import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { provisioningRequestSchema, type ProvisioningRequest } from '../../../functions/domain/provisioning-request.ts';
import type { HeldDevice } from '../../../functions/domain/device-leases.ts';
import type { DeviceOutcome, RequestSummary, StepError } from '../../../functions/domain/records.ts';
import { validate } from '../../../functions/domain/validation.ts';

export interface FakeApiOptions {
  /** The error each named device fails with; every other device is provisioned. */
  failures?: Record<string, StepError>;
  /** How many status calls answer RUNNING before the execution ends. */
  runningPolls?: number;
  /** How many status calls answer 404 before the execution shows, as Step Functions' eventual consistency allows. */
  notVisiblePolls?: number;
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
      return { thingName: device.thingName, status: 'PROVISIONED', coreDeviceThingName: core, thingArn: `arn:aws:iot:us-east-1:123456789012:thing/${device.thingName}` };
    });
    const failed = outcomes.filter((outcome) => outcome.status === 'FAILED').length;
    return {
      requestId: requestId!,
      status: failed === 0 ? 'SUCCEEDED' : failed === outcomes.length ? 'FAILED' : 'PARTIAL',
      counts: { requested: outcomes.length, succeeded: outcomes.length - failed, failed, rolledBack: failed },
      devices: outcomes,
    };
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const reply = (status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
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
      if (!existing && heldDevices.length > 0) return reply(409, { message: `${heldDevices.length} devices belong to running requests`, requestId, heldDevices });
      if (!existing) executions.set(requestId, { request: body, body: text, polls: 0 });
      return reply(202, { requestId, executionArn: `arn:aws:states:us-east-1:123456789012:execution:provision:${requestId}`, statusUrl: `/provisioning-requests/${requestId}` });
    }
    if (request.method === 'GET' && statusPath) {
      const requestId = decodeURIComponent(statusPath[1]!);
      const execution = executions.get(requestId);
      const notFound = () => reply(404, { message: `no provisioning request with requestId ${requestId}` });
      if (!execution) return notFound();
      execution.polls += 1;
      if (execution.polls <= notVisiblePolls) return notFound();
      if (execution.polls <= notVisiblePolls + runningPolls) {
        const progress = { requested: execution.request.devices.length, finished: Math.min(execution.polls - notVisiblePolls - 1, execution.request.devices.length) };
        return reply(200, { requestId, executionStatus: 'RUNNING', outcome: 'IN_PROGRESS', progress, startDate: '2026-01-01T00:00:00.000Z' });
      }
      const summary = summaryOf(execution.request);
      return reply(200, { requestId, executionStatus: 'SUCCEEDED', outcome: summary.status, startDate: '2026-01-01T00:00:00.000Z', stopDate: '2026-01-01T00:00:01.000Z', summary });
    }
    return reply(404, { message: 'no such route' });
  };

  const server = createServer((request, response) => void handle(request, response));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    posted,
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
