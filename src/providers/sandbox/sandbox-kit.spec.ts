/**
 * The sandbox kit's scriptable fault layer (`/__sandbox/faults`), over real HTTP against a tiny simulator
 * built with createSandboxApp: every fault kind, `times`, rule order, matching, and the call log.
 */
import { request as httpRequest } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { MALFORMED_BODY } from './sandbox-faults.js';
import { createSandboxApp, listenOnLoopback, type SandboxCall } from './sandbox-kit.js';

let app: FastifyInstance;
let baseUrl: string;
/** How many times the tiny simulator's write route really ran, per id. */
const writes = new Map<string, number>();

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function send(method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function addFault(rule: Record<string, unknown>): Promise<Answer> {
  const answer = await send('POST', '/__sandbox/faults', rule);
  expect(answer.status).toBe(201);
  return answer;
}

async function calls(): Promise<SandboxCall[]> {
  return ((await (await fetch(`${baseUrl}/__sandbox/calls`)).json()) as { calls: SandboxCall[] }).calls;
}

/** A request on a fresh connection that reports how it ended: an answer, or the socket error. */
function rawRequest(
  method: string,
  path: string,
): Promise<{ status: number; body: string } | { error: string }> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end();
  });
}

beforeAll(async () => {
  app = createSandboxApp((sandbox, kit) => {
    kit.onReset(() => writes.clear());
    sandbox.post('/auth/token', () => ({ access_token: 'tok', expires_in: 60 }));
    sandbox.get<{ Params: { id: string } }>('/v1/things/:id', (request) => ({
      id: request.params.id,
      writes: writes.get(request.params.id) ?? 0,
    }));
    sandbox.patch<{ Params: { id: string } }>('/v1/things/:id', (request) => {
      const count = (writes.get(request.params.id) ?? 0) + 1;
      writes.set(request.params.id, count);
      return { id: request.params.id, writes: count };
    });
  });
  baseUrl = await listenOnLoopback(app);
});

afterAll(async () => {
  await app.close();
});

beforeEach(async () => {
  expect((await send('POST', '/__sandbox/reset')).status).toBe(204);
});

