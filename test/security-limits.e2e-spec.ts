import { call, expectProblem, sandboxCalls, useGateway } from './support/gateway.js';

const keys = [
  { id: 'busy-caller', key: 'busy-caller-secret-0000', scopes: ['status:read', 'status:write'] },
  { id: 'quiet-caller', key: 'quiet-caller-secret-000', scopes: ['status:read', 'status:write'] },
];

describe('Per-caller rate limit (RATE_LIMIT_PER_MINUTE=5)', () => {
  const gw = useGateway({ API_KEYS: JSON.stringify(keys), RATE_LIMIT_PER_MINUTE: '5' });

  const put = (key: string, account: string) =>
    call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, {
      body: { status: 'SUSPENDED' },
      headers: { 'x-api-key': key },
    });

  it('should answer 429 with Retry-After past the limit, call no provider, and spare other callers', async () => {
    for (let i = 0; i < 5; i++) expect((await put(keys[0].key, `rl-${i}`)).status).toBe(200);
    const limited = await put(keys[0].key, 'rl-over');
    const problem = expectProblem(limited, 429, 'RATE_LIMITED');
    expect(problem.retryable).toBe(true);
    expect(problem.provider).toBeUndefined();
    expect(problem.detail).toMatch(/busy-caller.*RATE_LIMIT_PER_MINUTE/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const calls = await sandboxCalls(gw.providerUrl('spidr'));
    expect(calls.filter((c) => c.url.endsWith('/rl-over'))).toEqual([]);
    // GETs count too, and the other caller has its own budget.
    expectProblem(
      await call('GET', `${gw.url}/v1/providers`, { headers: { 'x-api-key': keys[0].key } }),
      429,
      'RATE_LIMITED',
    );
    expect((await put(keys[1].key, 'rl-quiet')).status).toBe(200);
  });

  it('should never limit health, docs or the OpenAPI document', async () => {
    for (let i = 0; i < 12; i++) {
      expect((await call('GET', `${gw.url}/health/live`)).status).toBe(200);
      expect((await call('GET', `${gw.url}/docs-json`)).status).toBe(200);
    }
  });
});

describe('Security headers', () => {
  const gw = useGateway();

  const common = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
  };

  it.each([
    ['GET', '/v1/providers', 200, true],
    ['PUT', '/v1/accounts/spidr/hdr-1/status', 200, true],
    ['PUT', '/v1/accounts/spidr/hdr-1/status?dryRun=maybe', 400, true],
    ['GET', '/v1/accounts/acme/x/status', 404, true],
    ['GET', '/health/ready', 200, true],
    ['GET', '/nowhere', 404, false],
    ['GET', '/docs-json', 200, false],
  ] as const)('should send them on %s %s (%i)', async (method, path, status, noStore) => {
    const res = await call(
      method,
      `${gw.url}${path}`,
      method === 'PUT' ? { body: { status: 'SUSPENDED' } } : {},
    );
    expect(res.status).toBe(status);
    for (const [name, value] of Object.entries(common)) expect(res.headers.get(name)).toBe(value);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    if (noStore) expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('should let Swagger UI load its own scripts and nothing else', async () => {
    const res = await fetch(`${gw.url}/docs`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("script-src 'self' 'unsafe-inline'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });
});
