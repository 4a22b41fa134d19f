/**
 * The fleet CLI as a library: what `iot-provision` runs, for a program that drives the service the way the CLI does
 * (the benchmark). The command itself is bin/iot-provision.js over cli/main.ts.
 */
export { type Backoff, createFleetApi } from './api-client.ts';
export { DEFAULT_CONCURRENCY } from './arguments.ts';
export { runFleet } from './fleet-run.ts';
export { planRequests } from './plan.ts';
export { newRun } from './resume.ts';
