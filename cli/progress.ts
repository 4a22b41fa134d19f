import { SingleBar } from 'cli-progress';

interface ProgressSnapshot {
  totalDevices: number;
  /**
   * Devices with a final outcome, including those an earlier run was done with, and the devices of running
   * requests through their own steps: the bar moves per device, not per request.
   */
  settled: number;
  failed: number;
  /** Devices settled (or through their own steps) in this run: only they say how fast this run goes. */
  settledThisRun: number;
  elapsedMs: number;
}

export interface ProgressReporter {
  /** How many devices of a running request are through their own steps, as its status reports it. */
  running(requestId: string, finished: number): void;
  /** A request ended: its devices' outcomes replace what `running` reported for it. */
  settle(done: number, failed: number, requestId?: string): void;
  /** `finalLine: false` when the run ends without outcomes to show (the API could not be reached). */
  stop(finalLine?: boolean): void;
}

export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

const BAR_REFRESH_MS = 1_000;
const PLAIN_LINE_INTERVAL_MS = 10_000;

function deviceRate(snapshot: ProgressSnapshot): number | undefined {
  return snapshot.settledThisRun === 0 || snapshot.elapsedMs === 0 ? undefined : snapshot.settledThisRun / (snapshot.elapsedMs / 1000);
}

function secondsLeft(snapshot: ProgressSnapshot): number | undefined {
  const rate = deviceRate(snapshot);
  return rate === undefined ? undefined : (snapshot.totalDevices - snapshot.settled) / rate;
}

export function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  const pad = (value: number) => String(value).padStart(2, '0');
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${pad(whole % 60)}s`;
  return `${Math.floor(whole / 3600)}h ${pad(Math.floor((whole % 3600) / 60))}m`;
}

export function formatRate(rate: number | undefined): string {
  return rate === undefined ? '– devices/s' : `${rate.toFixed(1)} devices/s`;
}

export function formatProgressLine(snapshot: ProgressSnapshot): string {
  const left = secondsLeft(snapshot);
  return [
    `${snapshot.settled}/${snapshot.totalDevices} devices done`,
    `${snapshot.failed} failed`,
    formatRate(deviceRate(snapshot)),
    `ETA ${left === undefined ? '–' : formatDuration(left)}`,
  ].join(', ');
}

/**
 * A bar redrawn in place on a terminal; elsewhere (CI logs, files) a plain line every few seconds, which
 * stays readable where carriage returns would pile up. Rate and ETA count only this run's devices.
 */
export function startProgress(
  stream: ProgressStream,
  totalDevices: number,
  alreadyDone: number,
  now: () => number = Date.now,
): ProgressReporter {
  const startedAt = now();
  const counts = { settled: alreadyDone, failed: 0, settledThisRun: 0 };
  const running = new Map<string, number>();
  const display = showProgress(stream, () => {
    const inFlight = [...running.values()].reduce((sum, finished) => sum + finished, 0);
    return {
      totalDevices,
      ...counts,
      settled: counts.settled + inFlight,
      settledThisRun: counts.settledThisRun + inFlight,
      elapsedMs: now() - startedAt,
    };
  });

  return {
    running(requestId, finished) {
      running.set(requestId, finished);
      display.settled();
    },
    settle(done, failed, requestId) {
      if (requestId !== undefined) running.delete(requestId);
      counts.settled += done + failed;
      counts.settledThisRun += done + failed;
      counts.failed += failed;
      display.settled();
    },
    stop: display.stop,
  };
}

/** A server-side fleet run's progress, as its status reports it. */
export interface FleetRunProgressReporter {
  /** The run's device counts so far: its whole fleet, those done (whatever their outcome) and, once known, those failed. */
  update(counts: { total: number; done: number; failed?: number }): void;
  stop(finalLine?: boolean): void;
}

/** The same display for a run the service carries out: `alreadyDone` were done before this watch began, and count for no rate. */
export function startFleetRunProgress(
  stream: ProgressStream,
  totalDevices: number,
  alreadyDone: number,
  now: () => number = Date.now,
): FleetRunProgressReporter {
  const startedAt = now();
  const counts = { totalDevices, settled: alreadyDone, failed: 0 };
  const display = showProgress(stream, () => ({ ...counts, settledThisRun: counts.settled - alreadyDone, elapsedMs: now() - startedAt }));
  return {
    update({ total, done, failed }) {
      Object.assign(counts, { totalDevices: Math.max(total, counts.totalDevices), settled: done, failed: failed ?? counts.failed });
      display.settled();
    },
    stop: display.stop,
  };
}

function showProgress(stream: ProgressStream, snapshot: () => ProgressSnapshot): { settled(): void; stop(finalLine?: boolean): void } {
  const display = stream.isTTY ? barDisplay(stream, snapshot) : plainDisplay(stream, snapshot);
  const timer = setInterval(display.refresh, display.periodMs);
  // Never keep the process alive for the sake of a progress display.
  timer.unref();
  return {
    settled: display.settled,
    stop(finalLine = true) {
      clearInterval(timer);
      display.finish(finalLine);
    },
  };
}

interface Display {
  periodMs: number;
  refresh(): void;
  settled(): void;
  finish(finalLine: boolean): void;
}

function barDisplay(stream: ProgressStream, snapshot: () => ProgressSnapshot): Display {
  const bar = new SingleBar({
    stream: stream as NodeJS.WritableStream,
    format: '{bar} {value}/{total} devices | {failed} failed | {rate} | ETA {timeLeft}',
    hideCursor: true,
  });
  const payload = (current: ProgressSnapshot) => {
    const left = secondsLeft(current);
    return { failed: current.failed, rate: formatRate(deviceRate(current)), timeLeft: left === undefined ? '–' : formatDuration(left) };
  };
  const refresh = () => {
    const current = snapshot();
    bar.setTotal(current.totalDevices);
    bar.update(current.settled, payload(current));
  };
  const initial = snapshot();
  bar.start(initial.totalDevices, initial.settled, payload(initial));
  return {
    periodMs: BAR_REFRESH_MS,
    refresh,
    settled: refresh,
    finish(finalLine) {
      if (finalLine) refresh();
      bar.stop();
    },
  };
}

function plainDisplay(stream: ProgressStream, snapshot: () => ProgressSnapshot): Display {
  const printLine = () => stream.write(`${formatProgressLine(snapshot())}\n`);
  // Lines come at a steady pace, not one per finished request, which could flood a log.
  return { periodMs: PLAIN_LINE_INTERVAL_MS, refresh: printLine, settled: () => {}, finish: (finalLine) => finalLine && printLine() };
}
