import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProgressStream } from '../../cli/progress.ts';

export function certificateArn(index: number): string {
  return `arn:aws:iot:us-east-1:123456789012:cert/${index.toString(16).padStart(64, '0')}`;
}

/** A CSV manifest of `count` valid devices named sensor-0000…, on two core devices. */
export function fleetCsv(count: number): string {
  const rows = Array.from(
    { length: count },
    (_, index) => `${sensorName(index)},${certificateArn(index)},core-${index % 2 === 0 ? 'a' : 'b'},site-${index}`,
  );
  return ['thingName,principal,coreDeviceThingName,param.Site', ...rows].join('\n');
}

export function sensorName(index: number): string {
  return `sensor-${String(index).padStart(4, '0')}`;
}

export async function workDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'iot-provision-'));
}

export async function writeManifest(directory: string, name: string, content: string): Promise<string> {
  const path = join(directory, name);
  await writeFile(path, content);
  return path;
}

/** A stream that keeps what is written, as a pipe would (not a terminal). */
export function capturedStream(): ProgressStream & { text(): string } {
  const chunks: string[] = [];
  return { isTTY: false, write: (text: string) => chunks.push(text), text: () => chunks.join('') };
}
