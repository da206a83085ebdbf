/**
 * Security, issue 5 item 1: caller API keys and scopes, end to end over real HTTP.
 *
 * The core is one table: every endpoint × every credential (no key, an unknown key, each configured key,
 * each given as `X-API-Key` and as `Authorization: Bearer`). For each cell the expected answer follows
 * from the scopes the endpoint needs and the scopes the key holds: 401 UNAUTHENTICATED, 403 FORBIDDEN
 * naming the first missing scope, or the endpoint's own success. Every cell also checks that a refused
 * request reaches no provider (sandbox call logs) and leaves no audit record, and that the caller's key id
 * is the request log line's `callerId` (and the history item's `callerId` for an applied change).
 *
 * Then: terminal statuses at every provider (Spidr CLOSED, Pismo CLOSED → CANCELLED with
 * PISMO_ACCOUNT_API=accounts), malformed credentials (never a 500), key rotation, the start-up rules
 * (built `dist/main.js` as a child process) and the Swagger security schemes.
 * Key comparison in constant time is by design (CallerAuthService) and has no test here.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import type { ProviderId } from '../src/domain/index.js';
import { SPIDR_SANDBOX_SETTINGS } from '../src/providers/spidr/spidr.sandbox.js';
import {
  call,
  expectProblem,
  sandboxCalls,
  startGateway,
  useGateway,
  startSandbox,
  temporarySqliteUrl,
  type JsonResponse,
  type TestGateway,
} from './support/gateway.js';
import { expectRead } from './support/answers.js';
import { spawnGateway, type GatewayProcess } from './support/process.js';

type Scope = 'status:read' | 'status:write' | 'status:close';
type Via = 'X-API-Key' | 'Bearer';

interface ApiKey {
  id: string;
  secret: string;
  scopes: Scope[];
  /** Configured as a `sha256` entry (lower-case hex of the key) instead of a plain `key`. */
  hashed?: boolean;
}

const PROVIDERS: ProviderId[] = ['cleargrid', 'canopy', 'pismo', 'spidr'];
const VIAS: Via[] = ['X-API-Key', 'Bearer'];
const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const READER: ApiKey = { id: 'reader', secret: 'rdr-4f1c9e27b8a05d63', scopes: ['status:read'] };
const WRITER: ApiKey = { id: 'writer', secret: 'wrt-9b2e5a71c4d08f36', scopes: ['status:write'] };
/** Write and close, but no read: refused on every GET. */
const CLOSER: ApiKey = {
  id: 'closer',
  secret: 'cls-7d3a0f58e1b94c22',
  scopes: ['status:write', 'status:close'],
};
/** Close alone is not write: refused on every PUT. */
const CLOSE_ONLY: ApiKey = { id: 'close-only', secret: 'cln-1e8b6d43a9f27c50', scopes: ['status:close'] };
const ADMIN: ApiKey = {
  id: 'admin',
  secret: 'adm-c05f92e4d71b3a86',
  scopes: ['status:read', 'status:write', 'status:close'],
  hashed: true,
};
const KEYS = [READER, WRITER, CLOSER, CLOSE_ONLY, ADMIN];
const UNKNOWN_SECRET = 'unknown-0a1b2c3d4e5f6789';

function apiKeysEnv(keys: ApiKey[]): string {
  return JSON.stringify(
    keys.map((k) =>
      k.hashed
        ? { id: k.id, sha256: sha256Hex(k.secret), scopes: k.scopes }
        : { id: k.id, key: k.secret, scopes: k.scopes },
    ),
  );
}

function keyHeader(via: Via, secret: string): Record<string, string> {
  return via === 'X-API-Key' ? { 'x-api-key': secret } : { authorization: `Bearer ${secret}` };
}

const asAdmin = () => keyHeader('X-API-Key', ADMIN.secret);

interface Credential {
  label: string;
  headers: Record<string, string>;
  key?: ApiKey;
  secret?: string;
}

const CREDENTIALS: Credential[] = [
  { label: 'no key', headers: {} },
  ...VIAS.map((via) => ({
    label: `unknown key (${via})`,
    headers: keyHeader(via, UNKNOWN_SECRET),
    secret: UNKNOWN_SECRET,
  })),
  ...KEYS.flatMap((key) =>
    VIAS.map((via) => ({
      label: `${key.id} [${key.scopes.join(' ')}]${key.hashed ? ' sha256 entry' : ''} (${via})`,
      headers: keyHeader(via, key.secret),
      key,
      secret: key.secret,
    })),
  ),
];

let counter = 0;
const freshAccount = (prefix = 'sec') => `${prefix}-${process.pid}-${++counter}`;
const freshRequestId = () => `sec-auth-${process.pid}-${++counter}`;

