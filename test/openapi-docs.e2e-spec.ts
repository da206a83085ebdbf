/**
 * Issue 6 item 6: the OpenAPI document served at /docs-json is usable by a person. Walks every operation:
 * summary and description; examples on path parameters and the change body (each body example is one the
 * gateway accepts); every 4xx/5xx documented as application/problem+json with named examples whose `code` is a
 * real code of that HTTP status; successful answers with examples (APPLIED, ACCEPTED, dryRun). Then checks that
 * each /v1 operation documents the errors it can produce: a required list from CONTRACT.md section 4, and the
 * errors the running gateway really answers when provoked (against the sandboxes), each of which must be
 * documented with an example of the same shape.
 */
import { ERROR_CATALOG, type ErrorCode } from '../src/domain/index.js';
import { call, startGateway, type JsonResponse, type TestGateway } from './support/gateway.js';
import { testApiKey } from './support/api-keys.js';

const PROBLEM = 'application/problem+json';
const METHODS = ['get', 'put', 'post', 'patch', 'delete'];
const CHANGE = 'PUT /v1/accounts/{provider}/{accountId}/status';
const READ = 'GET /v1/accounts/{provider}/{accountId}/status';
const HISTORY = 'GET /v1/accounts/{provider}/{accountId}/history';
const PROVIDERS = 'GET /v1/providers';
const V1_OPERATIONS = [CHANGE, READ, HISTORY, PROVIDERS];

const FULL = testApiKey('docs-full', 'docs-full-5c2e8a917b3d4f60');
const READER = testApiKey('docs-reader', 'docs-reader-0a7f3c9e1d5b2468', ['status:read']);
const WRITER = testApiKey('docs-writer', 'docs-writer-8e1b6d4a2c9f7053', ['status:write']);
const API_KEYS = JSON.stringify([FULL, READER, WRITER]);

/** Errors each /v1 operation must document whatever the code does today (CONTRACT.md sections 1, 3, 4). */
const PROVIDER_FAILURES: ErrorCode[] = [
  'RATE_LIMITED',
  'PROVIDER_AUTH_FAILED',
  'PROVIDER_ERROR',
  'PROVIDER_UNAVAILABLE',
  'PROVIDER_TIMEOUT',
];
const ANY_V1: ErrorCode[] = ['UNAUTHENTICATED', 'FORBIDDEN', 'RATE_LIMITED', 'INTERNAL'];
const ACCOUNT_ROUTE: ErrorCode[] = [...ANY_V1, 'VALIDATION_FAILED', 'PROVIDER_NOT_FOUND'];
const REQUIRED: Record<string, ErrorCode[]> = {
  [CHANGE]: [
    ...ACCOUNT_ROUTE,
    'ACCOUNT_NOT_FOUND',
    'STATUS_NOT_SUPPORTED',
    'ACCOUNT_CLOSED',
    'INVALID_TRANSITION',
    'PROVIDER_REJECTED',
    'IDEMPOTENCY_KEY_REUSED',
    'IDEMPOTENCY_IN_PROGRESS',
    ...PROVIDER_FAILURES,
  ],
  [READ]: [...ACCOUNT_ROUTE, 'ACCOUNT_NOT_FOUND', ...PROVIDER_FAILURES],
  [HISTORY]: ACCOUNT_ROUTE,
  [PROVIDERS]: ANY_V1,
};

interface Operation {
  name: string;
  path: string;
  op: any;
}

interface Example {
  summary?: string;
  value: any;
}

function operationsOf(doc: any): Operation[] {
  return Object.entries<any>(doc.paths).flatMap(([path, item]) =>
    Object.entries<any>(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, op })),
  );
}

/** Named examples of a media type, plus a lone `example` under the name "example". */
function examplesOf(media: any): Example[] {
  if (!media) return [];
  const named = Object.values<any>(media.examples ?? {});
  return media.example === undefined ? named : [...named, { value: media.example }];
}

