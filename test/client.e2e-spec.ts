/**
 * Issue 14: the typed client in clients/typescript is generated from the committed openapi.json (no drift) and is
 * enough to drive the gateway: a change on each provider, a dry run, a replay, history paging, reads, and documented
 * errors narrowed by their typed `code` — all without a cast, against the running app and its sandboxes.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  createStatusgateClient,
  isDryRun,
  type ErrorCode,
  type Problem,
  type StatusgateClient,
} from '../clients/typescript/index.js';
import { clientDocument, clientTypes } from '../src/scripts/client-types.js';
import { useGateway } from './support/gateway.js';
import { testApiKey } from './support/api-keys.js';

const WRITER = testApiKey('client-writer', 'client-writer-3f8a1c6e9b2d4705');
const STATUS = '/v1/accounts/{provider}/{accountId}/status' as const;
const HISTORY = '/v1/accounts/{provider}/{accountId}/history' as const;

/** The code of a problem, checked to be one the document lists (the type already says so). */
function codeOf(error: Problem | undefined): ErrorCode | undefined {
  return error?.code;
}

describe('Typed client (clients/typescript)', () => {
  const gw = useGateway({ API_KEYS: JSON.stringify([WRITER]) });
  let client: StatusgateClient;

  beforeAll(() => {
    client = createStatusgateClient({ baseUrl: gw.url, apiKey: WRITER.key });
  });

  it('should be generated from the committed openapi.json (run `npm run client` after `npm run openapi`)', async () => {
    const generated = await clientTypes(JSON.parse(readFileSync('openapi.json', 'utf8')));
    expect(generated).toBe(readFileSync('clients/typescript/schema.d.ts', 'utf8'));
  }, 60_000);

  it('should type every documented status of every operation, problems through the shared responses', () => {
    const source = JSON.parse(readFileSync('openapi.json', 'utf8'));
    const doc = clientDocument(source);
    for (const [path, operations] of Object.entries<any>(source.paths)) {
      for (const [method, operation] of Object.entries<any>(operations)) {
        const responses = doc.paths[path][method].responses!;
        expect(Object.keys(responses)).toEqual(Object.keys(operation.responses));
        for (const [status, response] of Object.entries<any>(operation.responses)) {
          const typed: any = responses[status];
          const shared = typed.$ref ? doc.components.responses![typed.$ref.split('/').pop()] : typed;
          expect({ status, headers: Object.keys(shared.headers ?? {}).sort() }).toEqual({
            status,
            headers: Object.keys(response.headers ?? {}).sort(),
          });
          for (const [type, media] of Object.entries<any>(response.content ?? {})) {
            expect(shared.content[type].schema).toEqual(media.schema);
          }
        }
      }
    }
  });

  it('should change a status at each provider', async () => {
    const spidr = await client.PUT(STATUS, {
      params: { path: { provider: 'spidr', accountId: 'cl-spidr-1' } },
      body: { status: 'SUSPENDED', reason: 'FRAUD' },
    });
    expect(spidr.data).toMatchObject({ outcome: 'APPLIED', providerStatus: 'suspended' });
    const canopy = await client.PUT(STATUS, {
      params: { path: { provider: 'canopy', accountId: 'cl-canopy-1' } },
      body: { status: 'SUSPENDED', reason: 'FRAUD' },
    });
    expect(canopy.data).toMatchObject({ providerStatus: { status: 'SUSPENDED', substatus: 'FRAUD' } });
    const pismo = await client.PUT(STATUS, {
      params: { path: { provider: 'pismo', accountId: 'cl-pismo-1' } },
      body: { status: 'SUSPENDED', reason: 'FRAUD', providerOptions: { reasonExternalId: 'CREDIT_ONLY' } },
    });
    expect(pismo.data).toMatchObject({ outcome: 'APPLIED', providerStatus: 'BLOCKED' });
    const cleargrid = await client.PUT(STATUS, {
      params: { path: { provider: 'cleargrid', accountId: 'cl-cg-1' } },
      body: { status: 'DISPUTED', customerId: 'customer_001' },
    });
    expect(cleargrid.response.status).toBe(202);
    expect(cleargrid.data).toMatchObject({ outcome: 'ACCEPTED', providerStatus: 5 });
  });

  it('should show a dry run, narrowed from the change answer', async () => {
    const { data } = await client.PUT(STATUS, {
      params: { path: { provider: 'spidr', accountId: 'cl-dry-1' }, query: { dryRun: 'true' } },
      body: { status: 'ACTIVE' },
    });
    if (!data || !isDryRun(data)) throw new Error(`expected a dry run, got ${JSON.stringify(data)}`);
    expect(data.providerRequest.method).toBe('PATCH');
    expect(data.providerRequest.body).toEqual({ status: 'active' });
  });

  it('should replay an idempotent change', async () => {
    const request = {
      params: {
        path: { provider: 'spidr' as const, accountId: 'cl-replay-1' },
        header: { 'Idempotency-Key': 'cl-k-1' },
      },
      body: { status: 'SUSPENDED' as const },
    };
    const first = await client.PUT(STATUS, request);
    const again = await client.PUT(STATUS, request);
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');
    expect(again.data).toEqual(first.data);
  });

  it('should read the status, the providers and the history page by page', async () => {
    for (const status of ['SUSPENDED', 'ACTIVE', 'SUSPENDED'] as const) {
      await client.PUT(STATUS, {
        params: { path: { provider: 'spidr', accountId: 'cl-hist-1' } },
        body: { status },
      });
    }
    const read = await client.GET(STATUS, {
      params: { path: { provider: 'spidr', accountId: 'cl-hist-1' } },
    });
    expect(read.data).toMatchObject({ status: 'SUSPENDED', source: 'provider' });
    const providers = await client.GET('/v1/providers');
    expect(providers.data?.items.map((p) => p.id).sort()).toEqual(['canopy', 'cleargrid', 'pismo', 'spidr']);
    const statuses: Array<string | null> = [];
    let cursor: string | undefined;
    do {
      const { data } = await client.GET(HISTORY, {
        params: { path: { provider: 'spidr', accountId: 'cl-hist-1' }, query: { limit: 2, cursor } },
      });
      statuses.push(...(data?.items ?? []).map((item) => item.status));
      cursor = data?.nextCursor ?? undefined;
    } while (cursor);
    expect(statuses).toEqual(['SUSPENDED', 'ACTIVE', 'SUSPENDED']);
  });

  it('should narrow documented errors by their typed code', async () => {
    const unsupported = await client.PUT(STATUS, {
      params: { path: { provider: 'pismo', accountId: 'cl-err-1' } },
      body: { status: 'DISPUTED' },
    });
    if (unsupported.error?.code !== 'STATUS_NOT_SUPPORTED') throw new Error('expected STATUS_NOT_SUPPORTED');
    expect(unsupported.error.supportedStatuses).toContain('SUSPENDED');

    const missing = await client.GET(STATUS, {
      params: { path: { provider: 'spidr', accountId: 'NOTFOUND-1' } },
    });
    expect(codeOf(missing.error)).toBe('ACCOUNT_NOT_FOUND');
    expect(missing.error?.provider?.id).toBe('spidr');

    const invalid = await client.GET(HISTORY, {
      params: { path: { provider: 'spidr', accountId: 'cl-err-1' }, query: { limit: 0 } },
    });
    if (invalid.error?.code !== 'VALIDATION_FAILED') throw new Error('expected VALIDATION_FAILED');
    expect(invalid.error.errors?.[0]?.field).toBe('limit');

    const stranger = createStatusgateClient({ baseUrl: gw.url, apiKey: 'not-a-known-key-000000' });
    const refused = await stranger.GET('/v1/providers');
    expect(codeOf(refused.error)).toBe('UNAUTHENTICATED');

    const key = { 'Idempotency-Key': 'cl-k-reused' };
    await client.PUT(STATUS, {
      params: { path: { provider: 'spidr', accountId: 'cl-err-2' }, header: key },
      body: { status: 'SUSPENDED' },
    });
    const reused = await client.PUT(STATUS, {
      params: { path: { provider: 'spidr', accountId: 'cl-err-2' }, header: key },
      body: { status: 'ACTIVE' },
    });
    expect(codeOf(reused.error)).toBe('IDEMPOTENCY_KEY_REUSED');
  });
  it("should compile the README's client example as written (tsc, strict)", async () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## Calling it from a service'));
    const snippet = /```ts\n([\s\S]*?)\n```/.exec(section)?.[1];
    expect(snippet).toContain('createStatusgateClient');
    // Its `return`s are a caller's function body: wrapped in one, with the import moved to the top.
    const [importLine, ...body] = snippet!.split('\n');
    const dir = join('test', 'artifacts', 'readme-client');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'snippet.ts'),
      `${importLine.replace('./clients/', '../../../clients/')}\n` +
        `export async function snippet(): Promise<unknown> {\n${body.join('\n')}\n  return undefined;\n}\n`,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../../tsconfig.json',
        compilerOptions: { rootDir: '../../..', noEmit: true },
        include: ['snippet.ts'],
        exclude: [],
      }),
    );
    const tsc = join('node_modules', '.bin', 'tsc');
    const result = await promisify(execFile)(tsc, ['-p', join(dir, 'tsconfig.json')], {
      timeout: 120_000,
    }).then(
      () => 'compiled',
      (error: Error & { stdout?: string }) => error.stdout ?? error.message,
    );
    expect(result).toBe('compiled');
  }, 150_000);
});
