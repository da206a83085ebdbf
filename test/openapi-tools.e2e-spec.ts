/**
 * Issue 14 item 1: the document served at /docs-json is one that integrators' tools accept as it is — Redocly's
 * recommended rules without an error or an unexplained warning, openapi-typescript and @hey-api/openapi-ts both
 * generating from the URL with no patching — and it describes what the service really answers (types, nulls,
 * headers, operation ids, the discriminated PUT answer). The tools run from node_modules; nothing goes to the network.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ERROR_CATALOG } from '../src/domain/index.js';
import { call, useGateway } from './support/gateway.js';

const run = promisify(execFile);
const SLOW = 120_000;
const QUIET = {
  ...process.env,
  REDOCLY_TELEMETRY: 'off',
  REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
  NO_COLOR: '1',
};

/** Runs a CLI from node_modules/.bin; resolves with its output whatever the exit code. */
async function tool(bin: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(join('node_modules', '.bin', bin), args, {
      env: QUIET,
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** `redocly lint` (recommended rules plus ./redocly.yaml) as JSON: every problem, errors and warnings. */
export async function redoclyProblems(
  file: string,
): Promise<Array<{ ruleId: string; severity: string; message: string }>> {
  const { out } = await tool('redocly', ['lint', file, '--format=json']);
  const start = out.indexOf('{');
  const report = JSON.parse(out.slice(start, out.lastIndexOf('}') + 1)) as {
    problems: Array<{
      ruleId: string;
      severity: string;
      message: string;
      location: Array<{ pointer: string }>;
    }>;
  };
  return report.problems.map((p) => ({
    ruleId: p.ruleId,
    severity: p.severity,
    message: `${p.message} at ${p.location[0]?.pointer ?? '?'}`,
  }));
}

describe('OpenAPI document for tools (/docs-json)', () => {
  const gw = useGateway();
  let doc: any;
  let work: string;

  beforeAll(async () => {
    doc = (await call('GET', `${gw.url}/docs-json`)).body;
    work = mkdtempSync(join(tmpdir(), 'statusgate-openapi-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const schema = (name: string): any => doc.components.schemas[name];
  const op = (method: string, path: string): any => doc.paths[path][method];
  const CHANGE = '/v1/accounts/{provider}/{accountId}/status';
  const HISTORY = '/v1/accounts/{provider}/{accountId}/history';

  it(
    'should pass redocly lint with its recommended rules: no error, no warning',
    async () => {
      expect(await redoclyProblems('openapi.json')).toEqual([]);
    },
    SLOW,
  );

  it(
    'should generate types with openapi-typescript from /docs-json, unpatched',
    async () => {
      const result = await tool('openapi-typescript', [
        `${gw.url}/docs-json`,
        '-o',
        join(work, 'schema.d.ts'),
      ]);
      expect(result).toMatchObject({ code: 0 });
      expect(readFileSync(join(work, 'schema.d.ts'), 'utf8')).toContain('changeAccountStatus');
    },
    SLOW,
  );

  it(
    'should generate a client with @hey-api/openapi-ts from /docs-json, unpatched',
    async () => {
      const result = await tool('openapi-ts', ['-i', `${gw.url}/docs-json`, '-o', join(work, 'hey'), '-s']);
      expect(result).toMatchObject({ code: 0 });
      expect(readFileSync(join(work, 'hey', 'sdk.gen.ts'), 'utf8')).toContain('changeAccountStatus');
    },
    SLOW,
  );

  it('should name every operation as a caller would by hand', () => {
    const ids = Object.values<any>(doc.paths).flatMap((item) =>
      Object.values<any>(item).map((o) => o.operationId),
    );
    // No generated Controller_method ids: a camelCase verb and a noun, as a caller would write them.
    expect(ids.filter((id) => !/^(get|list|change|create|cancel)[A-Z][A-Za-z]+$/.test(id))).toEqual([]);
    expect(ids.sort()).toEqual(
      [
        'changeAccountStatus',
        'getAccountStatus',
        'listAccountHistory',
        'listProviders',
        'getLiveness',
        'getReadiness',
        'getMetrics',
        'createBatch',
        'getBatch',
        'listBatchItems',
        'cancelBatch',
        'getChange',
        'listEvents',
      ].sort(),
    );
  });

  it('should type the history fields as the service answers them, nullable', () => {
    const item = schema('HistoryItemDto').properties;
    expect(item.note).toMatchObject({ type: 'string', nullable: true });
    expect(item.errorCode).toMatchObject({ type: 'string', nullable: true });
    expect(item.errorCode.enum).toEqual([...Object.keys(ERROR_CATALOG), null]);
    expect(item.providerHttpStatus).toMatchObject({ type: 'integer', nullable: true });
    expect(item.latencyMs).toMatchObject({ type: 'number', nullable: true });
  });

  it('should list null in every nullable enum', () => {
    const nullableEnums: string[] = [];
    const walk = (node: any, where: string): void => {
      if (!node || typeof node !== 'object') return;
      if (node.nullable === true && Array.isArray(node.enum) && !node.enum.includes(null))
        nullableEnums.push(where);
      for (const [key, child] of Object.entries(node)) walk(child, `${where}/${key}`);
    };
    walk(doc.components, '#/components');
    expect(nullableEnums).toEqual([]);
    expect(schema('AccountStatusDto').properties.status.enum).toContain(null);
  });

  it('should name a server, an opaque bearer key and no key for health and metrics', () => {
    expect(doc.servers.length).toBeGreaterThan(0);
    expect(doc.components.securitySchemes.bearer.bearerFormat).toBeUndefined();
    for (const path of ['/health/live', '/health/ready', '/metrics'])
      expect(op('get', path).security).toEqual([]);
  });

  it('should document the response headers and the Idempotency-Key and limit rules', () => {
    const put = op('put', CHANGE);
    expect(Object.keys(put.responses['200'].headers).sort()).toEqual(['Idempotent-Replayed', 'X-Request-Id']);
    expect(Object.keys(put.responses['202'].headers).sort()).toEqual([
      'Idempotent-Replayed',
      'Location',
      'X-Request-Id',
    ]);
    expect(put.responses['429'].headers).toHaveProperty('Retry-After');
    expect(put.responses['404'].headers).toHaveProperty('X-Request-Id');
    expect(put.responses['401'].headers).toHaveProperty('WWW-Authenticate');
    expect(op('get', '/v1/providers').responses['200'].headers).toHaveProperty('X-Request-Id');
    const key = put.parameters.find((p: any) => p.name === 'Idempotency-Key');
    expect(key.schema).toMatchObject({ type: 'string', minLength: 1, maxLength: 255 });
    const limit = op('get', HISTORY).parameters.find((p: any) => p.name === 'limit');
    expect(limit.schema.type).toBe('integer');
  });

  it('should enumerate the contract codes in ProblemDto.code', () => {
    expect(schema('ProblemDto').properties.code.enum).toEqual(Object.keys(ERROR_CATALOG));
  });

  it('should type providerStatus per provider and the dry run body', () => {
    const providerStatus = schema('ChangeStatusResponseDto').properties.providerStatus;
    expect(providerStatus.oneOf).toEqual([
      { type: 'string' },
      { type: 'integer' },
      { $ref: '#/components/schemas/CanopyProviderStatusDto' },
      { $ref: '#/components/schemas/SpidrProviderStatusDto' },
    ]);
    expect(schema('CanopyProviderStatusDto').required).toEqual(['status', 'substatus']);
    expect(schema('ProviderRequestDto').properties.body.type).toBe('object');
  });

  it('should answer PUT 200 with a union a caller can narrow: dryRun: true only on a dry run', () => {
    const media = op('put', CHANGE).responses['200'].content['application/json'];
    expect(media.schema.oneOf).toEqual([
      { $ref: '#/components/schemas/ChangeStatusResponseDto' },
      { $ref: '#/components/schemas/DryRunResponseDto' },
    ]);
    expect(schema('DryRunResponseDto').properties.dryRun).toMatchObject({ type: 'boolean', enum: [true] });
    expect(schema('DryRunResponseDto').required).toEqual(['dryRun', 'providerRequest']);
    expect(schema('ChangeStatusResponseDto').required).toContain('changeId');
    expect(schema('ChangeStatusResponseDto').properties.dryRun).toBeUndefined();
  });
});
