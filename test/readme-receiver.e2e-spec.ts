import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, startGateway, type TestGateway } from './support/gateway.js';
import { readmeText } from './support/readme.js';
import { webhookSecret } from './support/webhook-receiver.js';

const README = readmeText();
const RECEIVER = /```js\n(\/\/ receiver\.mjs[\s\S]*?)```/.exec(README)?.[1];
const SECRET = webhookSecret('readme-receiver-secret');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The README's webhook receiver, run as written, behind a real gateway. */
describe('README "Events and webhooks" receiver', () => {
  let gw: TestGateway;
  let child: ChildProcess;
  let output = '';
  let url: string;

  beforeAll(async () => {
    expect(RECEIVER).toBeDefined();
    const file = join(mkdtempSync(join(tmpdir(), 'readme-receiver-')), 'receiver.mjs');
    writeFileSync(file, RECEIVER!);
    const port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    child = spawn(process.execPath, [file], {
      env: { PATH: process.env.PATH ?? '', WEBHOOK_SECRET: SECRET, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    for (let i = 0; i < 100; i++) {
      const up = await fetch(url, { method: 'POST', body: '' }).then(
        () => true,
        () => false,
      );
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    gw = await startGateway({ WEBHOOKS: JSON.stringify([{ id: 'readme', url, secret: SECRET }]) });
  });
  afterAll(async () => {
    await gw?.close();
    child?.kill();
  });

  it('should be at most 20 lines', () => {
    expect(RECEIVER!.trimEnd().split('\n').length).toBeLessThanOrEqual(20);
  });

  it("should accept the gateway's signed events and refuse a wrong signature", async () => {
    const res = await call('PUT', `${gw.url}/v1/accounts/spidr/readme-hook-1/status`, {
      body: { status: 'SUSPENDED', reason: 'FRAUD' },
    });
    expect(res.status).toBe(200);
    const deadline = Date.now() + 10_000;
    while (!output.includes('spidr/readme-hook-1') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(output).toContain('account.status.changed spidr/readme-hook-1 SUSPENDED');
    const metrics = await fetch(`${gw.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(
      /statusgate_webhook_deliveries_total\{subscriber="readme",result="delivered"\} 1/,
    );

    const body = JSON.stringify({ type: 'account.status.changed', subject: 'x/y', data: {} });
    const forged = await fetch(url, {
      method: 'POST',
      body,
      headers: {
        'webhook-id': 'msg_1',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')}`,
      },
    });
    expect(forged.status).toBe(401);
    expect(output).not.toContain('x/y');
  });
});
