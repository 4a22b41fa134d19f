import { describe, expect, it } from 'vitest';
import { formatDuration, formatProgressLine, startFleetRunProgress, startProgress } from '../../../cli/progress.ts';
import { capturedStream } from '../../support/fleet-fixtures.ts';

describe('progress', () => {
  it('reads as done, failed, rate and ETA, counting only this run for the rate', () => {
    const line = formatProgressLine({ totalDevices: 1000, settled: 600, failed: 3, settledThisRun: 100, elapsedMs: 20_000 });

    expect(line).toBe('600/1000 devices done, 3 failed, 5.0 devices/s, ETA 1m 20s');
  });

  it('has no rate or ETA before anything settled', () => {
    expect(formatProgressLine({ totalDevices: 10, settled: 4, failed: 0, settledThisRun: 0, elapsedMs: 5_000 })).toBe(
      '4/10 devices done, 0 failed, – devices/s, ETA –',
    );
  });

  it('formats durations in seconds, minutes and hours', () => {
    expect([9.6, 65, 3_725].map(formatDuration)).toEqual(['10s', '1m 05s', '1h 02m']);
  });

  it('writes a final plain line when the output is not a terminal', () => {
    const stream = capturedStream();
    let now = 0;
    const progress = startProgress(stream, 10, 2, () => now);

    now = 4_000;
    progress.settle(6, 2);
    progress.stop();

    expect(stream.text()).toBe('10/10 devices done, 2 failed, 2.0 devices/s, ETA 0s\n');
  });

  it('counts the devices of running requests through their own steps, until their outcomes replace them', () => {
    const stream = capturedStream();
    let now = 0;
    const progress = startProgress(stream, 10, 0, () => now);

    now = 2_000;
    progress.running('r-0', 3);
    progress.running('r-1', 1);
    progress.running('r-0', 4);
    progress.stop();
    progress.settle(4, 1, 'r-0');
    progress.stop();

    expect(stream.text()).toBe('5/10 devices done, 0 failed, 2.5 devices/s, ETA 2s\n6/10 devices done, 1 failed, 3.0 devices/s, ETA 1s\n');
  });

  it("shows a fleet run's counts as its status reports them, the devices done before the watch counting for no rate", () => {
    const stream = capturedStream();
    let now = 0;
    const progress = startFleetRunProgress(stream, 1000, 400, () => now);

    now = 10_000;
    progress.update({ total: 1000, done: 600 });
    progress.stop();
    progress.update({ total: 1000, done: 1000, failed: 3 });
    progress.stop();

    expect(stream.text()).toBe(
      '600/1000 devices done, 0 failed, 20.0 devices/s, ETA 20s\n1000/1000 devices done, 3 failed, 60.0 devices/s, ETA 0s\n',
    );
  });
});
