import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GreengrassV2Client, ListClientDevicesAssociatedWithCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import {
  CreateKeysAndCertificateCommand,
  DescribeCertificateCommand,
  DescribeThingCommand,
  IoTClient,
  ListThingPrincipalsCommand,
} from '@aws-sdk/client-iot';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IN_FLIGHT_TASK_GRACE_SECONDS } from '../../../../../functions/domain/device-leases.ts';
import { LOCAL_ACCOUNT_ID } from '../../../../../local-cloud/config.ts';
import { loadServerlessProject } from '../../../../../local-cloud/lambda/serverless-project.ts';
import { stateMachineArnResolver } from '../../../../../local-cloud/services/stepfunctions/index.ts';
import { stateMachinesOf } from '../../../../../local-cloud/services/stepfunctions/state-machine-definitions.ts';
import { executionHistory, waitForExecution } from '../../../../support/step-functions.ts';

const MAIN = fileURLToPath(new URL('../../../../../local-cloud/main.ts', import.meta.url));
const CORE = 'core-a';
/** A guard against a hung run, not a timing assertion. */
const PATIENCE_MS = 30_000;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** `npm run local-cloud` on `dataDir`, in its own process, once it has said it is ready. */
async function startLocalCloud(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN, '--port', String(port), '--data-dir', dataDir, '--no-quotas', '--core-device', CORE], {
    // Waits and retry backoff as on AWS, so that a throttled task keeps its execution running until the kill.
    env: {
      ...process.env,
      LOCAL_CLOUD_SFN_TIME_SCALE: '1',
      LOCAL_CLOUD_KEY_ALGORITHM: 'ec-p256',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let text = '';
  for await (const chunk of child.stdout!) {
    text += String(chunk);
    if (text.includes('local cloud ready at')) return child;
  }
  throw new Error(`the local cloud ended before it was ready: ${text}`);
}

async function poll<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the local cloud killed mid-run and restarted on the same data dir', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-cloud-restart-'));
  let child: ChildProcess | undefined;
  let url = '';
  let sfn: SFNClient;
  let iot: IoTClient;
  let greengrass: GreengrassV2Client;
  let s3: S3Client;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = await startLocalCloud(dataDir, port);
    const project = await loadServerlessProject();
    const provision = stateMachinesOf(project).find((machine) => machine.key === 'provision');
    // What Lambda's environment gives the service's functions, which this process runs to submit and describe requests.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: url,
      AWS_REGION: project.region,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
      PROVISION_STATE_MACHINE_ARN: stateMachineArnResolver(project, LOCAL_ACCOUNT_ID)({ Ref: provision?.logicalId }),
      DEVICE_LEASES_TABLE: (project.config.provider as { environment: Record<string, string> }).environment.DEVICE_LEASES_TABLE,
    });
    const clientConfig = { endpoint: url, region: project.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
    sfn = new SFNClient(clientConfig);
    iot = new IoTClient(clientConfig);
    greengrass = new GreengrassV2Client(clientConfig);
    s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  });

  afterAll(async () => {
    sfn.destroy();
    iot.destroy();
    greengrass.destroy();
    s3.destroy();
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps closed executions, histories, things, certificates, associations, leases and objects; fails the running execution with LocalCloud.Restarted; a new request converges', {
    timeout: 4 * PATIENCE_MS,
  }, async () => {
    // Imported once the endpoint is set, as a Lambda's module would be in its environment.
    const { provisioning, submitRequest } = await import('../../../../../functions/api/requests.ts');
    const { describeRequest } = await import('../../../../../functions/aws/executions.ts');
    const started = async (body: unknown) => {
      const outcome = await submitRequest(provisioning, body);
      if (outcome.kind !== 'started') throw new Error(`request not started: ${JSON.stringify(outcome)}`);
      return outcome.executionArn;
    };
    const device = async (thingName: string) => {
      const { certificateArn } = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      return { thingName, principal: certificateArn as string, coreDeviceThingName: CORE };
    };
    const [first, second, third] = [await device('restart-0'), await device('restart-1'), await device('restart-2')];
    await s3.send(new CreateBucketCommand({ Bucket: 'kept-objects' }));
    await s3.send(new PutObjectCommand({ Bucket: 'kept-objects', Key: 'manifests/a.csv', Body: 'thingName\nrestart-0\n' }));

    const closedArn = await started({ requestId: 'before-the-kill', devices: [first] });
    expect((await waitForExecution(sfn, closedArn, { timeoutMs: PATIENCE_MS })).status).toBe('SUCCEEDED');
    const closedHistory = await executionHistory(sfn, closedArn);

    // Every association call throttled: the second request registers its things, then retries AssociateBatch until killed.
    const faults = await fetch(`${url}/_local/faults`, {
      method: 'POST',
      body: JSON.stringify({ throttle: { BatchAssociateClientDeviceWithCoreDevice: 1 } }),
    });
    expect(faults.status).toBe(200);
    const runningArn = await started({ requestId: 'cut-short', devices: [second, third] });
    const historyBeforeKill = await poll(async () => {
      const history = await executionHistory(sfn, runningArn);
      const throttled = history.some((event) => event.lambdaFunctionFailedEventDetails?.error === 'ThrottlingException');
      return throttled ? history : undefined;
    }, 'a throttled AssociateBatch attempt');
    // The association step is reached after RegisterThing answered for both things, and the local cloud commits a
    // change before it answers: they are in the database at the kill.
    for (const { thingName } of [second, third])
      expect((await iot.send(new DescribeThingCommand({ thingName }))).thingName).toBe(thingName);

    child!.kill('SIGKILL');
    await once(child!, 'exit');
    child = await startLocalCloud(dataDir, Number(new URL(url).port));

    const closed = await sfn.send(new DescribeExecutionCommand({ executionArn: closedArn }));
    expect(closed).toMatchObject({ status: 'SUCCEEDED', name: 'before-the-kill' });
    expect(await executionHistory(sfn, closedArn)).toEqual(closedHistory);

    const cutShort = await sfn.send(new DescribeExecutionCommand({ executionArn: runningArn }));
    expect(cutShort).toMatchObject({
      status: 'FAILED',
      error: 'LocalCloud.Restarted',
      cause: expect.stringMatching(/^The local cloud stopped .* while this execution ran/),
    });
    expect(cutShort.output).toBeUndefined();
    const cutShortHistory = await executionHistory(sfn, runningArn);
    expect(cutShortHistory.slice(0, historyBeforeKill.length)).toEqual(historyBeforeKill);
    expect(cutShortHistory.at(-1)).toMatchObject({
      type: 'ExecutionFailed',
      id: cutShortHistory.length,
      previousEventId: cutShortHistory.length - 1,
      executionFailedEventDetails: { error: 'LocalCloud.Restarted' },
    });

    for (const { thingName, principal } of [first, second, third]) {
      expect((await iot.send(new DescribeThingCommand({ thingName }))).thingName).toBe(thingName);
      expect((await iot.send(new ListThingPrincipalsCommand({ thingName }))).principals).toEqual([principal]);
      const certificateId = principal.slice(principal.lastIndexOf('/') + 1);
      expect((await iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status).toBe('ACTIVE');
    }
    const associated = await greengrass.send(new ListClientDevicesAssociatedWithCoreDeviceCommand({ coreDeviceThingName: CORE }));
    expect(associated.associatedClientDevices?.map((association) => association.thingName)).toEqual(['restart-0']);
    const object = await s3.send(new GetObjectCommand({ Bucket: 'kept-objects', Key: 'manifests/a.csv' }));
    expect(await object.Body?.transformToString()).toBe('thingName\nrestart-0\n');

    const status = await describeRequest(process.env.PROVISION_STATE_MACHINE_ARN!, 'cut-short', provisioning.deviceMap);
    expect(status).toMatchObject({ executionStatus: 'FAILED', outcome: 'UNKNOWN', error: { code: 'LocalCloud.Restarted' } });
    expect(status?.unsettled?.devices.map((unsettled) => unsettled.thingName)).toEqual(['restart-1', 'restart-2']);

    // The service takes a failed execution's leases over only once no task it invoked can still be at work.
    const resend = { requestId: 'after-the-restart', devices: [second, third] };
    expect(await submitRequest(provisioning, resend)).toMatchObject({
      kind: 'held',
      heldDevices: [{ heldBy: { requestId: 'cut-short' } }, { heldBy: { requestId: 'cut-short' } }],
    });
    // That grace counts from the stopDate the restart gave the execution: the service's clock is moved past it
    // (the functions that submit run in this process; the cloud, in its own, keeps real time).
    vi.setSystemTime(cutShort.stopDate!.getTime() + (IN_FLIGHT_TASK_GRACE_SECONDS + 1) * 1000);
    try {
      // The restarted cloud has its configured faults again: none.
      const again = await waitForExecution(sfn, await started(resend), { timeoutMs: PATIENCE_MS });
      expect(again.status).toBe('SUCCEEDED');
      expect(JSON.parse(again.output ?? 'null')).toMatchObject({ status: 'SUCCEEDED', counts: { requested: 2, succeeded: 2, failed: 0 } });
    } finally {
      vi.useRealTimers();
    }
  });
});