/** Provider calls that reached any of the four sandboxes, in total. */
async function totalProviderCalls(gw: TestGateway): Promise<number> {
  const counts = await Promise.all(
    PROVIDERS.map(async (p) => (await sandboxCalls(gw.providerUrl(p))).length),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** The Spidr sandbox calls for one account (Spidr's path is /v1/account/{id}). */
async function spidrCallsFor(gw: TestGateway, id: string) {
  const path = `/v1/account/${encodeURIComponent(id)}`;
  return (await sandboxCalls(gw.providerUrl('spidr'))).filter(
    (c) => c.url === path || c.url.startsWith(`${path}?`),
  );
}

/** The request log line with this request id; log writes are asynchronous, so wait for it briefly. */
async function logLineFor(gw: TestGateway, requestId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const line = gw.logs.find((l) => l.requestId === requestId && l.msg === 'request');
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no request log line for ${requestId}`);
    await new Promise<void>((resolve) => gw.gateway.logger.flush(() => resolve()));
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function historyOf(gw: TestGateway, provider: ProviderId, id: string): Promise<any[]> {
  const res = await call('GET', `${gw.url}/v1/accounts/${provider}/${id}/history`, { headers: asAdmin() });
  expect(res.status).toBe(200);
  return res.body.items;
}

/** The first scope of `needs` the key lacks; undefined when it has them all. */
const missingScope = (key: ApiKey, needs: Scope[]) => needs.find((s) => !key.scopes.includes(s));

interface Endpoint {
  name: string;
  /** In the order the gateway checks them: the route's scope, then status:close for a final status. */
  needs: Scope[];
  send(gw: TestGateway, id: string, headers: Record<string, string>): Promise<JsonResponse>;
  /** Checks of a successful answer (the caller's key id is given for the audit trail). */
  allowed(gw: TestGateway, id: string, res: JsonResponse, callerId: string, requestId: string): Promise<void>;
  /** True for a PUT: a refused one must leave no audit record. */
  change?: boolean;
}

const statusUrl = (gw: TestGateway, id: string, query = '') =>
  `${gw.url}/v1/accounts/spidr/${id}/status${query}`;

function put(body: Record<string, unknown>, query = '') {
  return (gw: TestGateway, id: string, headers: Record<string, string>) =>
    call('PUT', statusUrl(gw, id, query), { body, headers });
}

async function expectAppliedOnce(
  gw: TestGateway,
  id: string,
  res: JsonResponse,
  providerStatus: string,
  callerId: string,
  requestId: string,
) {
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ provider: 'spidr', accountId: id, outcome: 'APPLIED', providerStatus });
  const writes = (await spidrCallsFor(gw, id)).filter((c) => c.method === 'PATCH');
  expect(writes.map((c) => c.body)).toEqual([{ status: providerStatus }]);
  const items = await historyOf(gw, 'spidr', id);
  expect(items.map((i) => [i.callerId, i.requestId, i.outcome])).toEqual([[callerId, requestId, 'APPLIED']]);
}

async function expectDryRun(gw: TestGateway, id: string, res: JsonResponse, providerStatus: string) {
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ dryRun: true, providerRequest: { body: { status: providerStatus } } });
  expect(await spidrCallsFor(gw, id)).toEqual([]);
  expect(await historyOf(gw, 'spidr', id)).toEqual([]);
}

const ENDPOINTS: Endpoint[] = [
  {
    name: 'PUT status SUSPENDED',
    needs: ['status:write'],
    change: true,
    send: put({ status: 'SUSPENDED', reason: 'FRAUD' }),
    allowed: (gw, id, res, callerId, rid) => expectAppliedOnce(gw, id, res, 'suspended', callerId, rid),
  },
  {
    name: 'PUT status CLOSED',
    needs: ['status:write', 'status:close'],
    change: true,
    send: put({ status: 'CLOSED' }),
    allowed: (gw, id, res, callerId, rid) =>
      expectAppliedOnce(gw, id, res, 'close_with_refund', callerId, rid),
  },
  {
    name: 'PUT status SUSPENDED ?dryRun=true',
    needs: ['status:write'],
    change: true,
    send: put({ status: 'SUSPENDED' }, '?dryRun=true'),
    allowed: (gw, id, res) => expectDryRun(gw, id, res, 'suspended'),
  },
  {
    name: 'PUT status CLOSED ?dryRun=true',
    needs: ['status:write', 'status:close'],
    change: true,
    send: put({ status: 'CLOSED', reason: 'CHARGED_OFF' }, '?dryRun=true'),
    allowed: (gw, id, res) => expectDryRun(gw, id, res, 'close_charged_off'),
  },
  {
    name: 'GET status',
    needs: ['status:read'],
    send: (gw, id, headers) => call('GET', statusUrl(gw, id), { headers }),
    allowed: async (gw, id, res) => {
      expectRead(res, 'spidr', id, { status: 'ACTIVE', source: 'provider' }, { partial: true });
      expect((await spidrCallsFor(gw, id)).map((c) => c.method)).toEqual(['GET']);
    },
  },
  {
    name: 'GET history',
    needs: ['status:read'],
    send: (gw, id, headers) => call('GET', `${gw.url}/v1/accounts/spidr/${id}/history`, { headers }),
    allowed: (_gw, _id, res) => {
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: [], nextCursor: null });
      return Promise.resolve();
    },
  },
  {
    name: 'GET /v1/providers',
    needs: ['status:read'],
    send: (gw, _id, headers) => call('GET', `${gw.url}/v1/providers`, { headers }),
    allowed: (_gw, _id, res) => {
      expect(res.status).toBe(200);
      expect(res.body.items.map((p: any) => p.id).sort()).toEqual([...PROVIDERS].sort());
      return Promise.resolve();
    },
  },
];

const OPEN_ROUTES = ['/health/live', '/health/ready', '/docs', '/docs-json'];

const MATRIX = ENDPOINTS.flatMap((endpoint) =>
  CREDENTIALS.map((credential) => {
    const missing = credential.key ? missingScope(credential.key, endpoint.needs) : undefined;
    const expected = !credential.key ? '401' : missing ? `403 (${missing})` : 'allowed';
    return { name: `${endpoint.name} × ${credential.label} → ${expected}`, endpoint, credential, missing };
  }),
);

const OPEN_MATRIX = OPEN_ROUTES.flatMap((route) =>
  CREDENTIALS.map((credential) => ({ name: `GET ${route} × ${credential.label} → 200`, route, credential })),
);

/** One raw HTTP/1.1 request, for header shapes fetch would normalise (duplicates, non-ASCII bytes). */
function rawRequest(
  gw: TestGateway,
  method: string,
  path: string,
  headerLines: string[],
  body?: string,
): Promise<{ status: number; headers: string; body: string }> {
  const { port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      const lines = [
        `${method} ${path} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        'Connection: close',
        ...headerLines,
      ];
      if (body !== undefined)
        lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`, 'latin1');
    });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const split = data.indexOf('\r\n\r\n');
      const head = data.slice(0, split);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      resolve({ status, headers: head, body: data.slice(split + 4) });
    });
  });
}

describe('Caller API keys: every endpoint × every credential', () => {
  const gw = useGateway({ API_KEYS: apiKeysEnv(KEYS), RATE_LIMIT_PER_MINUTE: '0' });

  it.each(MATRIX)('$name', async ({ endpoint, credential, missing }) => {
    const id = freshAccount();
    const requestId = freshRequestId();
    const before = await totalProviderCalls(gw);
    const res = await endpoint.send(gw, id, { ...credential.headers, 'x-request-id': requestId });

    if (credential.key && !missing) {
      await endpoint.allowed(gw, id, res, credential.key.id, requestId);
    } else {
      if (!credential.key) {
        const problem = expectProblem(res, 401, 'UNAUTHENTICATED');
        expect(problem.requiredScope).toBeUndefined();
      } else {
        const problem = expectProblem(res, 403, 'FORBIDDEN');
        expect(problem.requiredScope).toBe(missing);
      }
      expect(res.body.requestId).toBe(requestId);
      if (credential.secret) expect(JSON.stringify(res.body)).not.toContain(credential.secret);
      // A refused request reaches no provider at all, and leaves no audit record.
      expect(await totalProviderCalls(gw)).toBe(before);
      if (endpoint.change) expect(await historyOf(gw, 'spidr', id)).toEqual([]);
    }

    const line = await logLineFor(gw, requestId);
    expect(line).toMatchObject({ callerId: credential.key?.id ?? 'anonymous', httpStatus: res.status });
  });

  it.each(OPEN_MATRIX)('$name', async ({ route, credential }) => {
    const requestId = freshRequestId();
    const response = await fetch(`${gw.url}${route}`, {
      headers: { ...credential.headers, 'x-request-id': requestId },
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    if (route === '/docs') expect(text).toContain('swagger');
    else expect(() => JSON.parse(text) as unknown).not.toThrow();
  });

  it('should check the key before the body, the path or the provider (no key → 401, weak key → 403, never 400/404)', async () => {
    const invalid = { status: 'NOT_A_STATUS', unknownField: 1 };
    for (const [url, body] of [
      [statusUrl(gw, freshAccount()), invalid],
      [`${gw.url}/v1/accounts/no-such-provider/acc-1/status`, { status: 'SUSPENDED' }],
      [`${gw.url}/v1/accounts/spidr/..%2F..%2Fadmin/status`, { status: 'SUSPENDED' }],
    ] as const) {
      expectProblem(await call('PUT', url, { body }), 401, 'UNAUTHENTICATED');
      const forbidden = expectProblem(
        await call('PUT', url, { body, headers: keyHeader('Bearer', READER.secret) }),
        403,
        'FORBIDDEN',
      );
      expect(forbidden.requiredScope).toBe('status:write');
    }
    expectProblem(
      await call('GET', `${gw.url}/v1/accounts/no-such-provider/acc-1/status`),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('should put the key id, and never the key, in the log and the audit trail', async () => {
    const text = gw.rawLogs();
    for (const key of KEYS) {
      expect(text).not.toContain(key.secret);
      if (key.hashed) expect(text).not.toContain(sha256Hex(key.secret));
    }
    expect(text).not.toContain(UNKNOWN_SECRET);
    const rows = await gw.gateway.store.database.db
      .selectFrom('change_attempts')
      .select('caller_id')
      .execute();
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.caller_id))).toEqual(new Set(['writer', 'closer', 'admin']));
  });

  describe('malformed or ambiguous credentials → 401 (never 500), no provider call', () => {
    const upper = (s: string) => s.toUpperCase();
    const CASES: Array<[string, Record<string, string> | Headers]> = [
      ['Authorization: Bearer (no key)', { authorization: 'Bearer' }],
      ['Authorization: Bearer followed by spaces only', { authorization: 'Bearer    ' }],
      [
        'Authorization: Basic base64(id:key)',
        { authorization: `Basic ${btoa(`${ADMIN.id}:${ADMIN.secret}`)}` },
      ],
      ['Authorization: Basic <key>', { authorization: `Basic ${ADMIN.secret}` }],
      ['Authorization: <key> (no scheme)', { authorization: ADMIN.secret }],
      ['Authorization: Token <key>', { authorization: `Token ${ADMIN.secret}` }],
      ['Authorization: Bearer=<key>', { authorization: `Bearer=${ADMIN.secret}` }],
      [
        'Authorization: Bearer <key> <key> (two keys)',
        { authorization: `Bearer ${ADMIN.secret} ${READER.secret}` },
      ],
      [
        'Authorization: Bearer <key>, Bearer <key> (two credentials)',
        { authorization: `Bearer ${ADMIN.secret}, Bearer ${READER.secret}` },
      ],
      ['Authorization: Bearer <key>,<key>', { authorization: `Bearer ${ADMIN.secret},${READER.secret}` }],
      ['X-API-Key: <key>, <key> (two keys)', { 'x-api-key': `${ADMIN.secret}, ${READER.secret}` }],
      ['two X-API-Key headers', headersWith(['x-api-key', ADMIN.secret], ['x-api-key', READER.secret])],
      ['X-API-Key: the key upper-cased', { 'x-api-key': upper(ADMIN.secret) }],
      ['Authorization: Bearer the key upper-cased', { authorization: `Bearer ${upper(ADMIN.secret)}` }],
      ['X-API-Key: the key with a character missing', { 'x-api-key': ADMIN.secret.slice(0, -1) }],
      ['X-API-Key: the key with a character added', { 'x-api-key': `${ADMIN.secret}0` }],
      ['X-API-Key: the sha256 entry itself (hex)', { 'x-api-key': sha256Hex(ADMIN.secret) }],
      ['X-API-Key: the sha256 entry upper-cased', { 'x-api-key': sha256Hex(ADMIN.secret).toUpperCase() }],
      ['X-API-Key: the key id', { 'x-api-key': ADMIN.id }],
      ['Authorization: Bearer <key id>', { authorization: `Bearer ${ADMIN.id}` }],
      ['X-API-Key: 8 KiB of junk', { 'x-api-key': 'k'.repeat(8192) }],
      ['Authorization: Bearer 8 KiB of junk', { authorization: `Bearer ${'k'.repeat(8192)}` }],
      [
        'Authorization: Bearer <key> plus a Basic credential',
        { authorization: `Bearer ${ADMIN.secret} Basic x` },
      ],
    ];

    it.each(CASES)('%s', async (_name, headers) => {
      const before = await totalProviderCalls(gw);
      for (const [method, url, body] of [
        ['PUT', statusUrl(gw, freshAccount()), { status: 'CLOSED' }],
        ['GET', statusUrl(gw, freshAccount()), undefined],
        ['GET', `${gw.url}/v1/providers`, undefined],
      ] as const) {
        const response = await fetch(url, {
          method,
          headers: body ? withJson(headers) : headers,
          body: body ? JSON.stringify(body) : undefined,
        });
        const res = { status: response.status, headers: response.headers, body: await response.json() };
        expectProblem(res, 401, 'UNAUTHENTICATED');
      }
      expect(await totalProviderCalls(gw)).toBe(before);
    });

    // Raw bytes: what fetch would refuse to send or would normalise.
    const NBSP = '\u00a0';
    const RAW_CASES: Array<[string, string[]]> = [
      ['X-API-Key: <key> surrounded by no-break spaces', [`X-API-Key: ${NBSP}${ADMIN.secret}${NBSP}`]],
      [
        'Authorization: Bearer <key> followed by a no-break space',
        [`Authorization: Bearer ${ADMIN.secret}${NBSP}`],
      ],
      ['Authorization: Bearer<no-break space><key>', [`Authorization: Bearer${NBSP}${ADMIN.secret}`]],
      ['X-API-Key: Latin-1 bytes', ['X-API-Key: \u00e9\u00ff\u00fe\u00c0-not-a-key-at-all']],
      ['Authorization: Bearer Latin-1 bytes', ['Authorization: Bearer \u00e9\u00ff\u00fe\u00c0']],
      [
        'two Authorization headers, a valid key first (Node keeps only the first)',
        [`Authorization: Bearer ${ADMIN.secret}`, `Authorization: Bearer ${READER.secret}`],
      ],
      [
        'two Authorization headers, a valid key second',
        [`Authorization: Bearer ${UNKNOWN_SECRET}`, `Authorization: Bearer ${ADMIN.secret}`],
      ],
      ['two X-API-Key headers (raw)', [`X-API-Key: ${ADMIN.secret}`, `X-API-Key: ${ADMIN.secret}`]],
      [
        'an unknown X-API-Key next to a valid Bearer key',
        [`X-API-Key: ${UNKNOWN_SECRET}`, `Authorization: Bearer ${ADMIN.secret}`],
      ],
      ['X-API-Key: empty', ['X-API-Key: ']],
      ['Authorization: empty', ['Authorization: ']],
    ];

    it.each(RAW_CASES)('%s', async (_name, lines) => {
      const before = await totalProviderCalls(gw);
      const id = freshAccount();
      const res = await rawRequest(
        gw,
        'PUT',
        `/v1/accounts/spidr/${id}/status`,
        lines,
        '{"status":"CLOSED"}',
      );
      expect(res.status).toBe(401);
      expect(res.headers).toMatch(/content-type: application\/problem\+json/i);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'UNAUTHENTICATED' });
      const read = await rawRequest(gw, 'GET', '/v1/providers', lines);
      expect(read.status).toBe(401);
      expect(await totalProviderCalls(gw)).toBe(before);
    });

    it('should answer a key with control characters 400 (HTTP parser) or 401, never 5xx or success', async () => {
      const before = await totalProviderCalls(gw);
      for (const ch of ['\u0000', '\u000b', '\u000c', '\u007f']) {
        for (const line of [
          `X-API-Key: ${ADMIN.secret}${ch}`,
          `Authorization: Bearer ${ADMIN.secret}${ch}`,
        ]) {
          const id = freshAccount();
          const res = await rawRequest(
            gw,
            'PUT',
            `/v1/accounts/spidr/${id}/status`,
            [line],
            '{"status":"CLOSED"}',
          );
          expect({ line, refused: [400, 401].includes(res.status) }).toEqual({ line, refused: true });
        }
      }
      expect(await totalProviderCalls(gw)).toBe(before);
    });

    it('should refuse a request whose two credentials disagree, or at least never grant the other key its rights', async () => {
      // X-API-Key of a read-only key with a Bearer of a key that may close: the change must not happen.
      const id = freshAccount();
      const res = await call('PUT', statusUrl(gw, id), {
        body: { status: 'CLOSED' },
        headers: { 'x-api-key': READER.secret, authorization: `Bearer ${ADMIN.secret}` },
      });
      expect([401, 403]).toContain(res.status);
      expect(await spidrCallsFor(gw, id)).toEqual([]);
    });

    it('should accept the Bearer scheme in any case (RFC 9110: auth schemes are case-insensitive)', async () => {
      for (const scheme of ['bearer', 'BEARER']) {
        const res = await call('GET', `${gw.url}/v1/providers`, {
          headers: { authorization: `${scheme} ${READER.secret}` },
        });
        expect(res.status).toBe(200);
      }
    });
  });
});

function headersWith(...pairs: Array<[string, string]>): Headers {
  const headers = new Headers();
  for (const [name, value] of pairs) headers.append(name, value);
  return headers;
}

function withJson(headers: Record<string, string> | Headers): Headers {
  const result = new Headers(headers);
  result.set('content-type', 'application/json');
  return result;
}

describe('status:close for every final status, at every provider', () => {
  let corporate: TestGateway;
  let accounts: TestGateway;

  beforeAll(async () => {
    [corporate, accounts] = await Promise.all([
      startGateway({ API_KEYS: apiKeysEnv(KEYS), RATE_LIMIT_PER_MINUTE: '0' }),
      startGateway({ API_KEYS: apiKeysEnv(KEYS), RATE_LIMIT_PER_MINUTE: '0', PISMO_ACCOUNT_API: 'accounts' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([corporate?.close(), accounts?.close()]);
  });

  const numericAccount = () => String(7_300_000 + ++counter);
  const bodyFor = (provider: ProviderId, status: string) =>
    provider === 'cleargrid' ? { status, customerId: 'customer_001' } : { status };

  it('should refuse CLOSED and every status the capability matrix marks terminal to a status:write key (403 status:close), with no provider call', async () => {
    let checked = 0;
    for (const gw of [corporate, accounts]) {
      const matrix = await call('GET', `${gw.url}/v1/providers`, { headers: asAdmin() });
      for (const provider of matrix.body.items as any[]) {
        for (const [status, entry] of Object.entries<any>(provider.statuses)) {
          if (status !== 'CLOSED' && !entry.terminal) continue;
          const id = provider.id === 'pismo' && gw === accounts ? numericAccount() : freshAccount();
          const before = (await sandboxCalls(gw.providerUrl(provider.id))).length;
          for (const query of ['', '?dryRun=true']) {
            const res = await call('PUT', `${gw.url}/v1/accounts/${provider.id}/${id}/status${query}`, {
              body: bodyFor(provider.id, status),
              headers: keyHeader('Bearer', WRITER.secret),
            });
            const problem = expectProblem(res, 403, 'FORBIDDEN');
            expect(problem.requiredScope).toBe('status:close');
          }
          expect((await sandboxCalls(gw.providerUrl(provider.id))).length).toBe(before);
          checked += 1;
        }
      }
    }
    // Precondition, so this cannot pass on an empty matrix: Spidr CLOSED is terminal, Pismo's too on accounts.
    const pismo = (await call('GET', `${accounts.url}/v1/providers`, { headers: asAdmin() })).body.items.find(
      (p: any) => p.id === 'pismo',
    );
    expect(pismo.statuses.CLOSED).toMatchObject({
      supported: true,
      providerValue: 'CANCELLED',
      terminal: true,
    });
    expect(checked).toBeGreaterThanOrEqual(8);
  });

  it('should close a Pismo account (accounts API: CLOSED → CANCELLED, terminal) only with status:close, and record the closer', async () => {
    const id = numericAccount();
    const pismo = accounts.providerUrl('pismo');
    const writesFor = async () =>
      (await sandboxCalls(pismo)).filter((c) => c.method !== 'GET' && c.url.includes(`/accounts/${id}`));

    const refused = await call('PUT', `${accounts.url}/v1/accounts/pismo/${id}/status`, {
      body: { status: 'CLOSED', reason: 'CUSTOMER_REQUEST' },
      headers: keyHeader('X-API-Key', WRITER.secret),
    });
    expect(expectProblem(refused, 403, 'FORBIDDEN').requiredScope).toBe('status:close');
    expect(await writesFor()).toEqual([]);

    const closed = await call('PUT', `${accounts.url}/v1/accounts/pismo/${id}/status`, {
      body: { status: 'CLOSED', reason: 'CUSTOMER_REQUEST' },
      headers: { ...keyHeader('Bearer', CLOSER.secret), 'x-request-id': `pismo-close-${id}` },
    });
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ status: 'CLOSED', providerStatus: 'CANCELLED', outcome: 'APPLIED' });
    expect((await writesFor()).map((c) => c.body)).toEqual([
      expect.objectContaining({ status: 'CANCELLED' }),
    ]);

    const items = await historyOf(accounts, 'pismo', id);
    expect(items.map((i) => [i.callerId, i.requestId, i.status, i.outcome])).toEqual([
      ['closer', `pismo-close-${id}`, 'CLOSED', 'APPLIED'],
    ]);
    expect(await logLineFor(accounts, `pismo-close-${id}`)).toMatchObject({
      callerId: 'closer',
      httpStatus: 200,
    });
  });

  it('should let a status:write key set a non-final status at Pismo on the accounts API', async () => {
    const id = numericAccount();
    const res = await call('PUT', `${accounts.url}/v1/accounts/pismo/${id}/status`, {
      body: { status: 'SUSPENDED', reason: 'FRAUD' },
      headers: keyHeader('Bearer', WRITER.secret),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ providerStatus: 'BLOCKED', outcome: 'APPLIED' });
  });
});

describe('Key rotation', () => {
  const OLD: ApiKey = {
    id: 'billing-2025',
    secret: 'billing-old-6c1f0e93a2d7',
    scopes: ['status:read', 'status:write'],
  };
  const NEW: ApiKey = {
    id: 'billing-2026',
    secret: 'billing-new-d84b27f5c310',
    scopes: ['status:read', 'status:write'],
    hashed: true,
  };
  const databaseUrl = temporarySqliteUrl();

  it('should accept the old and the new key side by side, then refuse the old one once it is removed', async () => {
    const id = freshAccount('rot');
    const both = await startGateway({
      API_KEYS: apiKeysEnv([OLD, NEW]),
      DATABASE_URL: databaseUrl,
      RATE_LIMIT_PER_MINUTE: '0',
    });
    try {
      for (const [key, via, status] of [
        [OLD, 'X-API-Key', 'SUSPENDED'],
        [NEW, 'Bearer', 'ACTIVE'],
        [OLD, 'Bearer', 'SUSPENDED'],
        [NEW, 'X-API-Key', 'ACTIVE'],
      ] as const) {
        const requestId = freshRequestId();
        const res = await call('PUT', `${both.url}/v1/accounts/spidr/${id}/status`, {
          body: { status },
          headers: { ...keyHeader(via, key.secret), 'x-request-id': requestId },
        });
        expect(res.status).toBe(200);
        expect(await logLineFor(both, requestId)).toMatchObject({ callerId: key.id });
      }
      const history = await call('GET', `${both.url}/v1/accounts/spidr/${id}/history`, {
        headers: keyHeader('X-API-Key', OLD.secret),
      });
      expect(history.body.items.map((i: any) => i.callerId)).toEqual([NEW.id, OLD.id, NEW.id, OLD.id]);
    } finally {
      await both.close();
    }

    const rotated = await startGateway({
      API_KEYS: apiKeysEnv([NEW]),
      DATABASE_URL: databaseUrl,
      RATE_LIMIT_PER_MINUTE: '0',
    });
    try {
      const before = await totalProviderCalls(rotated);
      for (const via of VIAS) {
        expectProblem(
          await call('PUT', `${rotated.url}/v1/accounts/spidr/${id}/status`, {
            body: { status: 'SUSPENDED' },
            headers: keyHeader(via, OLD.secret),
          }),
          401,
          'UNAUTHENTICATED',
        );
        expectProblem(
          await call('GET', `${rotated.url}/v1/accounts/spidr/${id}/history`, {
            headers: keyHeader(via, OLD.secret),
          }),
          401,
          'UNAUTHENTICATED',
        );
      }
      expect(await totalProviderCalls(rotated)).toBe(before);
      const res = await call('PUT', `${rotated.url}/v1/accounts/spidr/${id}/status`, {
        body: { status: 'SUSPENDED' },
        headers: keyHeader('Bearer', NEW.secret),
      });
      expect(res.status).toBe(200);
      // The audit trail written under the old key keeps its id.
      const history = await call('GET', `${rotated.url}/v1/accounts/spidr/${id}/history`, {
        headers: keyHeader('X-API-Key', NEW.secret),
      });
      expect(history.body.items.map((i: any) => i.callerId)).toEqual([
        NEW.id,
        NEW.id,
        OLD.id,
        NEW.id,
        OLD.id,
      ]);
    } finally {
      await rotated.close();
    }
  });
});

describe('Start-up rules (built dist/main.js)', () => {
  /** Runs the built gateway until it exits by itself (or 15 s), with stdout and stderr apart. */
  function runToExit(
    env: Record<string, string>,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ['dist/main.js'], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    return new Promise((resolve) =>
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      }),
    );
  }

  const liveSpidr = (url: string) => ({
    SPIDR_BASE_URL: url,
    SPIDR_API_KEY: SPIDR_SANDBOX_SETTINGS.apiKey,
    DATABASE_URL: temporarySqliteUrl(),
  });
  /** Runs `use` on a gateway process with Spidr live at a standalone sandbox, and `env`; then stops both. */
  const withLiveSpidrGateway = async (
    env: Record<string, string>,
    use: (gateway: GatewayProcess) => Promise<void>,
  ) => {
    const sandbox = await startSandbox('spidr');
    try {
      const gateway = await spawnGateway({ ...liveSpidr(sandbox.url), ...env });
      try {
        await use(gateway);
      } finally {
        gateway.child.kill('SIGTERM');
        await gateway.exited;
      }
    } finally {
      await sandbox.close();
    }
  };

  it('should refuse to start with a live provider and no API_KEYS: exit 1, one stderr line naming API_KEYS', async () => {
    const sandbox = await startSandbox('spidr');
    try {
      const result = await runToExit(liveSpidr(sandbox.url));
      expect(result.code).toBe(1);
      const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/API_KEYS/);
      expect(result.stdout).not.toMatch(/listening on/);
      // The same through the shared harness: it never reports the gateway as started.
      await expect(spawnGateway(liveSpidr(sandbox.url))).rejects.toThrow(/API_KEYS/);
    } finally {
      await sandbox.close();
    }
  }, 30_000);

  it('should start with a live provider and AUTH_DISABLED=true, log a warning, and serve without a key', async () => {
    await withLiveSpidrGateway({ AUTH_DISABLED: 'true' }, async (gateway) => {
      const res = await call('GET', `${gateway.url}/v1/providers`);
      expect(res.status).toBe(200);
      expect(res.body.items.find((p: any) => p.id === 'spidr').mode).toBe('live');
      const lines = gateway
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>);
      const warning = lines.find((l) => l.level === 'warn' && /AUTH_DISABLED/.test(String(l.msg)));
      expect(warning).toBeDefined();
      expect(lines.find((l) => /listening on/.test(String(l.msg)))).toMatchObject({ auth: 'off' });
    });
  }, 30_000);

  it('should start with a live provider and API_KEYS, with auth on', async () => {
    await withLiveSpidrGateway({ API_KEYS: apiKeysEnv([READER]) }, async (gateway) => {
      expectProblem(await call('GET', `${gateway.url}/v1/providers`), 401, 'UNAUTHENTICATED');
      const res = await call('GET', `${gateway.url}/v1/providers`, {
        headers: keyHeader('Bearer', READER.secret),
      });
      expect(res.status).toBe(200);
      expect(gateway.output()).not.toContain(READER.secret);
    });
  }, 30_000);

  it('should turn auth off with a warning when every provider is on its sandbox and API_KEYS is unset', async () => {
    const gw = await startGateway({ RATE_LIMIT_PER_MINUTE: '0' });
    try {
      const res = await call('GET', `${gw.url}/v1/providers`);
      expect(res.status).toBe(200);
      expect(gw.logs.some((l) => l.level === 'warn' && /authentication is off/i.test(String(l.msg)))).toBe(
        true,
      );
    } finally {
      await gw.close();
    }
  });
});

describe('Swagger: the "Authorize" button', () => {
  const gw = useGateway({ API_KEYS: apiKeysEnv(KEYS), RATE_LIMIT_PER_MINUTE: '0' });

  it('should declare the apiKey (X-API-Key) and bearer security schemes, served without a key', async () => {
    const doc = await call('GET', `${gw.url}/docs-json`);
    expect(doc.status).toBe(200);
    expect(doc.body.components.securitySchemes).toMatchObject({
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      bearer: { type: 'http', scheme: 'bearer' },
    });
  });

  it('should reference both schemes from every /v1 operation, and none from /health or /docs', async () => {
    const doc = await call('GET', `${gw.url}/docs-json`);
    const operations = Object.entries<any>(doc.body.paths).flatMap(([path, item]) =>
      Object.entries<any>(item)
        .filter(([method]) => ['get', 'put', 'post', 'patch', 'delete'].includes(method))
        .map(([method, op]) => ({ path, method, security: op.security ?? doc.body.security ?? [] })),
    );
    const v1 = operations.filter((o) => o.path.startsWith('/v1/'));
    expect(v1.map((o) => `${o.method} ${o.path}`).sort()).toEqual([
      'delete /v1/batches/{batchId}',
      'get /v1/accounts/{provider}/{accountId}/history',
      'get /v1/accounts/{provider}/{accountId}/status',
      'get /v1/batches/{batchId}',
      'get /v1/batches/{batchId}/items',
      'get /v1/changes/{changeId}',
      'get /v1/events',
      'get /v1/providers',
      'post /v1/batches',
      'put /v1/accounts/{provider}/{accountId}/status',
    ]);
    for (const op of v1) {
      expect({ op: `${op.method} ${op.path}`, security: op.security }).toEqual({
        op: `${op.method} ${op.path}`,
        security: expect.arrayContaining([{ apiKey: [] }, { bearer: [] }]),
      });
    }
    for (const op of operations.filter((o) => !o.path.startsWith('/v1/'))) expect(op.security).toEqual([]);
  });
});
