/**
 * `npm start`: the local cloud (IoT, Greengrass V2, Step Functions) and the service's HTTP API, wired like the
 * deployed stack but on loopback, with a demo core device and certificate ready to provision against.
 */
import { loadConfig } from '../local-cloud/config.ts';
import { startServiceCloud } from '../local-cloud/service-cloud.ts';
import { timeScaleFromEnv } from '../local-cloud/services/stepfunctions/index.ts';
import { startApiServer } from './api-server.ts';
import { createDemoCertificate, demoProvisioningRequest } from './demo-seed.ts';

const DEFAULT_API_PORT = 3000;

async function main(): Promise<void> {
  const cloudConfig = loadConfig(process.env, []);
  const apiPort = portFromEnv('API_PORT', DEFAULT_API_PORT);
  const { cloud, project, lambdas } = await startServiceCloud({ ...cloudConfig, timeScale: timeScaleFromEnv(process.env) });
  const api = await startApiServer({ project, lambdas, host: '127.0.0.1', port: apiPort }).catch(async (error: unknown) => {
    await cloud.close();
    throw portInUse(error, apiPort, 'API_PORT') ?? error;
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the local API and the local cloud`);
    await Promise.allSettled([api.close(), cloud.close()]);
    // Executions still waiting (Wait states, retry backoff) hold timers; they end with the process.
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  const certificateArn = await createDemoCertificate(cloud.url, project.region);
  console.log(
    `Ready: local cloud ${cloud.url}, API ${api.url} (stage ${project.stage}). Provision the demo device with:\n` +
      `  curl -sS -X POST ${api.url}/provisioning-requests -H 'content-type: application/json' -d '${demoProvisioningRequest(certificateArn)}'`,
  );
}

function portFromEnv(variable: string, fallback: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`${variable} must be a port number (0-65535), got "${raw}"`);
  return port;
}

function portInUse(error: unknown, port: number, variable: string): Error | undefined {
  if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') return undefined;
  return new Error(`Port ${port} is already in use: stop whatever holds it, or choose another port with ${variable} (0 picks a free one).`);
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
