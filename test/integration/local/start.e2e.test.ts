import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const START = fileURLToPath(new URL('../../../local/start.ts', import.meta.url));

/** `npm start` on free ports, until it has printed its ready text (then stopped as Ctrl-C stops it). */
async function readyText(): Promise<string> {
  const child = spawn(process.execPath, [START], {
    env: { ...process.env, LOCAL_CLOUD_PORT: '0', API_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  try {
    for await (const chunk of child.stdout) {
      text += String(chunk);
      if (text.includes('More certificates')) break;
    }
    return text;
  } finally {
    child.kill('SIGINT');
    if (child.exitCode === null) await once(child, 'exit');
  }
}

describe('npm start', () => {
  it('says where the local cloud and the API listen, how the fleet CLI reaches that API, and how to create more certificates', async () => {
    const text = await readyText();

    const [, cloudUrl, apiUrl] = /Ready: local cloud (http:\/\/127\.0\.0\.1:\d+), API (http:\/\/127\.0\.0\.1:\d+)/.exec(text) ?? [];
    expect(cloudUrl).toBeDefined();
    expect(text).toContain(`npx iot-provision demo-fleet.csv --api-url ${apiUrl}`);
    expect(text).toMatch(/More certificates: npm run demo-fleet -- --devices <n> --out <file\.csv>/);
    expect(text).toContain(`aws iot create-keys-and-certificate --set-as-active --endpoint-url ${cloudUrl} --region `);
  });
});
