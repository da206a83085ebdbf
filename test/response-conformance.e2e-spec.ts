/**
 * Issue 14 item 5: the answers the gateway really gives conform to what its OpenAPI document declares. A
 * representative request for every operation and every documented status is sent to the running app (providers on
 * their sandboxes, failures provoked the documented way); each answer's status must be documented for that
 * path and method, its content type must be one declared there, and its body must validate (ajv) against the schema
 * declared for that path, method, status and content type. A DTO that drifts from reality fails here.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import { call, useGateway, type JsonResponse } from './support/gateway.js';
import { testApiKey } from './support/api-keys.js';

const FULL = testApiKey('conf-full', 'conf-full-6d2b9f1e3a7c4850');
const WRITER = testApiKey('conf-writer', 'conf-writer-5e8c2a4f6b1d3907', ['status:write']);
const READER = testApiKey('conf-reader', 'conf-reader-1a9e7c5b3d2f4068', ['status:read']);
const EVENTS = testApiKey('conf-events', 'conf-events-2b4d6f8a0c1e3579', ['events:read']);
const auth = (key = FULL.key) => ({ 'x-api-key': key });
const STATUS_PATH = '/v1/accounts/{provider}/{accountId}/status';
const HISTORY_PATH = '/v1/accounts/{provider}/{accountId}/history';
const BATCHES_PATH = '/v1/batches';
const BATCH_PATH = '/v1/batches/{batchId}';
const BATCH_ITEMS_PATH = '/v1/batches/{batchId}/items';
/** A well-formed batch id nobody created. */
const NO_BATCH = '01935a8e-7c4b-7d2a-9f00-000000000000';

/** Documented answers no ordinary request can provoke, each with its reason (covered elsewhere where possible). */
const NOT_PROVOKED: Record<string, string> = {
  'PUT /v1/accounts/{provider}/{accountId}/status 500': 'INTERNAL: no input provokes it by design',
  'GET /v1/accounts/{provider}/{accountId}/status 500': 'INTERNAL: no input provokes it by design',
  'GET /v1/accounts/{provider}/{accountId}/history 500': 'INTERNAL: no input provokes it by design',
  'GET /v1/providers 500': 'INTERNAL: no input provokes it by design',
  'GET /v1/accounts/{provider}/{accountId}/history 429':
    'the per-caller limit: test/security-limits.e2e-spec.ts',
  'GET /v1/providers 429': 'the per-caller limit: test/security-limits.e2e-spec.ts',
  'POST /v1/batches 500': 'INTERNAL: no input provokes it by design',
  'GET /v1/batches/{batchId} 500': 'INTERNAL: no input provokes it by design',
  'GET /v1/batches/{batchId}/items 500': 'INTERNAL: no input provokes it by design',
  'DELETE /v1/batches/{batchId} 500': 'INTERNAL: no input provokes it by design',
  'POST /v1/batches 429': 'the per-caller limit: test/security-limits.e2e-spec.ts',
  'GET /v1/batches/{batchId} 429': 'the per-caller limit: test/security-limits.e2e-spec.ts',
  'GET /v1/batches/{batchId}/items 429': 'the per-caller limit: test/security-limits.e2e-spec.ts',
  'DELETE /v1/batches/{batchId} 429': 'the per-caller limit: test/security-limits.e2e-spec.ts',
  'GET /v1/changes/{changeId} 500': 'INTERNAL: no input provokes it by design',
  'GET /v1/changes/{changeId} 429': 'the per-caller limit: test/security-limits.e2e-spec.ts',
  'GET /v1/events 500': 'INTERNAL: no input provokes it by design',
  'GET /v1/events 429': 'the per-caller limit: test/security-limits.e2e-spec.ts',
  'GET /health/ready 503':
    'draining or database down: test/deploy.e2e-spec.ts and test/durability.e2e-spec.ts',
};

interface Sent {
  operation: string;
  response: JsonResponse;
}

