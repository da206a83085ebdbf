/** A real local webhook receiver for tests: an HTTP server that records every POST and answers as scripted. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  event: any;
  at: number;
  /** The status answered (undefined while the answer is held). */
  status?: number;
}

/** How to answer one request: a status, optionally after a delay (or `hang`: never answer). */
export type Answer = number | { status: number; delayMs?: number } | 'hang';

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Decides the answer to each request (default 204). */
  answer: (request: ReceivedWebhook) => Answer;
  /** The requests answered 2xx, in the order they were answered. */
  delivered(): ReceivedWebhook[];
  waitFor(predicate: (r: WebhookReceiver) => boolean, timeoutMs?: number): Promise<void>;
  /** The requests whose event is about `account`, in the order they came. */
  forAccount(account: string): ReceivedWebhook[];
  /** Waits until a request about `account` was answered 204. */
  waitForDelivery(account: string, timeoutMs: number): Promise<void>;
  /** Answers the first `times` requests about `account` with `status`, and every other request 204. */
  failFirst(account: string, times: number, status: number): void;
  close(): Promise<void>;
}

export async function startReceiver(path = '/hook', port = 0): Promise<WebhookReceiver> {
  const answered: ReceivedWebhook[] = [];
  const hanging = new Set<() => void>();
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    answer: () => 204,
    delivered: () => answered.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300),
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(receiver)) {
        if (Date.now() > deadline) throw new Error(`receiver: condition not met within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    forAccount: (account) => receiver.received.filter((w) => w.event?.data?.accountId === account),
    waitForDelivery: (account, timeoutMs) =>
      receiver.waitFor(() => receiver.forAccount(account).some((w) => w.status === 204), timeoutMs),
    failFirst(account, times, status) {
      let left = times;
      receiver.answer = (r) => (r.event?.data?.accountId === account && left-- > 0 ? status : 204);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const release of hanging) release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let event: unknown;
      try {
        event = JSON.parse(body);
      } catch {
        event = undefined;
      }
      const record: ReceivedWebhook = { headers: req.headers, body, event, at: Date.now() };
      receiver.received.push(record);
      const answer = req.url === path ? receiver.answer(record) : 404;
      if (answer === 'hang') {
        hanging.add(() => res.destroy());
        return;
      }
      const { status, delayMs } = typeof answer === 'number' ? { status: answer, delayMs: 0 } : answer;
      const send = () => {
        record.status = status;
        answered.push(record);
        if (status >= 300 && status < 400) res.setHeader('location', `${receiver.url}-redirected`);
        res.writeHead(status).end();
      };
      if (delayMs) setTimeout(send, delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return receiver;
}

/** A Standard Webhooks secret: whsec_ + base64 of 32 random-looking bytes. */
export function webhookSecret(seed: string): string {
  return `whsec_${Buffer.from(seed.padEnd(32, '#').slice(0, 32)).toString('base64')}`;
}
