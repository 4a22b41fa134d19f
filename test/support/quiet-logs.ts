import { beforeEach } from 'vitest';

/**
 * The handlers log (and publish metrics) through Powertools, which writes its JSON lines to process.stdout and
 * process.stderr itself, not through console: vitest's `silent: 'passed-only'` cannot hold them back. They are
 * held here for each test instead and written out only if it fails. A test that spies on a stream to read these
 * lines still gets them: its spy sits in front of this.
 */
const WRAPPED = Symbol.for('iot-provisioning-workflow.quiet-logs');
type Stream = NodeJS.WriteStream & { [WRAPPED]?: true };

const held: { write: (chunk: string) => void; chunk: string }[] = [];

const isPowertoolsLine = (chunk: unknown): chunk is string =>
  typeof chunk === 'string' && (chunk.startsWith('{"level":') || chunk.startsWith('{"_aws":'));

for (const stream of [process.stdout, process.stderr] as Stream[]) {
  if (stream[WRAPPED]) continue;
  stream[WRAPPED] = true;
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (!isPowertoolsLine(chunk)) return write(chunk, ...rest);
    held.push({ write: (line) => write(line), chunk });
    (rest.find((argument) => typeof argument === 'function') as (() => void) | undefined)?.();
    return true;
  }) as typeof stream.write;
}

beforeEach(({ onTestFailed }) => {
  // Lines of hooks and of a test that passed go unseen.
  held.length = 0;
  onTestFailed(() => {
    for (const { write, chunk } of held.splice(0)) write(chunk);
  });
});
