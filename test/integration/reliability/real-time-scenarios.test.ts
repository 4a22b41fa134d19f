import { describeRealTimeScenarios } from './real-time-suite.ts';
import { REAL_TIME_SCALE, scenarios } from './scenarios.ts';

/**
 * The quotas the local cloud enforces in these scenarios (the AWS defaults). A device's steps take
 * milliseconds here, not the 0.5 s of Lambda on AWS; 0.1 s gives 2 lanes. With 0.5 s the 6 lanes start each
 * next device at once, and a device whose backoff has grown loses every race for RegisterThing tokens to
 * fresh ones (with 10 throttle retries, before they became 30, 1 device in 120 ran out of them:
 * docs/reliability.md).
 */
const PACING_ENVIRONMENT = {
  REGISTER_THING_TPS: '10',
  ATTACH_THING_PRINCIPAL_TPS: '100',
  DESCRIBE_THING_TPS: '350',
  DEVICE_STEP_SECONDS: '0.1',
};

describeRealTimeScenarios(
  'fault-injection scenarios, real-time retries',
  PACING_ENVIRONMENT,
  scenarios.filter((candidate) => candidate.timeScale === REAL_TIME_SCALE && !candidate.pacingEnvironment),
);