describe('sandbox kit: scriptable faults', () => {
  it('status: answers the status with the default body, then the rule is spent after `times`', async () => {
    await addFault({ match: { accountId: 'acc-1' }, fault: 'status', status: 503, times: 2 });
    const first = await send('PATCH', '/v1/things/acc-1', {});
    const second = await send('PATCH', '/v1/things/acc-1', {});
    const third = await send('PATCH', '/v1/things/acc-1', {});
    expect([first.status, second.status, third.status]).toEqual([503, 503, 200]);
    expect(JSON.parse(first.text)).toEqual({ message: 'injected fault' });
    expect(first.headers.get('retry-after')).toBeNull();
    expect(JSON.parse(third.text)).toEqual({ id: 'acc-1', writes: 1 });
    // Faulted requests are still in the call log (logged first, then faulted); control routes are not.
    expect((await calls()).map((c) => `${c.method} ${c.url}`)).toEqual([
      'PATCH /v1/things/acc-1',
      'PATCH /v1/things/acc-1',
      'PATCH /v1/things/acc-1',
    ]);
    const listed = (await (await fetch(`${baseUrl}/__sandbox/faults`)).json()) as {
      faults: Array<{ remaining: number | null; applied: number }>;
    };
    expect(listed.faults).toEqual([expect.objectContaining({ remaining: 0, applied: 2 })]);
  });

  it('status: a custom body and Retry-After when retryAfter is a number, none when null', async () => {
    await addFault({
      match: { accountId: 'acc-2' },
      fault: 'status',
      status: 429,
      retryAfter: 1,
      body: { error: { code: 'slow_down' } },
      times: 1,
    });
    await addFault({ match: { accountId: 'acc-3' }, fault: 'status', status: 429, retryAfter: null });
    const withHeader = await send('GET', '/v1/things/acc-2');
    expect(withHeader.status).toBe(429);
    expect(withHeader.headers.get('retry-after')).toBe('1');
    expect(withHeader.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(withHeader.text)).toEqual({ error: { code: 'slow_down' } });
    const without = await send('GET', '/v1/things/acc-3');
    expect(without.status).toBe(429);
    expect(without.headers.get('retry-after')).toBeNull();
  });

  it('rules are checked in order and the first live match wins; spent rules let later ones match', async () => {
    await addFault({
      match: { accountId: 'acc-4', method: 'patch' },
      fault: 'status',
      status: 500,
      times: 1,
    });
    await addFault({ match: { accountId: 'acc-4' }, fault: 'status', status: 502, times: 1 });
    await addFault({ match: { accountId: 'acc-4' }, fault: 'status', status: 504 });
    expect((await send('GET', '/v1/things/acc-4')).status).toBe(502); // the PATCH-only rule does not match a GET
    expect((await send('PATCH', '/v1/things/acc-4', {})).status).toBe(500);
    expect((await send('PATCH', '/v1/things/acc-4', {})).status).toBe(504);
    expect((await send('PATCH', '/v1/things/acc-4', {})).status).toBe(504); // unlimited
    expect(writes.get('acc-4')).toBeUndefined();
  });

  it('accountId matches one whole path segment (percent-encoded), never a prefix; pathIncludes matches text', async () => {
    await addFault({ match: { accountId: 'a:b@c' }, fault: 'status', status: 503 });
    await addFault({ match: { pathIncludes: '/auth/token' }, fault: 'status', status: 500, times: 1 });
    expect((await send('GET', `/v1/things/${encodeURIComponent('a:b@c')}`)).status).toBe(503);
    expect((await send('GET', '/v1/things/a:b@c')).status).toBe(503); // sent unencoded: same account
    expect((await send('GET', `/v1/things/${encodeURIComponent('a:b@c-2')}`)).status).toBe(200);
    expect((await send('GET', '/v1/things/xa:b@c')).status).toBe(200);
    expect((await send('POST', '/auth/token', {})).status).toBe(500);
    expect((await send('POST', '/auth/token', {})).status).toBe(200);
  });

  it('latency: waits delayMs, then the real route answers', async () => {
    await addFault({ match: { accountId: 'acc-5' }, fault: 'latency', delayMs: 300, times: 1 });
    const started = Date.now();
    const slow = await send('PATCH', '/v1/things/acc-5', {});
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(slow.status).toBe(200);
    expect(JSON.parse(slow.text)).toEqual({ id: 'acc-5', writes: 1 });
    const fastStarted = Date.now();
    expect((await send('PATCH', '/v1/things/acc-5', {})).status).toBe(200);
    expect(Date.now() - fastStarted).toBeLessThan(250);
  });

  it('reset: the connection is dropped without an answer and the route never runs', async () => {
    await addFault({ match: { accountId: 'acc-6' }, fault: 'reset', times: 1 });
    const dropped = await rawRequest('PATCH', '/v1/things/acc-6');
    expect(dropped).toEqual({ error: expect.stringMatching(/ECONNRESET|socket hang up/) });
    expect(writes.get('acc-6')).toBeUndefined();
    await expect(fetch(`${baseUrl}/v1/things/acc-6`)).resolves.toMatchObject({ status: 200 });
    expect((await calls()).filter((c) => c.url === '/v1/things/acc-6')).toHaveLength(2);
  });

  it('reset with after: true: the route runs (its effect happens), then the answer is lost', async () => {
    await addFault({ match: { accountId: 'acc-7', method: 'PATCH' }, fault: 'reset', after: true, times: 1 });
    const dropped = await rawRequest('PATCH', '/v1/things/acc-7');
    expect(dropped).toEqual({ error: expect.stringMatching(/ECONNRESET|socket hang up/) });
    expect(writes.get('acc-7')).toBe(1);
    const read = await send('GET', '/v1/things/acc-7');
    expect(JSON.parse(read.text)).toEqual({ id: 'acc-7', writes: 1 });
  });

  it('malformed: 200 application/json with a truncated body', async () => {
    await addFault({ match: { accountId: 'acc-8' }, fault: 'malformed' });
    const answer = await send('GET', '/v1/things/acc-8');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.text).toBe(MALFORMED_BODY);
    expect(() => JSON.parse(answer.text) as unknown).toThrow();
  });

  it('GET lists, DELETE clears, reset clears; invalid rules are refused with 400', async () => {
    await addFault({ match: { accountId: 'acc-9' }, fault: 'status', status: 500 });
    const listed = (await (await fetch(`${baseUrl}/__sandbox/faults`)).json()) as { faults: unknown[] };
    expect(listed.faults).toEqual([
      expect.objectContaining({
        match: { accountId: 'acc-9' },
        fault: 'status',
        status: 500,
        remaining: null,
      }),
    ]);
    expect((await send('DELETE', '/__sandbox/faults')).status).toBe(204);
    expect((await send('GET', '/v1/things/acc-9')).status).toBe(200);
    await addFault({ match: { accountId: 'acc-9' }, fault: 'status', status: 500 });
    await send('POST', '/__sandbox/reset');
    expect((await send('GET', '/v1/things/acc-9')).status).toBe(200);

    for (const bad of [
      { fault: 'explode' },
      { fault: 'status' },
      { fault: 'status', status: 99 },
      { fault: 'latency' },
      { fault: 'reset', times: 0 },
      { fault: 'status', status: 500, after: true },
      { fault: 'status', status: 500, match: { accountId: 3 } },
      { fault: 'status', status: 500, match: { account: 'x' } },
      { fault: 'status', status: 500, retryAfter: 'soon' },
      { fault: 'status', status: 500, extra: 1 },
    ]) {
      const refused = await send('POST', '/__sandbox/faults', bad);
      expect({ bad, status: refused.status }).toEqual({ bad, status: 400 });
      expect(JSON.parse(refused.text)).toEqual({ message: expect.any(String) });
    }
    expect(
      ((await (await fetch(`${baseUrl}/__sandbox/faults`)).json()) as { faults: unknown[] }).faults,
    ).toEqual([]);
  });

  it('control routes are never faulted', async () => {
    await addFault({ match: {}, fault: 'status', status: 500 });
    expect((await send('GET', '/v1/things/any')).status).toBe(500);
    expect((await fetch(`${baseUrl}/__sandbox/calls`)).status).toBe(200);
    expect((await send('DELETE', '/__sandbox/faults')).status).toBe(204);
  });
});
