/**
 * Fault injection end to end (resilience issue): the real gateway over HTTP against the provider
 * sandboxes, with faults scripted through each sandbox's `/__sandbox/faults` (src/providers/sandbox/
 * sandbox-kit.ts). Provider call counts come from the sandbox call log; every test uses its own account
 * ids, so its rules and calls never touch another test's.
 *
 * The circuit-breaker and SIGTERM describes exercise the ProviderGuard (src/resilience/provider-guard.ts)
 * and the drain in src/main.ts.
 */
import type { SandboxCall } from '../src/providers/sandbox/sandbox-kit.js';
import type { SandboxFaultRule } from '../src/providers/sandbox/sandbox-faults.js';
import type { ProviderId } from '../src/domain/index.js';
import {
  call,
  expectProblem,
  sandboxCalls,
  useGateway,
  startSandbox,
  spidrGatewayEnv,
  temporarySqliteUrl,
  type JsonResponse,
  type StandaloneSandbox,
} from './support/gateway.js';
import { spawnGateway, type GatewayProcess } from './support/process.js';

let counter = 0;
/** A fresh account id; a magic prefix (SLOW800-, …) goes first. */
function accountId(prefix = 'fault'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

async function addFault(sandboxUrl: string, rule: SandboxFaultRule): Promise<void> {
  const response = await fetch(`${sandboxUrl}/__sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(rule),
  });
  expect(response.status).toBe(201);
}

async function clearFaults(sandboxUrl: string): Promise<void> {
  expect((await fetch(`${sandboxUrl}/__sandbox/faults`, { method: 'DELETE' })).status).toBe(204);
}

/** `METHOD path` of every call a sandbox received for one account (its id as a whole path segment). */
async function callsFor(sandboxUrl: string, id: string): Promise<string[]> {
  const segment = encodeURIComponent(id);
  return (await sandboxCalls(sandboxUrl))
    .filter((c: SandboxCall) => (c.url.split('?')[0] ?? '').split('/').includes(segment))
    .map((c) => `${c.method} ${c.url}`);
}

const statusUrl = (gw: { url: string }, provider: ProviderId, id: string) =>
  `${gw.url}/v1/accounts/${provider}/${encodeURIComponent(id)}/status`;

function suspend(gw: { url: string }, provider: ProviderId, id: string): Promise<JsonResponse> {
  return call('PUT', statusUrl(gw, provider, id), { body: { status: 'SUSPENDED', reason: 'FRAUD' } });
}

/**
 * The gateway of one describe (see useGateway), `attempts` tries per provider call, and the URLs of its Spidr
 * and Canopy sandboxes (known once it has started).
 */
function useFaultGateway(attempts: number, env: Record<string, string>) {
  const gw = useGateway({ PROVIDER_MAX_ATTEMPTS: String(attempts), ...env });
  return { gw, spidr: () => gw.providerUrl('spidr'), canopy: () => gw.providerUrl('canopy') };
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

describe('Fault injection: retries, timeouts and error codes (3 attempts)', () => {
  const { gw, spidr, canopy } = useFaultGateway(3, {
    SPIDR_TIMEOUT_MS: '200',
    // This describe makes many failures in a row on purpose; the breaker has its own describe below.
    CIRCUIT_FAILURE_THRESHOLD: '1000',
  });

  /** Suspends a fresh account whose Spidr calls meet `fault`: the answer, how long it took, and Spidr's calls. */
  async function suspendUnder(fault: Omit<SandboxFaultRule, 'match'>) {
    const id = accountId();
    await addFault(spidr(), { match: { accountId: id }, ...fault });
    const { value: res, ms } = await timed(() => suspend(gw, 'spidr', id));
    return { id, res, ms, calls: () => callsFor(spidr(), id) };
  }

  it('503 then 200 (one-shot fault): 200 APPLIED after exactly two provider writes', async () => {
    const { id, res, calls } = await suspendUnder({ fault: 'status', status: 503, times: 1 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'APPLIED', providerStatus: 'suspended' });
    expect(await calls()).toEqual([`PATCH /v1/account/${id}`, `PATCH /v1/account/${id}`]);
  });

  it('persistent 500: 502 PROVIDER_ERROR after exactly PROVIDER_MAX_ATTEMPTS (3) provider calls', async () => {
    const { res, calls } = await suspendUnder({ fault: 'status', status: 500 });
    const problem = expectProblem(res, 502, 'PROVIDER_ERROR');
    expect(problem).toMatchObject({ retryable: true, provider: { id: 'spidr', httpStatus: 500 } });
    expect(await calls()).toHaveLength(3);
  });

  it('persistent 429 with Retry-After: 1: 429 RATE_LIMITED with Retry-After, after waiting it each time', async () => {
    const { res, ms, calls } = await suspendUnder({ fault: 'status', status: 429, retryAfter: 1 });
    const problem = expectProblem(res, 429, 'RATE_LIMITED');
    expect(problem).toMatchObject({ retryable: true, provider: { id: 'spidr', httpStatus: 429 } });
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await calls()).toHaveLength(3);
    // Two waits of at least Retry-After (1 s) between the three attempts.
    expect(ms).toBeGreaterThanOrEqual(2000);
  });

  it('persistent 429 without Retry-After: retried too (calls = attempts), still answered with a Retry-After', async () => {
    const { res, calls } = await suspendUnder({ fault: 'status', status: 429, retryAfter: null });
    expectProblem(res, 429, 'RATE_LIMITED');
    // The gateway assumes 1 s when the provider names no delay (provider-errors.ts), so callers always get one.
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await calls()).toHaveLength(3);
  });

  it('slower than SPIDR_TIMEOUT_MS (200): 504 PROVIDER_TIMEOUT within 200 × 3 + 1000 ms, calls = 3', async () => {
    const { res, ms, calls } = await suspendUnder({ fault: 'latency', delayMs: 1500 });
    expectProblem(res, 504, 'PROVIDER_TIMEOUT');
    expect(ms).toBeLessThan(200 * 3 + 1000);
    expect(ms).toBeGreaterThanOrEqual(200 * 3 - 20);
    expect(await calls()).toHaveLength(3);
  });

  it('connection reset on every call: 503 PROVIDER_UNAVAILABLE after 3 calls', async () => {
    const { res, calls } = await suspendUnder({ fault: 'reset' });
    const problem = expectProblem(res, 503, 'PROVIDER_UNAVAILABLE');
    expect(problem.retryable).toBe(true);
    expect(problem.provider).toBeUndefined(); // no provider answered
    expect(await calls()).toHaveLength(3);
  });

  it('malformed 2xx body on every call: 502 PROVIDER_ERROR after 3 calls', async () => {
    const { res, calls } = await suspendUnder({ fault: 'malformed' });
    expect(expectProblem(res, 502, 'PROVIDER_ERROR').retryable).toBe(true);
    expect(await calls()).toHaveLength(3);
  });

  it('a 4xx (Spidr 400 with its error body) is not retried: exactly one call, the provider code kept', async () => {
    const { res, calls } = await suspendUnder({
      fault: 'status',
      status: 400,
      body: {
        status: 'error',
        error: {
          errorType: 'INVALID_REQUEST',
          errorCode: 'INJECTED_REFUSAL',
          message: 'nope',
          errorData: null,
        },
      },
    });
    const problem = expectProblem(res, 422, 'PROVIDER_REJECTED');
    expect(problem).toMatchObject({
      retryable: false,
      provider: { id: 'spidr', httpStatus: 400, code: 'INJECTED_REFUSAL', message: 'nope' },
    });
    expect(await calls()).toHaveLength(1);
  });

  it('a Spidr close whose answer is lost: read before repeating, 200 without a second PATCH', async () => {
    const id = accountId();
    // The close really happens at the provider, then the connection is reset instead of answering.
    await addFault(spidr(), {
      match: { accountId: id, method: 'PATCH' },
      fault: 'reset',
      after: true,
      times: 1,
    });
    const res = await call('PUT', statusUrl(gw, 'spidr', id), {
      body: { status: 'CLOSED', reason: 'FRAUD' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'CLOSED',
      outcome: 'APPLIED',
      providerStatus: 'close_without_refund',
    });
    expect(await callsFor(spidr(), id)).toEqual([`PATCH /v1/account/${id}`, `GET /v1/account/${id}`]);
    const read = await call('GET', statusUrl(gw, 'spidr', id));
    expect(read.body).toMatchObject({ status: 'CLOSED', source: 'provider' });
  });

  it('a burst of 10 Canopy requests while the token is expired: exactly one token request', async () => {
    expect((await fetch(`${canopy()}/__sandbox/expire-tokens`, { method: 'POST' })).status).toBeLessThan(300);
    const before = (await sandboxCalls(canopy())).length;
    const ids = Array.from({ length: 10 }, () => accountId());
    const answers = await Promise.all(ids.map((id) => suspend(gw, 'canopy', id)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    const calls = (await sandboxCalls(canopy())).slice(before);
    expect(calls.filter((c) => c.method === 'POST' && c.url === '/auth/token')).toHaveLength(1);
  });

  it('a Canopy token endpoint that answers 503 once: the change still succeeds with a second token request', async () => {
    expect((await fetch(`${canopy()}/__sandbox/expire-tokens`, { method: 'POST' })).status).toBeLessThan(300);
    await addFault(canopy(), {
      match: { pathIncludes: '/auth/token' },
      fault: 'status',
      status: 503,
      times: 1,
    });
    const before = (await sandboxCalls(canopy())).length;
    const id = accountId();
    const res = await suspend(gw, 'canopy', id);
    expect(res.status).toBe(200);
    const calls = (await sandboxCalls(canopy())).slice(before).map((c) => `${c.method} ${c.url}`);
    expect(calls.filter((c) => c === 'POST /auth/token')).toHaveLength(2);
    expect(calls.at(-1)).toBe(`PUT /accounts/${id}/status`);
  });
});

describe('Fault injection: the per-provider circuit breaker', () => {
  const { gw, spidr } = useFaultGateway(1, {
    CIRCUIT_FAILURE_THRESHOLD: '3',
    CIRCUIT_HALF_OPEN_AFTER_MS: '500',
  });

  async function circuits(): Promise<{ listed: Record<string, string>; ready: Record<string, string> }> {
    const providers = await call('GET', `${gw.url}/v1/providers`);
    const ready = await call('GET', `${gw.url}/health/ready`);
    expect(ready.status).toBe(200); // a provider's outage never makes the gateway unready
    return {
      listed: Object.fromEntries(
        (providers.body.items as Array<{ id: string; circuit: string }>).map((p) => [p.id, p.circuit]),
      ),
      ready: Object.fromEntries(
        Object.entries(ready.body.details as Record<string, { status: string; circuit?: string }>)
          .filter(([, v]) => v.circuit !== undefined)
          .map(([p, v]) => {
            // An open or half-open circuit is reported "degraded" (still 200), a closed one "up".
            expect(v.status).toBe(v.circuit === 'closed' ? 'up' : 'degraded');
            return [p, v.circuit as string];
          }),
      ),
    };
  }

  it('opens after 3 failures, rejects fast with no provider call, spares other providers, then recovers', async () => {
    const failing = accountId();
    await addFault(spidr(), { match: { accountId: failing }, fault: 'status', status: 500 });
    for (let i = 0; i < 3; i++) expectProblem(await suspend(gw, 'spidr', failing), 502, 'PROVIDER_ERROR');
    expect(await callsFor(spidr(), failing)).toHaveLength(3);

    const open = await circuits();
    expect(open.listed).toEqual({ cleargrid: 'closed', canopy: 'closed', pismo: 'closed', spidr: 'open' });
    expect(open.ready).toEqual(open.listed);

    // Rejected at once, without reaching the provider, even for an account that has no fault.
    const healthy = accountId();
    await suspend(gw, 'spidr', accountId()); // warm-up of the same path, also rejected
    const { value: rejected, ms } = await timed(() => suspend(gw, 'spidr', healthy));
    const problem = expectProblem(rejected, 503, 'PROVIDER_UNAVAILABLE');
    expect(problem.retryable).toBe(true);
    expect(ms).toBeLessThan(50);
    expect(await callsFor(spidr(), healthy)).toEqual([]);

    // Other providers keep working.
    expect((await suspend(gw, 'canopy', accountId())).status).toBe(200);
    expect((await suspend(gw, 'pismo', accountId())).status).toBe(200);

    // After the half-open delay, with the fault gone, one probe goes through and closes the circuit.
    await clearFaults(spidr());
    await new Promise((r) => setTimeout(r, 600));
    const recovered = await suspend(gw, 'spidr', healthy);
    expect(recovered.status).toBe(200);
    expect(await callsFor(spidr(), healthy)).toEqual([`PATCH /v1/account/${healthy}`]);
    const closed = await circuits();
    expect(closed.listed.spidr).toBe('closed');
    expect(closed.ready.spidr).toBe('closed');
  });

  it('a failed half-open probe opens the circuit again', async () => {
    const failing = accountId();
    await addFault(spidr(), { match: { accountId: failing }, fault: 'reset' });
    for (let i = 0; i < 3; i++)
      expectProblem(await suspend(gw, 'spidr', failing), 503, 'PROVIDER_UNAVAILABLE');
    expect((await circuits()).listed.spidr).toBe('open');
    await new Promise((r) => setTimeout(r, 600));
    // The probe fails: one call, and the circuit is open again at once.
    expectProblem(await suspend(gw, 'spidr', failing), 503, 'PROVIDER_UNAVAILABLE');
    expect(await callsFor(spidr(), failing)).toHaveLength(4);
    expect((await circuits()).listed.spidr).toBe('open');
    const other = accountId();
    expectProblem(await suspend(gw, 'spidr', other), 503, 'PROVIDER_UNAVAILABLE');
    expect(await callsFor(spidr(), other)).toEqual([]);
    await clearFaults(spidr());
    await new Promise((r) => setTimeout(r, 600));
    expect((await suspend(gw, 'spidr', other)).status).toBe(200);
  });
});

describe('Fault injection: SIGTERM while provider calls are in flight', () => {
  let sandbox: StandaloneSandbox;
  let gateway: GatewayProcess | undefined;

  beforeAll(async () => {
    sandbox = await startSandbox('spidr');
  });
  afterAll(async () => {
    if (gateway && gateway.child.exitCode === null && gateway.child.signalCode === null) {
      gateway.child.kill('SIGKILL');
    }
    await sandbox.close();
  });

  it('finishes the calls in flight, reports not ready, and exits 0', async () => {
    const gw = await spawnGateway({
      ...spidrGatewayEnv(temporarySqliteUrl(), sandbox.url),
      DRAIN_TIMEOUT_MS: '5000',
    });
    gateway = gw;
    // The provider holds each call for 2 s; the signal goes once all three have reached it (polled, since
    // on a loaded machine a fixed pause was sometimes too short for the first requests of a new process).
    const ids = [accountId('SLOW2000-'), accountId('SLOW2000-'), accountId('SLOW2000-')];
    const inFlight = ids.map((id) => suspend(gw, 'spidr', id));
    const reached = async () => {
      const calls = await sandboxCalls(sandbox.url);
      return ids.filter((id) => calls.some((c) => c.method === 'PATCH' && c.url.endsWith(id)));
    };
    for (let waited = 0; (await reached()).length < ids.length && waited < 1_500; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
    // Every call has reached the provider before the signal.
    expect(await reached()).toEqual(ids);

    const signalledAt = performance.now();
    gw.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    // While draining: not ready (503), or no longer accepting connections at all.
    const probe = await fetch(`${gw.url}/health/ready`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(probe);

    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.map((a) => a.body.outcome)).toEqual(['APPLIED', 'APPLIED', 'APPLIED']);
    const code = await gw.exited;
    if (code !== 0) console.log(gw.output().slice(-3000));
    expect(code).toBe(0);
    expect(performance.now() - signalledAt).toBeLessThan(5000);
    await expect(fetch(`${gw.url}/health/live`)).rejects.toThrow();
  }, 20_000);
});

describe('Fault injection: the per-provider bulkhead', () => {
  const { gw, spidr } = useFaultGateway(1, { PROVIDER_MAX_CONCURRENCY: '1', PROVIDER_MAX_QUEUE: '0' });

  it('refuses a call beyond the provider limit at once, and leaves other providers unaffected', async () => {
    const slow = accountId('SLOW600-bulk');
    const extra = accountId('bulk');
    const first = suspend(gw, 'spidr', slow);
    await new Promise((r) => setTimeout(r, 100));
    const refused = await timed(() => suspend(gw, 'spidr', extra));
    expectProblem(refused.value, 503, 'PROVIDER_UNAVAILABLE');
    expect(refused.ms).toBeLessThan(200);
    expect(await callsFor(spidr(), extra)).toEqual([]);
    const other = await timed(() => suspend(gw, 'canopy', accountId('bulk-other')));
    expect(other.value.status).toBe(200);
    expect(other.ms).toBeLessThan(400);
    expect((await first).status).toBe(200);
    expect((await suspend(gw, 'spidr', extra)).status).toBe(200);
  });
});