/** Every defect found, so one run lists them all instead of stopping at the first. */
function problemResponseDefects(operation: Operation): string[] {
  const defects: string[] = [];
  for (const [status, response] of Object.entries<any>(operation.op.responses)) {
    if (Number(status) < 400) continue;
    const where = `${operation.name} ${status}`;
    const media = response.content?.[PROBLEM];
    if (!media) {
      defects.push(`${where}: no ${PROBLEM} content`);
      continue;
    }
    if (media.schema?.$ref !== '#/components/schemas/ProblemDto')
      defects.push(`${where}: schema is not ProblemDto`);
    const examples = examplesOf(media);
    if (examples.length === 0) defects.push(`${where}: no example`);
    for (const { summary, value } of examples) {
      const entry = ERROR_CATALOG[value?.code as ErrorCode] as (typeof ERROR_CATALOG)[ErrorCode] | undefined;
      if (!entry) {
        defects.push(`${where}: example code ${String(value?.code)} is not an error code`);
        continue;
      }
      if (entry.status !== Number(status) || value.status !== Number(status)) {
        defects.push(`${where}: example ${value.code} has HTTP ${entry.status} (body says ${value.status})`);
      }
      if (value.type !== `urn:problem:${value.code}` || value.title !== entry.title) {
        defects.push(`${where}: example ${value.code} has type/title ${value.type}/${value.title}`);
      }
      if (value.retryable !== entry.retryable)
        defects.push(`${where}: example ${value.code} retryable is wrong`);
      if (typeof value.detail !== 'string' || typeof value.requestId !== 'string') {
        defects.push(`${where}: example ${value.code} lacks detail or requestId`);
      }
      if (!summary) defects.push(`${where}: example ${value.code} has no summary`);
      if (!String(response.description ?? '').includes(value.code)) {
        defects.push(`${where}: the description does not name ${value.code}`);
      }
    }
  }
  return defects;
}

function documentedCodes(operation: Operation): Map<ErrorCode, Example[]> {
  const codes = new Map<ErrorCode, Example[]>();
  for (const [status, response] of Object.entries<any>(operation.op.responses)) {
    if (Number(status) < 400) continue;
    for (const example of examplesOf(response.content?.[PROBLEM])) {
      const code = example.value?.code as ErrorCode;
      if (ERROR_CATALOG[code]?.status === Number(status))
        codes.set(code, [...(codes.get(code) ?? []), example]);
    }
  }
  return codes;
}

