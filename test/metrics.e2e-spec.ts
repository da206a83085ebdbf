import { call, useGateway } from './support/gateway.js';

const key = 'metrics-caller-key-0000';

describe('GET /metrics', () => {
  const gw = useGateway({
    API_KEYS: JSON.stringify([{ id: 'metrics', key, scopes: ['status:read', 'status:write'] }]),
    PROVIDER_MAX_ATTEMPTS: '2',
  });
  const put = (account: string, body: unknown, headers: Record<string, string> = {}) =>
    call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, {
      body,
      headers: { 'x-api-key': key, ...headers },
    });

  /** The value of one series in the exposition text, or undefined when absent. */
  function value(text: string, series: string): number | undefined {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  }

  it('should count changes by outcome, provider latency, retries, circuits and requests, without a key', async () => {
    expect((await put('met-1', { status: 'SUSPENDED' })).status).toBe(200);
    expect((await put('ERROR500-met-2', { status: 'SUSPENDED' })).status).toBe(502);
    expect((await put('met-3', { status: 'DELINQUENT' }, { 'idempotency-key': 'met-k' })).status).toBe(200);
    expect((await put('met-3', { status: 'DELINQUENT' }, { 'idempotency-key': 'met-k' })).status).toBe(200);

    const response = await fetch(`${gw.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    const changes = 'statusgate_status_changes_total';
    expect(value(text, `${changes}{provider="spidr",status="SUSPENDED",outcome="APPLIED",code=""}`)).toBe(1);
    expect(
      value(text, `${changes}{provider="spidr",status="SUSPENDED",outcome="FAILED",code="PROVIDER_ERROR"}`),
    ).toBe(1);
    expect(value(text, `${changes}{provider="spidr",status="DELINQUENT",outcome="APPLIED",code=""}`)).toBe(1);
    expect(value(text, `${changes}{provider="spidr",status="DELINQUENT",outcome="REPLAYED",code=""}`)).toBe(
      1,
    );
    expect(
      value(
        text,
        'statusgate_provider_retries_total{provider="spidr",operation="change status",code="PROVIDER_ERROR"}',
      ),
    ).toBe(1);
    expect(
      value(text, 'statusgate_provider_call_duration_seconds_count{provider="spidr",outcome="APPLIED"}'),
    ).toBe(2);
    for (const provider of ['cleargrid', 'canopy', 'pismo', 'spidr']) {
      expect(value(text, `statusgate_provider_circuit_state{provider="${provider}"}`)).toBe(0);
    }
    expect(
      value(
        text,
        'statusgate_http_requests_total{route="/v1/accounts/:provider/:accountId/status",method="PUT",status_code="502",code="PROVIDER_ERROR"}',
      ),
    ).toBe(1);
    expect(value(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  async function sandbox(provider: string, route: string, body: unknown): Promise<void> {
    const res = await fetch(`${gw.providerUrl(provider as 'canopy')}/__sandbox/${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect([200, 201, 204]).toContain(res.status);
  }

  const metricsText = async () => (await fetch(`${gw.url}/metrics`)).text();
  const canopy = (account: string) =>
    call('PUT', `${gw.url}/v1/accounts/canopy/${account}/status`, {
      body: { status: 'SUSPENDED', reason: 'FRAUD' },
      headers: { 'x-api-key': key },
    });

  it('should count token mints by provider, reason and result', async () => {
    const series = (reason: string, result: string) =>
      `statusgate_provider_token_refreshes_total{provider="canopy",reason="${reason}",result="${result}"}`;
    // First call: no token yet.
    expect((await canopy('can_met-1')).status).toBe(200);
    let text = await metricsText();
    expect(value(text, series('initial', 'ok'))).toBe(1);
    expect(value(text, series('rejected', 'ok'))).toBeUndefined();

    // The sandbox expires every token behind the gateway's back: 401, one new token, reason "rejected".
    await sandbox('canopy', 'expire-tokens', {});
    expect((await canopy('can_met-2')).status).toBe(200);
    text = await metricsText();
    expect(value(text, series('rejected', 'ok'))).toBe(1);

    // A token that lives just past the 60 s refresh margin is renewed ahead of its expiry: "expiring".
    await sandbox('canopy', 'token-lifetime', { seconds: 61 });
    await sandbox('canopy', 'expire-tokens', {});
    expect((await canopy('can_met-3')).status).toBe(200); // rejected again → mints a 61 s token
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await canopy('can_met-4')).status).toBe(200);
    text = await metricsText();
    expect(value(text, series('rejected', 'ok'))).toBe(2);
    expect(value(text, series('expiring', 'ok'))).toBe(1);

    // The token endpoint refuses: the mint fails and is counted as such.
    await sandbox('canopy', 'token-lifetime', { seconds: 3600 });
    await sandbox('canopy', 'expire-tokens', {});
    await sandbox('canopy', 'token-failure', { status: 500, times: 100 });
    expect((await canopy('can_met-5')).status).toBe(502);
    text = await metricsText();
    expect(value(text, series('rejected', 'failed'))).toBeGreaterThanOrEqual(1);
    await sandbox('canopy', 'token-failure', { status: 500, times: 0 });
  });

  it('should count provider errors no rule maps, and not the mapped ones', async () => {
    const spidr = gw.providerUrl('spidr');
    const fault = (body: unknown, status: number) =>
      sandbox('spidr', 'faults', {
        match: { accountId: 'met-unmapped' },
        fault: 'status',
        status,
        body,
        times: 1,
      });
    // A 400 with a code Spidr never documented: the caller gets the catch-all PROVIDER_REJECTED.
    await fault(
      { status: 'error', error: { errorType: 'BRAND_NEW_TYPE', errorCode: 'NEW_CODE_42', message: 'x' } },
      400,
    );
    const first = await put('met-unmapped', { status: 'SUSPENDED' });
    expect(first.status).toBe(422);
    expect(first.body).toMatchObject({ code: 'PROVIDER_REJECTED', provider: { code: 'NEW_CODE_42' } });
    // A mapped one: Spidr's NOT_FOUND → ACCOUNT_NOT_FOUND is not counted.
    await fault({ status: 'error', error: { errorType: 'NOT_FOUND', errorCode: null, message: 'no' } }, 404);
    expect((await put('met-unmapped', { status: 'SUSPENDED' })).status).toBe(404);
    // A code that is no safe label value is counted as "other".
    await fault(
      { status: 'error', error: { errorType: 'X', errorCode: 'bad code {"x"}', message: 'x' } },
      409,
    );
    expect((await put('met-unmapped', { status: 'SUSPENDED' })).status).toBe(422);

    const text = await metricsText();
    const series = (status: number, code: string) =>
      `statusgate_provider_unmapped_errors_total{provider="spidr",http_status="${status}",provider_code="${code}"}`;
    expect(value(text, series(400, 'NEW_CODE_42'))).toBe(1);
    expect(value(text, series(409, 'other'))).toBe(1);
    expect(text).not.toContain('provider_code="NOT_FOUND"');
    expect(spidr).toMatch(/^http:/);
  });
});
