/**
 * Security fuzzing (issue 5, items 2 and 3): thousands of random and hostile paths, bodies and headers
 * against the real gateway over HTTP, every provider on its built-in sandbox (so no provider failure can
 * excuse a 5xx) and ordinary account ids (no magic prefixes). For every request:
 *   - never a 5xx;
 *   - every error the application answers is application/problem+json with type/title/status/code/requestId
 *     and no stack trace text; a request the HTTP parser itself refuses gets 400 or a closed connection;
 *   - the four sandboxes' call logs (read and emptied after every request) hold nothing but token calls and
 *     the one provider path the contract derives from the (decoded) path and the body:
 *       spidr     PATCH /v1/account/<enc id>                      (GET on the same path for reads)
 *       canopy    PUT   /accounts/<enc id>/status                 (GET /accounts/<enc id> for reads)
 *       pismo     PATCH /corporate/v2/corporate-accounts/<enc id>/status (GET /corporate/v1/… for reads)
 *       cleargrid POST  /admin/v3/lenders/<uuid>/accounts/update-status | /accounts, the id in the BODY
 *     and a 2xx change (or a provider's own refusal) called exactly that path.
 * Paths go out as-is through node:http `request({ path })`; what node:http refuses (spaces, CR/LF, control
 * characters, characters above U+00FF, bad header values) is written on a raw socket. fast-check prints
 * the failing input (seed and counterexample) when a property fails.
 */
import fc from 'fast-check';
import { startGateway, type TestGateway } from './support/gateway.js';
import { PROVIDERS, REASONS, STATUSES, enc } from './support/fuzz/contract.js';
import { rawTarget, stats, agent, send } from './support/fuzz/raw-http.js';
import { sandboxes, takeProviderCalls, fail, exercise } from './support/fuzz/oracle.js';
import {
  validId,
  edgeValidId,
  accountSegment,
  safeEncode,
  providerSegment,
  apiSegment,
  structuredBody,
  anyBody,
  contentType,
  printable,
  idempotencyKey,
  requestIdHeader,
  query,
  headersOf,
  ordinary,
  options,
} from './support/fuzz/generators.js';

let gw: TestGateway;

// ---------------------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------------------

