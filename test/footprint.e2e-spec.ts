/**
 * The gateway loads only what its configuration uses (issue 18, memory and start-up): the PostgreSQL
 * driver only on PostgreSQL, a provider's sandbox only when that provider runs on it. Each case builds the
 * whole app from the compiled dist/ in a fresh node process that records every module it resolves. And the
 * bundle that ships starts from V8's compile cache instead of compiling itself again on every start.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RECORD_MODULES = `
import { registerHooks } from 'node:module';
import { Writable } from 'node:stream';
const resolved = [];
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); resolved.push(r.url); return r; } });
const { createApp } = await import('./dist/app.factory.js');
const { loadConfig } = await import('./dist/runtime/config.js');
const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
const { app } = await createApp(loadConfig(process.env), { logDestination: quiet });
await app.close();
process.stdout.write(JSON.stringify(resolved));
`;

function modulesLoadedWith(env: Record<string, string>): string[] {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', RECORD_MODULES], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.status !== 0) throw new Error(`app did not build: ${result.stderr}`);
  return JSON.parse(result.stdout) as string[];
}

/** A loopback port nobody listens on right now (the gateway under test binds it next). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const usesPg = (urls: string[]) => urls.some((u) => u.includes('/node_modules/pg/'));
const sandboxes = (urls: string[]) =>
  urls.filter((u) => /\/dist\/providers\/\w+\/\w+\.sandbox\.js$/.test(u)).map((u) => u.split('/').at(-1));

describe('What the gateway loads', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'statusgate-footprint-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** A new SQLite file named `name`, Spidr live (at a closed port: nothing is sent), and `env`. */
  const onSqlite = (name: string, env: Record<string, string>) => ({
    DATABASE_URL: `sqlite:${join(dir, `${name}.sqlite`)}`,
    ...env,
    SPIDR_BASE_URL: 'http://127.0.0.1:9',
    SPIDR_API_KEY: 'live-key-000000000000',
    AUTH_DISABLED: 'true',
  });

  it('should load neither the PostgreSQL driver nor any sandbox on SQLite with live providers only', () => {
    const urls = modulesLoadedWith(onSqlite('live', { SANDBOX: 'false' }));
    expect(urls.some((u) => u.endsWith('/dist/app.module.js'))).toBe(true); // the recording works
    expect(usesPg(urls)).toBe(false);
    expect(sandboxes(urls)).toEqual([]);
    // No route carries a Fastify schema, so Fastify's schema compilers (ajv, fast-json-stringify's) stay out.
    expect(urls.filter((u) => /\/node_modules\/(ajv|@fastify\/ajv-compiler)\//.test(u))).toEqual([]);
  }, 60_000);

  it('should load the sandbox of each provider that runs on it, and only those', () => {
    const urls = modulesLoadedWith(onSqlite('sandbox', { SANDBOX: 'true' }));
    expect(sandboxes(urls).sort()).toEqual(['canopy.sandbox.js', 'cleargrid.sandbox.js', 'pismo.sandbox.js']);
    expect(usesPg(urls)).toBe(false);
  }, 60_000);
});

describe('The bundle (dist/bundle/main.mjs)', () => {
  it('should start from the compile cache it wrote beside itself on an earlier start', () => {
    const start = () =>
      spawnSync(process.execPath, ['dist/bundle/main.mjs', '--version'], {
        env: { PATH: process.env.PATH ?? '', NODE_DEBUG_NATIVE: 'COMPILE_CACHE' },
        encoding: 'utf8',
        timeout: 60_000,
      });
    const first = start(); // writes the cache if this build has none yet
    expect(first.status).toBe(0);
    const second = start();
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/^statusgate \d+\.\d+\.\d+/);
    // Node's own trace of the compile cache: the bundle's code came from the cache, not the compiler.
    expect(second.stderr).toMatch(
      /V8 code cache for ESM file:\/\/\S+\/dist\/bundle\/gateway\.mjs was accepted/,
    );
  }, 120_000);

  // ES module facades of node:http (and reads of globals like FormData) load undici, zlib and web streams,
  // about 14 MB the gateway never uses; src/scripts/bundle.ts keeps the bundle from touching them.
  it("should serve without loading Node's fetch (undici) or web streams", async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'statusgate-footprint-'));
    const readyThenList = `
      await import('./dist/bundle/main.mjs');
      const http = process.getBuiltinModule('node:http');
      const ready = () => new Promise((resolve) => http.get({ host: '127.0.0.1', port: process.env.PORT, path: '/health/ready' },
        (r) => { r.resume(); resolve(r.statusCode === 200); }).on('error', () => resolve(false)));
      while (!(await ready())) await new Promise((r) => setTimeout(r, 20));
      process.stdout.write(JSON.stringify(process.moduleLoadList));
      process.exit(0);
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', readyThenList], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dir, 'audit.sqlite')}`,
        SPIDR_BASE_URL: 'http://127.0.0.1:9',
        SPIDR_API_KEY: 'footprint-key-0000000000',
        API_KEYS: JSON.stringify([{ id: 'footprint', sha256: 'a'.repeat(64), scopes: ['status:write'] }]),
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    rmSync(dir, { recursive: true, force: true });
    expect(result.stderr).toBe('');
    const builtins = JSON.parse(result.stdout) as string[];
    expect(builtins).toContain('NativeModule internal/http'); // the list is the real one
    expect(builtins.filter((m) => /undici|webstreams/.test(m))).toEqual([]);
  }, 120_000);

  it('should leave out what class-validator and axios would load but never use here', () => {
    const bundle = readFileSync('dist/bundle/gateway.mjs', 'utf8');
    expect(bundle).toContain('ValidationPipe'); // the file is the real bundle
    expect(bundle).not.toContain('argument not passed'); // libphonenumber-js's own error messages
    expect(bundle).not.toContain('Redirected request failed'); // follow-redirects, of axios's http adapter
  });
});
