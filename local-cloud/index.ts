/**
 * The local cloud as the rest of the repository uses it: `npm start` (local/), the benchmark and the tests'
 * harness import from here, never from the modules behind it, which are free to move.
 */
export { type RunningApiServer, startApiServer } from './apigateway/api-server.ts';
export { DEMO_CORE_DEVICE, LOCAL_ACCOUNT_ID, type LocalCloudConfig, listenError, loadConfig, localCloudUrl, parsePort } from './config.ts';
export type { FaultSettings, FaultSettingsPatch, OperationCounters } from './faults.ts';
export { createLambdaRegistry, type LambdaRegistry } from './lambda/lambda-registry.ts';
export { loadServerlessProject, type ServerlessProject } from './lambda/serverless-project.ts';
export { createLocalCloud, type LocalCloud, type LocalCloudOptions } from './server.ts';
export { type ServiceCloud, type ServiceCloudOptions, startServiceCloud } from './service-cloud.ts';
export { timeScaleFromEnv } from './services/stepfunctions/index.ts';
export { stateMachineDefinition } from './services/stepfunctions/state-machine-definitions.ts';
export type { StateSnapshot } from './store.ts';
