import { describeRealTimeScenarios } from './real-time-suite.ts';
import { scenarios } from './scenarios.ts';

// A file of its own: the scenario's cloud starts with its own pacing, and a test file's handlers reach one cloud.
const scenario = scenarios.find((candidate) => candidate.name === 'rollbacks-under-heavy-faults')!;

describeRealTimeScenarios('rollbacks under heavy faults, real-time retries', scenario.pacingEnvironment!, [scenario]);
