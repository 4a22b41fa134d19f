import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCsr } from '../../support/device-certificates.ts';
import { startTestServiceCloud, type TestServiceCloud } from '../../support/service-cloud.ts';

/**
 * Private keys and certificate bodies must never reach the logs (nor the execution history, which the
 * console shows to anyone with states:GetExecutionHistory). Every line written to stdout and stderr
 * during full runs at DEBUG is captured — Powertools writes its JSON lines there through its own
 * console — including a run whose template issues certificates from CSRs, so that RegisterThing
 * answers with a certificate PEM, and failing steps, whose warnings carry AWS error messages.
 */
describe('secrets in logs', () => {
  let cloud: TestServiceCloud;
  const captured: string[] = [];
  const originalWrites = { stdout: process.stdout.write, stderr: process.stderr.write };
  const originalLevel = process.env.POWERTOOLS_LOG_LEVEL;

  beforeAll(async () => {
    // Read when serverless.yml is loaded and when the handlers' logger is created.
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    cloud = await startTestServiceCloud();
    for (const stream of ['stdout', 'stderr'] as const) {
      const write = originalWrites[stream];
      process[stream].write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return (write as (...args: unknown[]) => boolean).call(process[stream], chunk, ...rest);
      }) as typeof process.stdout.write;
    }
  });
  afterAll(async () => {
    process.stdout.write = originalWrites.stdout;
    process.stderr.write = originalWrites.stderr;
    // A worker process may run other test files next.
    if (originalLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
    else process.env.POWERTOOLS_LOG_LEVEL = originalLevel;
    await cloud.close();
  });

  it('no PEM header, private key or issued certificate body in any log line or execution history', async () => {
    // Throttling makes every step log warnings; a bad CSR makes RegisterThing fail with a message.
    cloud.cloud.admin.configureFaults({ seed: 5, throttle: { RegisterThing: 0.3, AttachThingPrincipal: 0.3 } });
    const withCertificates = await cloud.provision({
      requestId: 'logs-certificates',
      coreDeviceThingName: 'core-a',
      devices: await Promise.all(
        Array.from({ length: 5 }, async (_, index) => ({ thingName: `logs-cert-${index}`, principal: await cloud.createCertificate() })),
      ),
    });
    const fromCsr = await cloud.provision({
      requestId: 'logs-csr',
      coreDeviceThingName: 'core-a',
      templateName: 'thing-with-certificate-from-csr',
      devices: [
        ...(await Promise.all(
          Array.from({ length: 5 }, async (_, index) => ({
            thingName: `logs-csr-${index}`,
            parameters: { CSR: await deviceCsr(`logs-csr-${index}`) },
          })),
        )),
        { thingName: 'logs-csr-bad', parameters: { CSR: 'not a CSR' } },
      ],
    });
    const logs = captured.join('');

    // The capture really saw the handlers' JSON lines, failures included.
    expect(fromCsr.summary.counts).toMatchObject({ succeeded: 5, failed: 1 });
    expect(logs).toContain('"message":"request finished"');
    expect(logs).toContain('"level":"WARN"');
    expect(logs).toContain('logs-csr');

    const issued = cloud.cloud.admin.state().certificates.map((certificate) => certificate.certificatePem);
    const issuedByTemplate = fromCsr.summary.devices.flatMap((device) => (device.certificateArn ? [device.certificateArn] : []));
    expect(issuedByTemplate).toHaveLength(5);
    // The base64 lines of every certificate in the cloud: the template-issued ones and the operator's.
    const bodies = issued.flatMap((pem) => pem.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----')));
    expect(bodies.length).toBeGreaterThan(10);

    // The history holds the request, whose CSRs are public PEM: there only certificates may not appear.
    const history = JSON.stringify([withCertificates.history, fromCsr.history]);
    const forbidden: [where: string, text: string, marker: string][] = [
      ['logs', logs, '-----BEGIN'],
      ['logs', logs, 'PRIVATE KEY'],
      ['execution history', history, '-----BEGIN CERTIFICATE-----'],
      ['execution history', history, 'PRIVATE KEY'],
      ...bodies.flatMap((line) => [
        ['logs', logs, line] as [string, string, string],
        ['execution history', history, line] as [string, string, string],
      ]),
    ];
    for (const [where, text, marker] of forbidden) expect(text.includes(marker), `${where} contain ${marker}`).toBe(false);
  });
});
