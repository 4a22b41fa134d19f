#!/usr/bin/env node
// Plain JavaScript, so that a Node too old to load TypeScript says so instead of failing on a file extension.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `iot-provision needs Node 24 or later, and this is Node ${process.versions.node}. Run it with npx from the ` +
      `project directory, which puts the project's Node 24 (the node@24 devDependency) first on the PATH.\n`,
  );
  process.exit(2);
}
const { runCli } = await import('../cli/main.ts');
// The first Ctrl-C lets the run stop cleanly and say how to resume; a second one ends the process at once.
const interrupt = new AbortController();
process.once('SIGINT', () => interrupt.abort());
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  interrupt: interrupt.signal,
});
