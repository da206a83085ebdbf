import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { buildOpenApiDocument } from '../src/api/openapi.js';
import { stableJson } from '../src/common/stable-json.js';
import type { ProviderId } from '../src/domain/index.js';
import { call, expectProblem, sandboxCalls, startGateway, useGateway } from './support/gateway.js';

describe('Gateway (end to end)', () => {
  const gw = useGateway();

  describe('health', () => {
    it('should answer live and ready with each provider mode', async () => {
      expect((await call('GET', `${gw.url}/health/live`)).body).toMatchObject({ status: 'ok' });
      const ready = await call('GET', `${gw.url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('ok');
      expect(ready.body.details.spidr).toEqual({ status: 'up', mode: 'sandbox', circuit: 'closed' });
      expect(ready.body.details.database).toEqual({ status: 'up', engine: 'sqlite' });
      expect(ready.body.details.gateway).toEqual({ status: 'up', draining: false });
      expect(Object.keys(ready.body.details).sort()).toEqual([
        'canopy',
        'cleargrid',
        'database',
        'gateway',
        'pismo',
        'spidr',
      ]);
    });
  });

  describe('readiness failures', () => {
    it('should answer 503 with the failing part under error while draining, and 200 again after', async () => {
      gw.gateway.lifecycle.draining = true;
      try {
        const ready = await call('GET', `${gw.url}/health/ready`);
        expect(ready.status).toBe(503);
        expect(ready.body.status).toBe('error');
        expect(ready.body.error.gateway).toEqual({ status: 'down', draining: true });
        expect((await call('GET', `${gw.url}/health/live`)).status).toBe(200); // liveness stays cheap and up
      } finally {
        gw.gateway.lifecycle.draining = false;
      }
      expect((await call('GET', `${gw.url}/health/ready`)).status).toBe(200);
    });

    it('should answer 503 when the database does not answer, and keep liveness at 200', async () => {
      const own = await startGateway();
      try {
        await own.gateway.store.close();
        const ready = await call('GET', `${own.url}/health/ready`);
        expect(ready.status).toBe(503);
        expect(ready.headers.get('content-type')).toMatch(/^application\/json/);
        expect(ready.body.error.database).toEqual({
          status: 'down',
          engine: 'sqlite',
          message: 'unreachable',
        });
        expect(ready.body.details.spidr).toMatchObject({ status: 'up' });
        expect((await call('GET', `${own.url}/health/live`)).status).toBe(200);
      } finally {
        await own.close().catch(() => undefined);
      }
    });
  });

  describe('GET /v1/providers', () => {
    it('should list the capability matrix of CONTRACT.md section 5', async () => {
      const { status, body } = await call('GET', `${gw.url}/v1/providers`);
      expect(status).toBe(200);
      const byId = Object.fromEntries(body.items.map((p: any) => [p.id, p]));
      expect(Object.keys(byId).sort()).toEqual(['canopy', 'cleargrid', 'pismo', 'spidr']);
      expect(byId.cleargrid.liveRead).toBe(false);
      expect(byId.cleargrid.statuses.DISPUTED).toMatchObject({ supported: true, providerValue: 5 });
      expect(byId.cleargrid.statuses.DO_NOT_CONTACT).toMatchObject({ supported: true, providerValue: 6 });
      expect(byId.cleargrid.statuses.ACTIVE.supported).toBe(false);
      expect(byId.canopy.statuses.DELINQUENT).toMatchObject({
        supported: true,
        providerValue: { status: 'SUSPENDED', substatus: 'DELINQUENT' },
      });
      expect(byId.canopy.statuses.DISPUTED.supported).toBe(false);
      expect(byId.canopy.statuses.SUSPENDED.providerValueByReason.CHARGED_OFF).toEqual({
        status: 'SUSPENDED',
        substatus: 'CHARGE_OFF',
      });
      expect(byId.canopy.statuses.SUSPENDED.providerValueByReason.COMPLIANCE).toBeNull();
      expect(byId.canopy.statuses.CLOSED.terminal).toBe(false);
      expect(byId.pismo.statuses.SUSPENDED).toMatchObject({ supported: true, providerValue: 'BLOCKED' });
      expect(byId.pismo.statuses.ACTIVE).toMatchObject({ supported: true, providerValue: 'NORMAL' });
      expect(byId.pismo.statuses.CLOSED.supported).toBe(false);
      expect(byId.spidr.statuses.CLOSED).toMatchObject({
        supported: true,
        providerValue: 'close_with_refund',
        terminal: true,
      });
      expect(byId.spidr.statuses.CLOSED.providerValueByReason).toMatchObject({
        FRAUD: 'close_without_refund',
        COMPLIANCE: 'close_without_refund',
        CHARGED_OFF: 'close_charged_off',
        PAID_OFF: 'close_paid_off',
        CUSTOMER_REQUEST: 'close_with_refund',
      });
      for (const p of body.items) expect(p).toMatchObject({ mode: 'sandbox', circuit: 'closed' });
    });
  });

  describe('request ids', () => {
    it('should echo the caller X-Request-Id and send it on to the provider', async () => {
      const requestId = 'trace-abc-123';
      const res = await call('PUT', `${gw.url}/v1/accounts/spidr/rid-1/status`, {
        body: { status: 'SUSPENDED' },
        headers: { 'x-request-id': requestId },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe(requestId);
      expect(res.body.requestId).toBe(requestId);
      const calls = await sandboxCalls(gw.providerUrl('spidr'));
      const write = calls.find((c) => c.method === 'PATCH' && c.url.endsWith('/rid-1'));
      expect(write?.headers['x-request-id']).toBe(requestId);
    });

    it('should pass the caller W3C traceparent and tracestate on unchanged to every provider call', async () => {
      const changes: Array<[ProviderId, Record<string, unknown>]> = [
        ['cleargrid', { status: 'DISPUTED', customerId: 'cust-tp' }],
        ['canopy', { status: 'SUSPENDED', reason: 'FRAUD' }],
        ['pismo', { status: 'SUSPENDED', reason: 'FRAUD' }],
        ['spidr', { status: 'SUSPENDED' }],
      ];
      for (const [provider, body] of changes) {
        const traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
        const requestId = `tp-${provider}-${randomBytes(4).toString('hex')}`;
        const res = await call('PUT', `${gw.url}/v1/accounts/${provider}/tp-${provider}-1/status`, {
          body,
          headers: { traceparent, tracestate: 'vendor=opaque,other=1', 'x-request-id': requestId },
        });
        expect([200, 202]).toContain(res.status);
        const mine = (await sandboxCalls(gw.providerUrl(provider))).filter(
          (c) => c.headers['x-request-id'] === requestId,
        );
        expect(mine.length).toBeGreaterThanOrEqual(1); // token calls too, where the provider has them
        for (const c of mine) {
          expect(c.headers.traceparent).toBe(traceparent);
          expect(c.headers.tracestate).toBe('vendor=opaque,other=1');
        }
        const line = gw.logs.find((l) => l.requestId === requestId && l.msg === 'request');
        expect(line?.traceId).toBe(traceparent.slice(3, 35));
      }
    });

    it('should drop an invalid traceparent (and its tracestate) instead of forwarding it', async () => {
      for (const traceparent of [
        `00-${'0'.repeat(32)}-${'a'.repeat(16)}-01`,
        `ff-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
        `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01-extra`,
        'not-a-trace',
      ]) {
        const requestId = `tp-bad-${randomBytes(4).toString('hex')}`;
        const res = await call('PUT', `${gw.url}/v1/accounts/spidr/tp-bad-1/status`, {
          body: { status: 'SUSPENDED' },
          headers: { traceparent, tracestate: 'vendor=x', 'x-request-id': requestId },
        });
        expect(res.status).toBe(200);
        const mine = (await sandboxCalls(gw.providerUrl('spidr'))).filter(
          (c) => c.headers['x-request-id'] === requestId,
        );
        expect(mine).toHaveLength(1);
        expect(mine[0].headers.traceparent).toBeUndefined();
        expect(mine[0].headers.tracestate).toBeUndefined();
      }
    });

    it('should generate a request id when none (or an unusable one) is sent', async () => {
      const res = await call('GET', `${gw.url}/v1/providers`);
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const bad = await call('GET', `${gw.url}/v1/providers`, {
        headers: { 'x-request-id': 'x'.repeat(300) },
      });
      expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('should put the request id into the problem body of an error', async () => {
      const res = await call('PUT', `${gw.url}/v1/accounts/spidr/x/status`, {
        body: { status: 'NOPE' },
        headers: { 'x-request-id': 'err-req-1' },
      });
      expect(expectProblem(res, 400, 'VALIDATION_FAILED').requestId).toBe('err-req-1');
    });
  });

  describe('validation', () => {
    const url = (account = 'val-1', provider = 'spidr') =>
      `${gw.url}/v1/accounts/${provider}/${account}/status`;

    it('should refuse an unknown status naming the field', async () => {
      const problem = expectProblem(
        await call('PUT', url(), { body: { status: 'FROZEN' } }),
        400,
        'VALIDATION_FAILED',
      );
      expect(problem.errors).toEqual([expect.objectContaining({ field: 'status' })]);
    });

    it('should refuse a missing status, an unknown reason and a long note together', async () => {
      const problem = expectProblem(
        await call('PUT', url(), { body: { reason: 'BORED', note: 'n'.repeat(501) } }),
        400,
        'VALIDATION_FAILED',
      );
      expect(problem.errors.map((e: any) => e.field).sort()).toEqual(['note', 'reason', 'status']);
    });

    it('should refuse unknown fields', async () => {
      const problem = expectProblem(
        await call('PUT', url(), { body: { status: 'ACTIVE', colour: 'blue' } }),
        400,
        'VALIDATION_FAILED',
      );
      expect(problem.errors).toEqual([{ field: 'colour', message: 'colour is not a known field' }]);
    });

    it('should refuse unknown providerOptions keys for the provider', async () => {
      const problem = expectProblem(
        await call('PUT', url(), { body: { status: 'ACTIVE', providerOptions: { updateChildren: true } } }),
        400,
        'VALIDATION_FAILED',
      );
      expect(problem.errors[0].field).toBe('providerOptions.updateChildren');
    });

    it('should refuse unparsable JSON, a non-object body and a body that is too large', async () => {
      expectProblem(await call('PUT', url(), { rawBody: '{"status":' }), 400, 'VALIDATION_FAILED');
      expectProblem(await call('PUT', url(), { rawBody: '"ACTIVE"' }), 400, 'VALIDATION_FAILED');
      // Issue 14: over the 16 KiB limit is 413 PAYLOAD_TOO_LARGE (was 400 VALIDATION_FAILED).
      expectProblem(
        await call('PUT', url(), { body: { status: 'ACTIVE', note: 'x'.repeat(20_000) } }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
    });

    it('should refuse a bad dryRun value and account ids that could steer a provider path', async () => {
      expectProblem(
        await call('PUT', `${url()}?dryRun=yes`, { body: { status: 'ACTIVE' } }),
        400,
        'VALIDATION_FAILED',
      );
      // ('..' itself is normalised away by the client's URL parser and never reaches this route.)
      for (const account of [
        'a%2Fb',
        'a%2F..%2F..%2Fx',
        'a%3Fb',
        'a%23b',
        '%20a',
        'a%0D%0Ab',
        '%C3%A9',
        'x'.repeat(129),
      ]) {
        const res = await call('PUT', url(account), { body: { status: 'ACTIVE' } });
        expect(expectProblem(res, 400, 'VALIDATION_FAILED').errors[0].field).toBe('accountId');
      }
    });

    it('should answer 404 PROVIDER_NOT_FOUND for an unknown provider and a problem for an unknown route', async () => {
      expectProblem(
        await call('PUT', url('a', 'acme'), { body: { status: 'ACTIVE' } }),
        404,
        'PROVIDER_NOT_FOUND',
      );
      expectProblem(await call('GET', `${gw.url}/v1/nothing-here`), 404, 'NOT_FOUND');
    });
  });

  describe('logging', () => {
    it('should write one JSON line per request with the outcome and no credentials', async () => {
      await call('PUT', `${gw.url}/v1/accounts/spidr/log-1/status`, {
        body: { status: 'DELINQUENT' },
        headers: { 'x-request-id': 'log-req-1' },
      });
      await new Promise<void>((resolve) => gw.gateway.logger.flush(() => resolve()));
      await new Promise((r) => setTimeout(r, 50));
      const lines = gw.logs.filter((l) => l.requestId === 'log-req-1');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        provider: 'spidr',
        status: 'DELINQUENT',
        outcome: 'APPLIED',
        providerHttpStatus: 200,
        httpStatus: 200,
        callerId: 'anonymous',
      });
      expect(typeof lines[0].latencyMs).toBe('number');
      expect(gw.rawLogs()).not.toContain('sk_sandbox');
    });
  });

  describe('documentation', () => {
    it('should serve Swagger UI at /docs and the OpenAPI document at /docs-json', async () => {
      const ui = await fetch(`${gw.url}/docs`);
      expect(ui.status).toBe(200);
      expect(await ui.text()).toContain('swagger');
      const doc = await call('GET', `${gw.url}/docs-json`);
      expect(doc.body.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.body.paths)).toEqual(
        expect.arrayContaining([
          '/v1/accounts/{provider}/{accountId}/status',
          '/v1/providers',
          '/health/ready',
        ]),
      );
    });

    it('should match the committed openapi.json (run `npm run openapi` after changing the API)', () => {
      const committed = readFileSync('openapi.json', 'utf8');
      expect(stableJson(buildOpenApiDocument(gw.gateway.app))).toBe(committed);
    });
  });
});
