import { loadConfig } from './config.ts';
import { startServiceCloud } from './service-cloud.ts';
import { timeScaleFromEnv } from './services/stepfunctions/index.ts';

/**
 * `npm run local-cloud`: the emulator alone — IoT, Greengrass V2 and Step Functions with this
 * service's state machines — on 127.0.0.1:4566 unless configured otherwise. The service's API is
 * `npm start`; here the functions are reached through their state machines or `sls invoke local`.
 */
try {
  const config = loadConfig();
  const { cloud, url } = await startServiceCloud({ ...config, timeScale: timeScaleFromEnv(process.env) });
  const { services } = cloud.admin.health();
  const quotas = cloud.admin.faults();
  console.log(
    `local cloud ready at ${url} (services: ${services.join(', ')}; quotas ${quotas.quotas ? `on ×${quotas.quotaScale}` : 'off'}${config.dataDir ? `; data dir ${config.dataDir}` : ''})`,
  );
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    cloud.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`local cloud: error while stopping on ${signal}`, error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (error) {
  console.error(`local cloud: ${(error as Error).message}`);
  process.exit(1);
}