describe('Security fuzzing: hostile paths, bodies and headers never steer a provider or break the gateway', () => {
  beforeAll(async () => {
    gw = await startGateway({ RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'warn', PISMO_AUTH: 's2s' });
    rawTarget.port = Number(new URL(gw.url).port);
    for (const p of PROVIDERS) sandboxes[p] = gw.providerUrl(p);
  });
  afterAll(async () => {
    console.log(`security fuzz: ${JSON.stringify(stats)}`);
    agent.destroy();
    await gw.close();
  });
  beforeEach(async () => {
    await takeProviderCalls();
  });

  it('deeply nested JSON within the 16 KiB limit gets 400 VALIDATION_FAILED, not 500', async () => {
    // Found by the PUT property: ValidationPipe's class-transformer (TransformOperationExecutor.transform)
    // recurses once per nesting level and overflows the stack ("RangeError: Maximum call stack size exceeded")
    // from about 1,300-3,000 levels, i.e. from ~3-6 KB of body: 500 INTERNAL for any caller with write scope.
    const nest = (d: number) => `${'['.repeat(d)}${']'.repeat(d)}`;
    const bodies = {
      note: `{"status":"ACTIVE","note":${nest(6000)}}`,
      status: `{"status":${nest(6000)}}`,
      topLevel: nest(8000),
      unknownField: `{"status":"ACTIVE","colour":${nest(6000)}}`,
      pismoMetadata: `{"status":"SUSPENDED","providerOptions":{"metadata":${'{"a":'.repeat(2600)}1${'}'.repeat(2600)}}}`,
    };
    const answers: Record<string, number> = {};
    for (const [name, body] of Object.entries(bodies)) {
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(16 * 1024);
      const provider = name === 'pismoMetadata' ? 'pismo' : 'spidr';
      const result = await send({
        method: 'PUT',
        path: `/v1/accounts/${provider}/deep-nesting-1/status`,
        headers: [['content-type', 'application/json']],
        body,
      });
      answers[name] = result.responses[0].status;
      await takeProviderCalls();
    }
    expect(answers).toEqual({ note: 400, status: 400, topLevel: 400, unknownField: 400, pismoMetadata: 400 });
  });

  it('malformed percent-encoding in the path gets a 400 problem+json, like every other error', async () => {
    // Found by the PUT property below: Fastify's router refuses these URLs itself (FST_ERR_BAD_URL) with its
    // own JSON, no X-Request-Id and none of the security headers; the contract wants problem+json.
    for (const path of [
      '/v1/accounts/spidr/%u002F/status',
      '/v1/accounts/spidr/%zz/status',
      '/v1/accounts/spidr/a%/status',
      '/v1/accounts/spidr/%C0%AE%C0%AE/status',
      '/v1/accounts/%ff/x/status',
    ]) {
      const result = await exercise({
        method: 'PUT',
        path,
        headers: [['content-type', 'application/json']],
        body: '{"status":"ACTIVE"}',
      });
      const answer = result.responses[0];
      expect({ path, status: answer.status, type: answer.headers['content-type'] }).toEqual({
        path,
        status: 400,
        type: expect.stringMatching(/^application\/problem\+json/),
      });
      expect(JSON.parse(answer.text)).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
      expect(answer.headers['x-request-id']).toBeDefined();
    }
  });

  it('a path parameter over 1024 characters gets 400 VALIDATION_FAILED naming accountId, not a bare 414', async () => {
    // Found by the PUT property: src/app.factory.ts sets maxParamLength 1024 "so over-long ids get
    // VALIDATION_FAILED naming the field, not a 414", but past 1024 Fastify's router still answers
    // 414 FST_ERR_MAX_PARAM_LENGTH with its own JSON (no problem+json, no X-Request-Id).
    for (const method of ['PUT', 'GET']) {
      const result = await exercise({
        method,
        path: `/v1/accounts/spidr/${'a'.repeat(1025)}/status`,
        headers: [['content-type', 'application/json']],
        body: method === 'PUT' ? '{"status":"ACTIVE"}' : undefined,
      });
      const answer = result.responses[0];
      expect({ method, status: answer.status, type: answer.headers['content-type'] }).toEqual({
        method,
        status: 400,
        type: expect.stringMatching(/^application\/problem\+json/),
      });
      expect(JSON.parse(answer.text)).toMatchObject({
        code: 'VALIDATION_FAILED',
        errors: [expect.objectContaining({ field: 'accountId' })],
      });
    }
  });

  it('refuses unknown fields named like Object.prototype members (top level and providerOptions)', async () => {
    // Found by the PUT property: the ValidationPipe's transform silently drops keys whose name is a function
    // on Object.prototype (class-transformer skips them) and `prototype`, so neither forbidNonWhitelisted nor
    // the providers' option checks see them: the change is applied instead of 400 naming the field.
    const bodies = [
      '{"status":"ACTIVE","toString":"x"}',
      '{"status":"ACTIVE","constructor":1}',
      '{"status":"ACTIVE","valueOf":{}}',
      '{"status":"ACTIVE","hasOwnProperty":true}',
      '{"status":"ACTIVE","providerOptions":{"toString":"active"}}',
      '{"status":"ACTIVE","providerOptions":{"constructor":false}}',
      '{"status":"ACTIVE","prototype":1}',
      '{"status":"ACTIVE","providerOptions":{"prototype":[]}}',
    ];
    const answers: Array<{ body: string; status: number; code?: string }> = [];
    for (const body of bodies) {
      const result = await exercise({
        method: 'PUT',
        path: '/v1/accounts/spidr/proto-keys-1/status?dryRun=true',
        headers: [['content-type', 'application/json']],
        body,
      });
      const answer = result.responses[0];
      answers.push({
        body,
        status: answer.status,
        code: (JSON.parse(answer.text) as { code?: string }).code,
      });
    }
    expect(answers).toEqual(bodies.map((body) => ({ body, status: 400, code: 'VALIDATION_FAILED' })));
  });

  it('a valid 128-character account id is applied at the path-based sandboxes', async () => {
    // Found by the valid-changes property: the sandboxes' Fastify keeps the default maxParamLength (100),
    // so ids of 101-128 characters (valid per the README) come back 414 → 422 PROVIDER_REJECTED, and the
    // 414 is not even in the sandbox call log (the router refuses before the logging hook).
    const id = `long-${'x'.repeat(123)}`;
    expect(id).toHaveLength(128);
    const outcomes: Record<string, number> = {};
    for (const provider of ['spidr', 'canopy'] as const) {
      const result = await exercise({
        method: 'PUT',
        path: `/v1/accounts/${provider}/${id}/status`,
        headers: [['content-type', 'application/json']],
        body: '{"status":"SUSPENDED","reason":"FRAUD"}',
      });
      outcomes[provider] = result.responses[0].status;
    }
    expect(outcomes).toEqual({ spidr: 200, canopy: 200 });
  });

  it('PUT status: random provider, account id, body, headers and query', async () => {
    await fc.assert(
      fc.asyncProperty(
        providerSegment,
        accountSegment,
        query,
        anyBody,
        contentType,
        idempotencyKey,
        requestIdHeader,
        async (provider, account, q, body, type, key, requestId) => {
          const path = `/v1/accounts/${provider}/${account}/status${q}`;
          fc.pre(ordinary(path, body));
          await exercise({
            method: 'PUT',
            path,
            headers: headersOf({
              contentType: body === undefined ? undefined : type,
              idempotencyKey: key,
              requestId,
            }),
            body,
          });
        },
      ),
      options(2200, 16),
    );
  }, 60_000);

  it('PUT status: valid changes for every provider call exactly the contract path (and dry runs show it)', async () => {
    const change = fc.record(
      {
        status: fc.constantFrom(...STATUSES),
        reason: fc.constantFrom(...REASONS),
        customerId: fc.oneof(validId, edgeValidId),
        note: fc.string({ maxLength: 60 }),
      },
      { requiredKeys: ['status'] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PROVIDERS),
        fc.oneof(validId, edgeValidId),
        change,
        fc.constantFrom('', '', '', '?dryRun=true', '?dryRun=false'),
        // Header values lose surrounding whitespace on the wire (RFC 9110 OWS), so a valid key has none.
        fc.option(
          printable(1, 40).filter((k) => k.trim() === k && k !== ''),
          { nil: undefined },
        ),
        async (provider, id, body, q, key) => {
          if (provider !== 'cleargrid') delete body.customerId;
          else body.customerId ??= 'customer_001';
          const text = JSON.stringify(body);
          const path = `/v1/accounts/${provider}/${enc(id)}/status${q}`;
          fc.pre(ordinary(path, text));
          const result = await exercise({
            method: 'PUT',
            path,
            headers: headersOf({ contentType: 'application/json', idempotencyKey: key }),
            body: text,
          });
          // A valid request is never refused as invalid: only the provider or the capability matrix may say no.
          const status = result.responses[0].status;
          // Pismo corporate external ids are at most 60 characters (pismo.wire.ts), refused before any call.
          if (status === 400 && !(provider === 'pismo' && id.length > 60))
            fail('a valid change was refused 400', { method: 'PUT', path, headers: [], body: text }, result);
        },
      ),
      options(600, 8),
    );
  }, 60_000);

  it('GET status and history: hostile ids, queries and headers', async () => {
    const historyQuery = fc.oneof(
      fc.constant(''),
      fc.constantFrom(
        '?limit=0',
        '?limit=101',
        '?limit=-1',
        '?limit=1e2',
        '?limit=0x10',
        '?limit=20.5',
        '?limit=NaN',
        '?limit=Infinity',
        '?limit=99999999999999999999',
        '?limit=',
        '?limit=1&limit=2',
        '?cursor=',
        '?cursor=c1.',
        '?cursor=c1.%00',
        '?cursor=c1.MDE5M2E4ZTctN2M0Yi03ZDJhLTlmMDAtMWEyYjNjNGQ1ZTZm',
        '?cursor=c1.JyBPUiAxPTE7LS0',
        "?cursor=' OR 1=1;--",
        `?cursor=${'c'.repeat(201)}`,
        '?cursor[]=x',
        '?__proto__[limit]=1',
        '?x=1',
      ),
      fc.string({ maxLength: 40 }).map((s) => `?cursor=${safeEncode(s) ?? s}`),
      fc.string({ maxLength: 40 }).map((s) => `?cursor=c1.${Buffer.from(s).toString('base64url')}`),
      fc.string({ maxLength: 8 }).map((s) => `?limit=${safeEncode(s) ?? s}`),
    );
    await fc.assert(
      fc.asyncProperty(
        providerSegment,
        accountSegment,
        fc.constantFrom('status', 'history'),
        historyQuery,
        requestIdHeader,
        fc.constantFrom('GET', 'HEAD'),
        async (provider, account, route, q, requestId, method) => {
          const path = `/v1/accounts/${provider}/${account}/${route}${q}`;
          fc.pre(ordinary(path));
          await exercise({ method, path, headers: headersOf({ requestId }) });
        },
      ),
      options(900, 7),
    );
  }, 60_000);

  it('raw request lines and headers that node:http refuses: 400 or a closed connection, no provider call', async () => {
    const rawFragment = fc.oneof(
      fc.constantFrom(
        ' ',
        '\t',
        '\r',
        '\n',
        '\r\n',
        '\u0000',
        '\u0001',
        '\u007f',
        '\u00e9',
        '\u2215',
        '\uff0f',
        '\u2024',
        '\u{1f600}',
        '\u0085',
        '\u00a0',
        ' HTTP/1.1\r\nX-Fuzz-Injected: 1\r\n\r\n',
        '\r\nX-Fuzz-Injected: 1\r\n',
        ' HTTP/1.0\r\n\r\n',
        '/../',
        '%2F',
      ),
      fc.string({
        unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
        minLength: 1,
        maxLength: 3,
      }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }),
    );
    const rawBytes = fc.constantFrom(
      Buffer.from([0xff, 0xfe]),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from([0xe2, 0x88]),
      Buffer.from([0x80]),
      Buffer.from([0x00]),
    );
    const hostilePath = fc
      .tuple(
        fc.constantFrom(...PROVIDERS),
        validId,
        fc.oneof(
          rawFragment.map((s) => Buffer.from(s, 'utf8')),
          rawBytes,
        ),
        validId,
        fc.constantFrom('status', 'history'),
      )
      .map(([p, before, bad, after, route]) =>
        Buffer.concat([Buffer.from(`/v1/accounts/${p}/${before}`), bad, Buffer.from(`${after}/${route}`)]),
      );
    const hostileHeaders = fc.oneof(
      fc.constant<Array<[string, string]>>([]),
      fc
        .tuple(
          fc.constantFrom('idempotency-key', 'x-request-id', 'content-type', 'x-api-key', 'authorization'),
          rawFragment,
        )
        .map(([name, bad]): Array<[string, string]> => [[name, `v${bad}v`]]),
      fc.constantFrom<Array<[string, string]>>(
        [
          ['Content-Length', '5'],
          ['Content-Length', '6'],
        ],
        [
          ['Transfer-Encoding', 'chunked'],
          ['Content-Length', '19'],
        ],
        [['Transfer-Encoding', 'chunked, identity']],
        [['Transfer-Encoding', 'gzip']],
        [['Content-Length', '-1']],
        [['Content-Length', '99999999999999999999']],
        [['Bad Header', 'x']],
        [['X-Request-Id:', 'x']],
        [['X-Request-Id', 'a\r\n folded continuation']],
        [[`X-Long`, 'h'.repeat(20_000)]],
        [['Host', 'evil.example']],
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostilePath,
          fc
            .constantFrom(...PROVIDERS)
            .chain((p) => validId.map((id) => `/v1/accounts/${p}/${enc(id)}/status`)),
        ),
        hostileHeaders,
        fc.constantFrom('PUT', 'GET'),
        fc.option(structuredBody, { nil: undefined }),
        async (path, headers, method, body) => {
          fc.pre(ordinary(typeof path === 'string' ? path : path.toString('latin1'), body));
          const result = await exercise({
            method,
            path: typeof path === 'string' ? Buffer.from(path) : path,
            headers: [['content-type', 'application/json'], ...headers],
            body: method === 'PUT' ? body : undefined,
          });
          for (const res of result.responses) {
            const forbiddenBytes = typeof path !== 'string' && path.some((b) => b < 0x21 || b > 0x7e);
            if (forbiddenBytes && res.status < 400) {
              fail(
                'a request line with raw forbidden bytes was answered with success',
                { method, path, headers, body },
                result,
              );
            }
          }
        },
      ),
      options(600, 7),
    );
  }, 60_000);

  it('random methods and paths anywhere in the API: no 5xx, problem+json errors, no stray provider call', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          'GET',
          'PUT',
          'POST',
          'PATCH',
          'DELETE',
          'OPTIONS',
          'HEAD',
          'PROPFIND',
          'TRACE',
          'CONNECT',
          'GETX',
          'get',
        ),
        fc.array(apiSegment, { minLength: 0, maxLength: 7 }),
        query,
        fc.option(anyBody, { nil: undefined }),
        async (method, segments, q, body) => {
          const path = `/${segments.join('/')}${q}`;
          fc.pre(ordinary(path, body));
          await exercise({
            method,
            path,
            headers: headersOf({ contentType: body === undefined ? undefined : 'application/json' }),
            body: method === 'GET' || method === 'HEAD' ? undefined : (body ?? undefined),
          });
        },
      ),
      options(600, 6),
    );
  }, 60_000);
});
