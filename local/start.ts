/**
 * `npm start`: the local cloud (IoT, Greengrass V2, Step Functions) and the service's HTTP API, wired like the
 * deployed stack but on loopback, with a demo core device and certificate ready to provision against.
 */
import { listenError, loadConfig, parsePort, startApiServer, startServiceCloud, timeScaleFromEnv } from '../local-cloud/index.ts';
import { createDemoCertificates, demoFleetCommand, demoProvisioningRequest } from './demo-seed.ts';

const API_HOST = '127.0.0.1';
const DEFAULT_API_PORT = 3000;

async function main(): Promise<void> {
  const cloudConfig = loadConfig(process.env, []);
  const apiPort = parsePort('API_PORT', process.env.API_PORT || undefined, DEFAULT_API_PORT);
  const { cloud, project, lambdas } = await startServiceCloud({ ...cloudConfig, timeScale: timeScaleFromEnv(process.env) });
  const api = await startApiServer({ project, lambdas, host: API_HOST, port: apiPort }).catch(async (error: unknown) => {
    await cloud.close();
    throw listenError(error, API_HOST, apiPort, 'API_PORT');
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the local API and the local cloud`);
    await Promise.allSettled([api.close(), cloud.close()]);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  const [certificateArn] = await createDemoCertificates(cloud.url, project.region, 1);
  console.log(
    `Ready: local cloud ${cloud.url}, API ${api.url} (stage ${project.stage}). Provision the demo device with:\n` +
      `  curl -sS -X POST ${api.url}/provisioning-requests -H 'content-type: application/json' -d '${demoProvisioningRequest(certificateArn!)}'\n` +
      `Or try the fleet CLI on 100 demo devices (in another terminal):\n` +
      `  ${demoFleetCommand(cloud.url, api.url)}\n` +
      `More certificates: npm run demo-fleet -- --devices <n> --out <file.csv> writes a manifest with a fresh one per device; ` +
      `or, with the AWS CLI, aws iot create-keys-and-certificate --set-as-active --endpoint-url ${cloud.url} --region ${project.region} (any credentials).`,
  );
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
