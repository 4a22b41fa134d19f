import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** One configured instance of each per module graph: handlers share them, Lambda reuses them warm. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'iot-provisioning-workflow' });

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'IoTProvisioning',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'iot-provisioning-workflow',
});
