/** Order statistics for the benchmark's samples (nearest-rank percentiles, no interpolation), and rounding. */

export function percentile(samples: readonly number[], percent: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  const sorted = [...samples].sort((left, right) => left - right);
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export interface Summary {
  p50: number;
  p99: number;
  max: number;
}

/** p50, p99 and max, rounded to 0.1 ms. */
export function summarize(samples: readonly number[]): Summary {
  return { p50: round(percentile(samples, 50), 1), p99: round(percentile(samples, 99), 1), max: round(percentile(samples, 100), 1) };
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
