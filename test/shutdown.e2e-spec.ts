import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { temporarySqliteUrl } from './support/gateway.js';
import { spawnGateway } from './support/process.js';

describe('Stopping the gateway', () => {
  it('should write its last log line, "stopped cleanly", before it exits on SIGTERM', async () => {
    const gw = await spawnGateway({ DATABASE_URL: temporarySqliteUrl(), AUTH_DISABLED: 'true' });
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    expect(gw.output()).toMatch(/"msg":"stopped cleanly"/);
  }, 30_000);

  it('should stop the gateway when `npm start` is stopped', async () => {
    // --ignore-scripts: skip the build of prestart (the suite runs on a built tree), run start as is.
    const npm = spawn('npm', ['start', '--ignore-scripts'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        PORT: '0',
        HOST: '127.0.0.1',
        AUTH_DISABLED: 'true',
        DATABASE_URL: temporarySqliteUrl(),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so whatever is left of it can be ended whatever the outcome.
      detached: true,
    });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let stopped = false;
    try {
      let url: string | undefined;
      for (let i = 0; i < 300 && !url; i++) {
        const match = /listening on http:\/\/[^:]+:(\d+)/.exec(output);
        if (match) url = `http://127.0.0.1:${match[1]}`;
        else await sleep(50);
      }
      expect(url).toBeDefined();
      expect((await fetch(`${url}/health/live`)).status).toBe(200);
      npm.kill('SIGTERM'); // what `kill <pid of npm start>` does
      for (let i = 0; i < 100 && !stopped; i++) {
        await sleep(100);
        stopped = await fetch(`${url}/health/live`).then(
          () => false,
          () => true,
        );
      }
    } finally {
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {
        // the whole group has ended
      }
      npm.stdout.destroy();
      npm.stderr.destroy();
    }
    expect(stopped).toBe(true);
  }, 30_000);
});