describe('OpenAPI document for people (/docs-json)', () => {
  let gw: TestGateway;
  let limited: TestGateway;
  let doc: any;
  let operations: Operation[];
  const byName = (name: string) => {
    const found = operations.find((o) => o.name === name);
    if (!found) throw new Error(`${name} is not in the document`);
    return found;
  };

  beforeAll(async () => {
    [gw, limited] = await Promise.all([
      startGateway({ API_KEYS, RATE_LIMIT_PER_MINUTE: '0' }),
      startGateway({ API_KEYS, RATE_LIMIT_PER_MINUTE: '1' }),
    ]);
    const served = await call('GET', `${gw.url}/docs-json`);
    expect(served.status).toBe(200);
    doc = served.body;
    operations = operationsOf(doc);
  });
  afterAll(async () => {
    await Promise.all([gw?.close(), limited?.close()]);
  });

  it('should list the four /v1 operations', () => {
    expect(operations.map((o) => o.name)).toEqual(expect.arrayContaining(V1_OPERATIONS));
  });

  it('should give every operation a summary and a description', () => {
    const missing = operations.flatMap((o) => [
      ...(String(o.op.summary ?? '').trim().length < 10 ? [`${o.name}: summary`] : []),
      ...(String(o.op.description ?? '').trim().length < 20 ? [`${o.name}: description`] : []),
    ]);
    expect(missing).toEqual([]);
  });

  it('should give every path parameter of every operation an example', () => {
    const missing = operations.flatMap((o) =>
      (o.op.parameters ?? [])
        .filter((p: any) => p.in === 'path' && p.example === undefined && p.schema?.example === undefined)
        .map((p: any) => `${o.name}: ${p.name}`),
    );
    expect(missing).toEqual([]);
    expect(operations.filter((o) => o.path.includes('{')).length).toBeGreaterThan(0);
  });

  it('should offer named change-body examples, each accepted by the gateway for some provider (dryRun)', async () => {
    const media = byName(CHANGE).op.requestBody?.content?.['application/json'];
    const named = Object.entries<any>(media?.examples ?? {});
    expect(named.length).toBeGreaterThanOrEqual(2);
    const refused: string[] = [];
    for (const [name, example] of named) {
      expect({ name, summary: typeof example.summary }).toEqual({ name, summary: 'string' });
      const answers: JsonResponse[] = [];
      for (const provider of ['spidr', 'canopy', 'pismo', 'cleargrid']) {
        answers.push(
          await call('PUT', `${gw.url}/v1/accounts/${provider}/docs-body-1/status?dryRun=true`, {
            body: example.value,
            headers: { 'x-api-key': FULL.key },
          }),
        );
      }
      if (!answers.some((a) => a.status === 200 && a.body?.dryRun === true)) {
        refused.push(`${name}: ${answers.map((a) => a.body?.code).join(', ')}`);
      }
    }
    expect(refused).toEqual([]);
  });

  it('should document every 4xx/5xx response as problem+json with examples of real codes of that status', () => {
    // /health/ready's 503 carries the readiness body (probes read it), not a problem: the one exception.
    const defects = operations.filter((o) => !o.path.startsWith('/health/')).flatMap(problemResponseDefects);
    expect(defects).toEqual([]);
  });

  it('should give every successful /v1 answer named examples (APPLIED 200, ACCEPTED 202, dryRun)', () => {
    const missing: string[] = [];
    for (const name of V1_OPERATIONS) {
      const responses = byName(name).op.responses;
      for (const status of Object.keys(responses).filter((s) => Number(s) < 300)) {
        const examples = examplesOf(responses[status].content?.['application/json']);
        if (examples.length === 0 || examples.some((e) => !e.summary)) missing.push(`${name} ${status}`);
      }
    }
    expect(missing).toEqual([]);
    const change = byName(CHANGE).op.responses;
    const ok = examplesOf(change['200'].content['application/json']).map((e) => e.value);
    expect(ok).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ outcome: 'APPLIED' }),
        expect.objectContaining({
          dryRun: true,
          providerRequest: expect.objectContaining({ method: 'PATCH' }),
        }),
      ]),
    );
    expect(ok.filter((v) => v.outcome !== undefined && v.outcome !== 'APPLIED')).toEqual([]);
    const accepted = examplesOf(change['202'].content['application/json']).map((e) => e.value);
    expect(accepted.length).toBeGreaterThan(0);
    for (const value of accepted) expect(value.outcome).toBe('ACCEPTED');
  });

  it.each(V1_OPERATIONS)('should document the errors CONTRACT.md gives %s', (name) => {
    const documented = documentedCodes(byName(name));
    expect(REQUIRED[name].filter((code) => !documented.has(code))).toEqual([]);
  });

  describe('errors the gateway really answers', () => {
    const url = (path: string) => `${gw.url}${path}`;
    const put = (path: string, body: unknown, headers: Record<string, string> = { 'x-api-key': FULL.key }) =>
      call('PUT', url(path), { body, headers });
    const get = (path: string, headers: Record<string, string> = { 'x-api-key': FULL.key }) =>
      call('GET', url(path), { headers });
    const SUSPEND = { status: 'SUSPENDED', reason: 'FRAUD' };
    /** A status change that provokes one documented answer. */
    const changeCase = (name: string, path: string, body: unknown) => ({
      name,
      operation: CHANGE,
      provoke: () => put(path, body),
    });

    const cases: Array<{ name: string; operation: string; provoke: () => Promise<JsonResponse> }> = [
      ...V1_OPERATIONS.flatMap((operation) => {
        const [method, path] = operation.split(' ') as [string, string];
        const concrete = path.replace('{provider}', 'spidr').replace('{accountId}', 'docs-acc-1');
        const send = (base: string, headers: Record<string, string>) =>
          call(method, `${base}${concrete}`, method === 'PUT' ? { body: SUSPEND, headers } : { headers });
        const weak = method === 'PUT' ? READER : WRITER;
        return [
          { name: 'no key', operation, provoke: () => send(gw.url, {}) },
          {
            name: 'key without the scope',
            operation,
            provoke: () => send(gw.url, { 'x-api-key': weak.key }),
          },
          {
            name: 'over the caller rate limit',
            operation,
            provoke: async () => {
              await send(limited.url, { 'x-api-key': FULL.key });
              return send(limited.url, { 'x-api-key': FULL.key });
            },
          },
        ];
      }),
      ...[CHANGE, READ, HISTORY].flatMap((operation) => {
        const [method, path] = operation.split(' ') as [string, string];
        const send = (provider: string, accountId: string) =>
          call(
            method,
            url(path.replace('{provider}', provider).replace('{accountId}', accountId)),
            method === 'PUT'
              ? { body: SUSPEND, headers: { 'x-api-key': FULL.key } }
              : { headers: { 'x-api-key': FULL.key } },
          );
        return [
          { name: 'bad accountId', operation, provoke: () => send('spidr', 'bad%20id') },
          { name: 'unknown provider', operation, provoke: () => send('acme', 'docs-acc-1') },
        ];
      }),
      {
        name: 'limit 0',
        operation: HISTORY,
        provoke: () => get('/v1/accounts/spidr/docs-acc-1/history?limit=0'),
      },
      {
        name: 'unknown account',
        operation: READ,
        provoke: () => get('/v1/accounts/spidr/NOTFOUND-1/status'),
      },
      {
        name: 'ClearGrid account with no recorded change',
        operation: READ,
        provoke: () => get('/v1/accounts/cleargrid/docs-acc-none/status'),
      },
      changeCase('bad body', '/v1/accounts/spidr/docs-acc-2/status', { status: 'FROZEN' }),
      {
        name: 'CLOSED without status:close',
        operation: CHANGE,
        provoke: () =>
          put('/v1/accounts/spidr/docs-acc-2/status', { status: 'CLOSED' }, { 'x-api-key': WRITER.key }),
      },
      changeCase('unsupported status', '/v1/accounts/spidr/docs-acc-2/status', { status: 'DISPUTED' }),
      changeCase('unknown account', '/v1/accounts/pismo/NOTFOUND-1/status', SUSPEND),
      changeCase('closed account', '/v1/accounts/spidr/CLOSED-1/status', SUSPEND),
      changeCase('refused transition', '/v1/accounts/pismo/TRANSITION-1/status', SUSPEND),
      changeCase("provider's own validation", '/v1/accounts/spidr/REJECT-1/status', SUSPEND),
      changeCase(
        "provider refuses the gateway's credentials",
        '/v1/accounts/spidr/AUTHEXPIRED-1/status',
        SUSPEND,
      ),
      {
        name: 'Idempotency-Key reused',
        operation: CHANGE,
        provoke: async () => {
          const headers = { 'x-api-key': FULL.key, 'idempotency-key': 'docs-idem-1' };
          await put('/v1/accounts/spidr/docs-acc-3/status', SUSPEND, headers);
          return put('/v1/accounts/spidr/docs-acc-3/status', { status: 'ACTIVE' }, headers);
        },
      },
    ];

    it.each(cases)(
      '$operation, $name: documented with an example of the same shape',
      async ({ operation, provoke }) => {
        const answer = await provoke();
        expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        const code = answer.body.code as ErrorCode;
        expect(ERROR_CATALOG[code]?.status).toBe(answer.status);
        const examples = documentedCodes(byName(operation)).get(code) ?? [];
        expect({ code, documented: examples.length > 0 }).toEqual({ code, documented: true });
        const shape = (body: object) => Object.keys(body).sort().join(',');
        expect(examples.map((e) => shape(e.value))).toContain(shape(answer.body));
      },
    );
  });
});
