import fc from 'fast-check';
import { afterEach } from 'vitest';
import { collectRegisteredTraces, pathCoverageDir } from './path-coverage.ts';

/**
 * Every property test runs with a fixed seed, so that a run is repeatable: FC_SEED sets another
 * (FC_SEED=random for a fresh one each run). fast-check names the seed and the counterexample's path in the
 * message of a failing property; re-run with that FC_SEED to reproduce it.
 */
const DEFAULT_FC_SEED = 20261207;
const seedSetting = process.env.FC_SEED;
const seed = seedSetting === 'random' ? Date.now() ^ (Math.random() * 0x100000000) : seedSetting ? Number(seedSetting) : DEFAULT_FC_SEED;
if (!Number.isInteger(seed)) throw new Error(`FC_SEED must be an integer or "random", not ${seedSetting}`);
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });

if (pathCoverageDir()) {
  afterEach(() => collectRegisteredTraces());
}
