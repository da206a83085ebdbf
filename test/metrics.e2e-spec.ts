import { call, startGateway, type TestGateway } from './support/gateway.js';

const key = 'metrics-caller-key-0000';

describe('GET /metrics', () => {
  let gw: TestGateway;
  const put = (account: string, body: unknown, headers: Record<string, string> = {}) =>
    call('PUT', `${gw.url}/v1/accounts/spidr/${account}/status`, {
      body,
      headers: { 'x-api-key': key, ...headers },
    });

  beforeAll(async () => {
    gw = await startGateway({
      API_KEYS: JSON.stringify([{ id: 'metrics', key, scopes: ['status:read', 'status:write'] }]),
      PROVIDER_MAX_ATTEMPTS: '2',
    });
  });
  afterAll(async () => {
    await gw.close();
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
});