describe('Response conformance to the OpenAPI document', () => {
  const gw = useGateway({
    API_KEYS: JSON.stringify([FULL, READER, WRITER, EVENTS]),
    SPIDR_TIMEOUT_MS: '300',
  });
  let doc: any;
  const ajv = new Ajv({ strict: false, allErrors: true });
  // ajv-formats is CommonJS: its function is the module's default export under NodeNext.
  formats.default(ajv);
  const validators = new Map<string, ValidateFunction>();
  const sent: Sent[] = [];

  async function send(
    method: string,
    template: string,
    path: string,
    options: Parameters<typeof call>[2] = {},
  ): Promise<JsonResponse> {
    const response = await call(method, `${gw.url}${path}`, {
      ...options,
      headers: { ...auth(), ...options.headers },
    });
    sent.push({ operation: `${method} ${template}`, response });
    return response;
  }

  beforeAll(async () => {
    doc = (await call('GET', `${gw.url}/docs-json`)).body;
    await fetch(`${gw.providerUrl('pismo')}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ match: { accountId: 'conf-reset-1' }, fault: 'reset' }),
    });
    const change = (
      provider: string,
      account: string,
      body: unknown,
      extra: Parameters<typeof call>[2] = {},
    ) =>
      send('PUT', STATUS_PATH, `/v1/accounts/${provider}/${account}/status`, {
        body,
        ...extra,
      });
    const read = (provider: string, account: string, key?: string) =>
      send('GET', STATUS_PATH, `/v1/accounts/${provider}/${account}/status`, { headers: auth(key) });

    // PUT: 200 (change and dry run) on every provider, 202, and each error status.
    await change('spidr', 'conf-1', { status: 'SUSPENDED', reason: 'FRAUD', note: 'conformance' });
    await change('canopy', 'conf-1', { status: 'SUSPENDED', reason: 'HARDSHIP' });
    await change('pismo', 'conf-1', { status: 'SUSPENDED', reason: 'FRAUD' });
    await change('cleargrid', 'conf-1', { status: 'DISPUTED', customerId: 'customer_001' });
    for (const provider of ['spidr', 'canopy', 'pismo', 'cleargrid'])
      await send('PUT', STATUS_PATH, `/v1/accounts/${provider}/conf-2/status?dryRun=true`, {
        body: { status: 'CLOSED', customerId: 'customer_001' },
      });
    await change('spidr', 'conf-1', { status: 'NOPE' });
    await send('PUT', STATUS_PATH, '/v1/accounts/spidr/conf-1/status', {
      body: { status: 'ACTIVE' },
      headers: auth('nope-0000'),
    });
    await send('PUT', STATUS_PATH, '/v1/accounts/spidr/conf-1/status', {
      body: { status: 'ACTIVE' },
      headers: auth(READER.key),
    });
    await change('nowhere', 'conf-1', { status: 'ACTIVE' });
    await change('spidr', 'NOTFOUND-1', { status: 'ACTIVE' });
    await change('pismo', 'CLOSED-1', { status: 'SUSPENDED' });
    await change('pismo', 'conf-1', { status: 'DISPUTED' });
    await change('spidr', 'REJECT-1', { status: 'ACTIVE' });
    await change('spidr', 'RATELIMIT-1', { status: 'ACTIVE' });
    await change('spidr', 'ERROR500-1', { status: 'ACTIVE' });
    await change('pismo', 'conf-reset-1', { status: 'ACTIVE' });
    await change('spidr', 'SLOW-1', { status: 'ACTIVE' });
    await send('PUT', STATUS_PATH, '/v1/accounts/spidr/conf-1/status', {
      rawBody: JSON.stringify({ status: 'ACTIVE', note: 'n'.repeat(20_000) }),
    });
    await send('PUT', STATUS_PATH, '/v1/accounts/spidr/conf-1/status', {
      rawBody: 'status=ACTIVE',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const key = { 'idempotency-key': 'conf-key-1' };
    await change('spidr', 'conf-3', { status: 'SUSPENDED' }, { headers: key });
    await change('spidr', 'conf-3', { status: 'SUSPENDED' }, { headers: key }); // replayed 200
    await change('spidr', 'conf-3', { status: 'ACTIVE' }, { headers: key }); // 422 reused
    const slowKey = { 'idempotency-key': 'conf-key-slow' };
    await Promise.all([
      change('canopy', 'SLOW400-1', { status: 'ACTIVE' }, { headers: slowKey }),
      new Promise((r) => setTimeout(r, 100)).then(() =>
        change('canopy', 'SLOW400-1', { status: 'ACTIVE' }, { headers: slowKey }),
      ),
    ]);

    // GET status: each provider (live and gateway-recorded), and the errors.
    for (const provider of ['spidr', 'canopy', 'pismo', 'cleargrid']) await read(provider, 'conf-1');
    await read('pismo', 'conf-never-changed');
    await send('GET', STATUS_PATH, '/v1/accounts/spidr/bad%20id/status');
    await read('spidr', 'conf-1', 'nope-0000');
    await send('GET', STATUS_PATH, '/v1/accounts/spidr/conf-1/status', {
      headers: { 'x-api-key': 'x', authorization: 'Basic x' },
    });
    await read('spidr', 'conf-1', WRITER.key);
    await read('nowhere', 'conf-1');
    await read('spidr', 'NOTFOUND-1');
    await read('spidr', 'RATELIMIT-1');
    await read('spidr', 'ERROR500-1');
    await read('pismo', 'conf-reset-1');
    await read('spidr', 'SLOW-1');

    // History: pages, errors.
    for (const query of ['', '?limit=1', '?limit=0'])
      await send('GET', HISTORY_PATH, `/v1/accounts/spidr/conf-1/history${query}`);
    const first = await send('GET', HISTORY_PATH, '/v1/accounts/spidr/conf-3/history?limit=1');
    await send(
      'GET',
      HISTORY_PATH,
      `/v1/accounts/spidr/conf-3/history?limit=1&cursor=${first.body.nextCursor}`,
    );
    await send('GET', HISTORY_PATH, '/v1/accounts/pismo/conf-1/history'); // holds a STATUS_NOT_SUPPORTED record
    await send('GET', HISTORY_PATH, '/v1/accounts/spidr/conf-1/history', { headers: auth('nope-0000') });
    await send('GET', HISTORY_PATH, '/v1/accounts/spidr/conf-1/history', { headers: auth(WRITER.key) });
    await send('GET', HISTORY_PATH, '/v1/accounts/nowhere/conf-1/history');
    await send('GET', HISTORY_PATH, '/v1/accounts/spidr/conf-1/history', {
      headers: { 'x-api-key': 'nope' },
    });

    // Batches: create (202, waited 200, replay, errors), read, list items, cancel.
    const batchOf = (status: string, n = 2) => ({
      items: Array.from({ length: n }, (_, i) => ({ provider: 'spidr', accountId: `conf-b-${i}`, status })),
    });
    const batchKey = { 'idempotency-key': 'conf-batch-key' };
    const created = await send('POST', BATCHES_PATH, BATCHES_PATH, {
      body: batchOf('SUSPENDED'),
      headers: batchKey,
    });
    await send('POST', BATCHES_PATH, BATCHES_PATH, { body: batchOf('SUSPENDED'), headers: batchKey });
    await send('POST', BATCHES_PATH, BATCHES_PATH, { body: batchOf('ACTIVE'), headers: batchKey }); // 422
    await send('POST', BATCHES_PATH, BATCHES_PATH, {
      body: batchOf('ACTIVE', 1),
      headers: { prefer: 'wait=10' },
    }); // 200
    await send('POST', BATCHES_PATH, BATCHES_PATH, { body: batchOf('NOPE') });
    await send('POST', BATCHES_PATH, BATCHES_PATH, { body: batchOf('ACTIVE'), headers: auth('nope-0000') });
    await send('POST', BATCHES_PATH, BATCHES_PATH, { body: batchOf('ACTIVE'), headers: auth(READER.key) });
    await send('POST', BATCHES_PATH, BATCHES_PATH, { body: batchOf('CLOSED'), headers: auth(WRITER.key) });
    await send('POST', BATCHES_PATH, BATCHES_PATH, {
      rawBody: JSON.stringify({
        items: [{ provider: 'spidr', accountId: 'x', status: 'ACTIVE', note: 'n'.repeat(1_100_000) }],
      }),
    });
    await send('POST', BATCHES_PATH, BATCHES_PATH, {
      rawBody: 'provider,accountId,status\nspidr,conf-b-0,ACTIVE',
      headers: { 'content-type': 'text/csv' },
    });
    const batchId: string = created.body.batchId;
    for (const [method, template, suffix] of [
      ['GET', BATCH_PATH, ''],
      ['GET', BATCH_ITEMS_PATH, '/items'],
    ] as const) {
      await send(method, template, `/v1/batches/${batchId}${suffix}`);
      await send(method, template, `/v1/batches/not-a-batch${suffix}`);
      await send(method, template, `/v1/batches/${batchId}${suffix}`, { headers: auth('nope-0000') });
      await send(method, template, `/v1/batches/${batchId}${suffix}`, { headers: auth(WRITER.key) });
      await send(method, template, `/v1/batches/${NO_BATCH}${suffix}`);
    }
    await send('GET', BATCH_ITEMS_PATH, `/v1/batches/${batchId}/items?limit=1&outcome=FAILED`);
    await send('DELETE', BATCH_PATH, `/v1/batches/${batchId}`);
    await send('DELETE', BATCH_PATH, '/v1/batches/not-a-batch');
    await send('DELETE', BATCH_PATH, `/v1/batches/${batchId}`, { headers: auth('nope-0000') });
    await send('DELETE', BATCH_PATH, `/v1/batches/${batchId}`, { headers: auth(READER.key) });
    await send('DELETE', BATCH_PATH, `/v1/batches/${NO_BATCH}`);
    // Change records and the event feed.
    const accepted = sent.find((s) => s.operation.startsWith('PUT') && s.response.status === 202)!.response
      .body.changeId as string;
    const failed = sent.find(
      (s) => s.response.status === 404 && s.response.body?.code === 'ACCOUNT_NOT_FOUND',
    );
    const CHANGE_PATH = '/v1/changes/{changeId}';
    await send('GET', CHANGE_PATH, `/v1/changes/${accepted}`);
    const failedId = (
      await call('GET', `${gw.url}/v1/accounts/spidr/NOTFOUND-1/history`, { headers: auth() })
    ).body.items[0].changeId as string;
    expect(failed).toBeDefined();
    await send('GET', CHANGE_PATH, `/v1/changes/${failedId}`);
    await send('GET', CHANGE_PATH, '/v1/changes/not-a-change');
    await send('GET', CHANGE_PATH, `/v1/changes/${accepted}`, { headers: auth('nope-0000') });
    await send('GET', CHANGE_PATH, `/v1/changes/${accepted}`, { headers: auth(WRITER.key) });
    await send('GET', CHANGE_PATH, '/v1/changes/01935a8e-7c4b-7d2a-9f00-000000000000');
    await send('GET', '/v1/events', '/v1/events?limit=1000', { headers: auth(EVENTS.key) });
    await send('GET', '/v1/events', '/v1/events?type=account.status.change_failed', {
      headers: auth(EVENTS.key),
    });
    await send('GET', '/v1/events', '/v1/events?after=bad', { headers: auth(EVENTS.key) });
    await send('GET', '/v1/events', '/v1/events', { headers: auth('nope-0000') });
    await send('GET', '/v1/events', '/v1/events', { headers: auth(READER.key) });

    // Providers, health, metrics.
    await send('GET', '/v1/providers', '/v1/providers');
    await send('GET', '/v1/providers', '/v1/providers', { headers: auth('nope-0000') });
    await send('GET', '/v1/providers', '/v1/providers', { headers: auth(WRITER.key) });
    await send('GET', '/health/live', '/health/live');
    await send('GET', '/health/ready', '/health/ready');
    await send('GET', '/metrics', '/metrics');
  }, 60_000);

  function validatorFor(
    operation: string,
    status: number,
    contentType: string,
  ): ValidateFunction | undefined {
    const [method, path] = operation.split(' ') as [string, string];
    const media =
      doc.paths[path]?.[method.toLowerCase()]?.responses?.[String(status)]?.content?.[contentType];
    if (!media?.schema) return undefined;
    const id = `${operation} ${status} ${contentType}`;
    if (!validators.has(id)) validators.set(id, ajv.compile({ ...media.schema, components: doc.components }));
    return validators.get(id);
  }

  it('should give only documented statuses and content types, with bodies valid against their schemas', () => {
    const defects: string[] = [];
    for (const { operation, response } of sent) {
      const [method, path] = operation.split(' ') as [string, string];
      const documented = doc.paths[path][method.toLowerCase()].responses[String(response.status)];
      const where = `${operation} → ${response.status}`;
      if (!documented) {
        defects.push(`${where}: status not documented`);
        continue;
      }
      const contentType = (response.headers.get('content-type') ?? '').split(';')[0].trim();
      if (documented.content && !documented.content[contentType]) {
        defects.push(`${where}: content type ${contentType} not documented`);
        continue;
      }
      const validate = validatorFor(operation, response.status, contentType);
      if (validate && !validate(response.body)) {
        defects.push(
          `${where}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(response.body).slice(0, 300)}`,
        );
      }
      for (const header of Object.keys(documented.headers ?? {})) {
        if (header === 'X-Request-Id' && !response.headers.get(header))
          defects.push(`${where}: no ${header}`);
      }
    }
    expect(defects).toEqual([]);
  });

  it('should have provoked every documented status of every operation (or say why not)', () => {
    const seen = new Set(sent.map(({ operation, response }) => `${operation} ${response.status}`));
    const missing: string[] = [];
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        for (const status of Object.keys(op.responses)) {
          const key = `${method.toUpperCase()} ${path} ${status}`;
          if (!seen.has(key) && !NOT_PROVOKED[key]) missing.push(key);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
