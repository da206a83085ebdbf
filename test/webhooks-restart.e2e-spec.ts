import {
  call,
  spidrGatewayEnv,
  startSandbox,
  temporarySqliteUrl,
  type StandaloneSandbox,
} from './support/gateway.js';
import { spawnGateway } from './support/process.js';
import { startReceiver, webhookSecret, type WebhookReceiver } from './support/webhook-receiver.js';

/** At least once across a crash: state is in the database, so a kill -9 loses no delivery. */
describe('Webhook delivery across a kill -9', () => {
  let sandbox: StandaloneSandbox;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    sandbox = await startSandbox('spidr');
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await sandbox?.close();
    await receiver?.close();
  });

  const envFor = (databaseUrl: string, url: string) => ({
    ...spidrGatewayEnv(databaseUrl, sandbox.url),
    WEBHOOKS: JSON.stringify([{ id: 'crm', url, secret: webhookSecret('restart-secret') }]),
  });

  it('should deliver after restart an event whose delivery was in flight when the process was killed', async () => {
    const env = envFor(temporarySqliteUrl(), receiver.url);
    const account = `kill-inflight-${Date.now()}`;
    receiver.answer = () => 'hang';
    const first = await spawnGateway(env);
    const res = await call('PUT', `${first.url}/v1/accounts/spidr/${account}/status`, {
      body: { status: 'SUSPENDED', reason: 'FRAUD' },
    });
    expect(res.status).toBe(200);
    // The change is committed and answered; its delivery has reached the receiver, unanswered: kill now.
    await receiver.waitFor((r) => r.received.some((w) => w.event?.data?.accountId === account));
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    receiver.answer = () => 204;
    const second = await spawnGateway(env);
    try {
      await receiver.waitFor((r) => r.delivered().some((w) => w.event?.data?.accountId === account), 10_000);
      const hooks = receiver.received.filter((w) => w.event?.data?.accountId === account);
      expect(new Set(hooks.map((w) => w.headers['webhook-id'])).size).toBe(1);
      expect(hooks[0].event.data.changeId).toBe(res.body.changeId);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }, 40_000);

  it('should deliver after restart an event committed while the subscriber was down', async () => {
    // Nothing listens at this URL yet: the delivery fails and waits for its retry when the process dies.
    const later = await startReceiver('/late');
    const url = later.url;
    await later.close();
    const env = envFor(temporarySqliteUrl(), url);
    const account = `kill-down-${Date.now()}`;
    const first = await spawnGateway(env);
    const res = await call('PUT', `${first.url}/v1/accounts/spidr/${account}/status`, {
      body: { status: 'ACTIVE' },
    });
    expect(res.status).toBe(200);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    const port = Number(new URL(url).port);
    const up = await startReceiver('/late', port);
    const second = await spawnGateway(env);
    try {
      await up.waitFor((r) => r.delivered().some((w) => w.event?.data?.accountId === account), 15_000);
      expect(up.delivered().filter((w) => w.event?.data?.accountId === account)).toHaveLength(1);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
      await up.close();
    }
  }, 40_000);
});
