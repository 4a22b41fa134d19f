/**
 * One figure in a process of its own: `node bench/figure.ts <figure> '<options JSON>'`, started by
 * bench/run.ts, which receives the result over the IPC channel. A fresh process per figure keeps each
 * figure's environment (pacing variables), imported handlers and memory peak to itself.
 */
import { bundles } from './bundles.ts';
import { cost } from './cost.ts';
import { fleetMemory } from './fleet-memory.ts';
import { fleetRun } from './fleet-run.ts';
import { latency } from './latency.ts';
import { quotaEfficiency } from './quota-efficiency.ts';
import { scaling } from './scaling.ts';

export const FIGURES = {
  quotaEfficiency,
  fleetRun,
  fleetMemory: ({ devices }: { devices: number }) => fleetMemory(devices),
  cost,
  latency,
  bundles,
  scaling,
} as const;
export type FigureName = keyof typeof FIGURES;

const [name, options] = process.argv.slice(2) as [FigureName, string];
const figure = FIGURES[name] as (options: unknown) => Promise<unknown>;
const result = await figure(JSON.parse(options));
// Executions' timers and keep-alive sockets would otherwise hold the process open.
process.send!(result, () => process.exit(0));
