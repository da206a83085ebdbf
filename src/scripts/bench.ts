/**
 * `npm run bench` (not part of `npm test`): the gateway's own cost on the hot path, measured in one run.
 *
 * Processes: a provider stub answering at once, a minimal node:http forwarder (the floor for any Node
 * proxy), and the gateway (dist/main.js, Spidr live at the stub, idempotency keys on, audit on SQLite,
 * then on PostgreSQL when TEST_DATABASE_URL/the default test database answers). This process is the load
 * generator: node:http with keep-alive sockets and hrtime timers (microsecond resolution).
 *   - fixed rate (BENCH_RATE, default 1000 req/s, BENCH_SECONDS each, after a warm-up): p50/p90/p99;
 *   - saturation (BENCH_CONNECTIONS, default 50, closed loop): requests per second;
 *   - the gateway's resident memory idle and after the run, and its start time to a ready /health/ready.
 * Prints one table and writes bench/results/latest.json.
 */
import { megabytes, sampleWal } from './wal-size.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  CONNECTIONS,
  RATE,
  SECONDS,
  WARMUP_SECONDS,
  fixedRate,
  saturate,
  sleep,
  type Figures,
  type Target,
} from './bench-load.js';
import { waitForOutput } from './child-output.js';

const BENCH_KEY = 'bench-caller-key-0123456789';
/** BENCH_ENGINES=sqlite skips PostgreSQL (e.g. while profiling). */
const ENGINES = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',');
const PG_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://statusgate:statusgate@127.0.0.1:5432/statusgate_test';

async function startProcess(
  args: string[],
  env: Record<string, string>,
  readyPattern: RegExp,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const match = await waitForOutput(child, readyPattern, args.join(' '));
  return { child, port: Number(match[1]) };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
}

/** Starts the gateway and measures spawn → first 200 from /health/ready. */
async function startGateway(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; port: number; startMs: number }> {
  // Below Linux's ephemeral range (32768–60999): there the load's own outgoing sockets may already hold it.
  const port = 20000 + Math.floor(Math.random() * 12000);
  const t0 = process.hrtime.bigint();
  // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=bench/profiles" profiles the gateway under load.
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...deployedNodeArgs(), ...extra, 'dist/main.js'], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (;;) {
    if (child.exitCode !== null) throw new Error('gateway exited during start');
    const ok = await new Promise<boolean>((resolve) => {
      const request = http.get({ host: '127.0.0.1', port, path: '/health/ready' }, (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      });
      request.on('error', () => resolve(false));
    });
    if (ok) return { child, port, startMs: Number(process.hrtime.bigint() - t0) / 1e6 };
    await sleep(5);
  }
}

/** The node flags the gateway is deployed with: those of `npm start` (the image's CMD has the same). */
function deployedNodeArgs(): string[] {
  const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts
    .start;
  const words = start.split(/\s+/);
  return words.slice(words.indexOf('node') + 1, words.indexOf('dist/main.js'));
}

async function freshPostgresSchema(): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
  } catch {
    return undefined;
  }
  const schema = `bench_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  await client.query(`create schema ${schema}`);
  await client.end();
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

const fmt = (n: number | undefined, digits = 2) =>
  n === undefined || Number.isNaN(n) ? '—' : n.toFixed(digits);

async function main(): Promise<void> {
  const stub = await startProcess(['dist/scripts/bench-servers.js', 'stub', '0'], {}, /listening (\d+)/);
  const stubUrl = `http://127.0.0.1:${stub.port}`;
  const forwarder = await startProcess(
    ['dist/scripts/bench-servers.js', 'forwarder', '0', stubUrl],
    {},
    /listening (\d+)/,
  );

  const providerPath = (i: number) => `/v1/account/bench-${i}`;
  const providerBody = JSON.stringify({ status: 'suspended' });
  const direct: Target = {
    name: 'stub, direct',
    port: stub.port,
    pid: stub.child.pid,
    request: (i) => ({
      method: 'PATCH',
      path: providerPath(i),
      headers: { 'content-type': 'application/json' },
      body: providerBody,
    }),
  };
  const forwarded: Target = {
    ...direct,
    name: 'node:http forwarder',
    port: forwarder.port,
    pid: forwarder.child.pid,
  };
  const gatewayTarget = (name: string, port: number, pid: number, run: string): Target => ({
    name,
    port,
    pid,
    request: (i) => ({
      method: 'PUT',
      path: `/v1/accounts/spidr/bench-${run}-${i}/status`,
      headers: {
        'content-type': 'application/json',
        'idempotency-key': `${run}-${i}`,
        'x-api-key': BENCH_KEY,
      },
      body: JSON.stringify({ status: 'SUSPENDED', reason: 'FRAUD' }),
    }),
  });

  const results: Record<string, unknown> = {};
  const rows: Array<[string, Figures, Figures]> = [];
  const measure = async (target: Target): Promise<[Figures, Figures]> => {
    await fixedRate(target, WARMUP_SECONDS, 1_000_000);
    const rate = await fixedRate(target, SECONDS, 2_000_000);
    const sat = await saturate(target, SECONDS, 3_000_000);
    rows.push([target.name, rate, sat]);
    return [rate, sat];
  };
  const [directRate, directSat] = await measure(direct);
  const [, forwarderSat] = await measure(forwarded);
  results.direct = { fixedRate: directRate, saturation: directSat };
  results.forwarder = { fixedRate: rows[1][1], saturation: forwarderSat };

  const gatewayEnv = {
    // As deployed (the image sets it): no built-in sandboxes for the providers without a base URL.
    NODE_ENV: 'production',
    SPIDR_BASE_URL: stubUrl,
    SPIDR_API_KEY: 'bench-key-000000000000',
    // Callers authenticate as in production: one key, stored as its SHA-256.
    API_KEYS: JSON.stringify([
      { id: 'bench', sha256: createHash('sha256').update(BENCH_KEY).digest('hex'), scopes: ['status:write'] },
    ]),
    LOG_LEVEL: 'info',
    // The benchmark measures the gateway's cost, not its abuse limit (6,000/min by default).
    RATE_LIMIT_PER_MINUTE: '0',
  };
  const engines: Array<{ engine: string; url: string; cleanup(): Promise<void> }> = [];
  const sqliteFile = join(tmpdir(), `statusgate-bench-${randomUUID()}.sqlite`);
  engines.push({
    engine: 'sqlite',
    url: `sqlite:${sqliteFile}`,
    cleanup: () => Promise.resolve(rmSync(sqliteFile, { force: true })),
  });
  const postgres = ENGINES.includes('postgres') ? await freshPostgresSchema() : undefined;
  if (postgres) engines.push({ engine: 'postgres', url: postgres.url, cleanup: () => postgres.drop() });
  else process.stdout.write(`PostgreSQL at ${PG_URL} not reachable: gateway measured on SQLite only\n`);

  const gateways: Record<string, unknown> = {};
  let walLargest: number | undefined;
  for (const { engine, url, cleanup } of engines) {
    // Start time: the median of three starts on the migrated store.
    const starts: number[] = [];
    for (let k = 0; k < 3; k++) {
      const g = await startGateway({ ...gatewayEnv, DATABASE_URL: url });
      starts.push(g.startMs);
      await stop(g.child);
    }
    const gateway = await startGateway({ ...gatewayEnv, DATABASE_URL: url });
    const wal = engine === 'sqlite' ? sampleWal(sqliteFile) : undefined;
    await sleep(500);
    const idleRss = rssMb(gateway.child.pid!);
    const [rate, sat] = await measure(
      gatewayTarget(`gateway (${engine})`, gateway.port, gateway.child.pid!, `${engine}-${Date.now()}`),
    );
    const afterRss = rssMb(gateway.child.pid!);
    if (wal) walLargest = wal.stop();
    await stop(gateway.child);
    await cleanup();
    const startMs = starts.sort((a, b) => a - b)[1];
    gateways[engine] = {
      fixedRate: rate,
      saturation: sat,
      addedLatencyMs: {
        p50: rate.p50 - directRate.p50,
        p90: rate.p90 - directRate.p90,
        p99: rate.p99 - directRate.p99,
      },
      throughputVsForwarder: (sat.rps ?? 0) / (forwarderSat.rps ?? 1),
      rssMb: { idle: idleRss, afterRun: afterRss },
      startToReadyMs: { median: startMs, runs: starts },
    };
  }
  results.gateway = gateways;
  await stop(stub.child);
  await stop(forwarder.child);

  const header = `| target | p50 ms | p90 ms | p99 ms | CPU µs/req at ${RATE}/s | errors | req/s at ${CONNECTIONS} conns | CPU µs/req at ${CONNECTIONS} conns |`;
  const lines = [
    `statusgate benchmark — ${new Date().toISOString()}, ${cpus().length} cores, node ${process.version}`,
    `fixed rate ${RATE} req/s for ${SECONDS} s (after ${WARMUP_SECONDS} s warm-up); saturation ${CONNECTIONS} connections for ${SECONDS} s`,
    '',
    header,
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      ([name, r, s]) =>
        `| ${name} | ${fmt(r.p50, 3)} | ${fmt(r.p90, 3)} | ${fmt(r.p99, 3)} | ${fmt(r.cpuUsPerRequest, 0)} | ${r.errors + s.errors} | ${fmt(s.rps, 0)} | ${fmt(s.cpuUsPerRequest, 0)} |`,
    ),
    '',
    '| gateway | added p50 ms | added p99 ms | throughput vs forwarder | RSS idle MB | RSS after MB | start to ready ms |',
    '|---|---|---|---|---|---|---|',
    ...Object.entries(gateways).map(([engine, g]) => {
      const x = g as {
        addedLatencyMs: { p50: number; p99: number };
        throughputVsForwarder: number;
        rssMb: { idle: number; afterRun: number };
        startToReadyMs: { median: number };
      };
      return `| ${engine} | ${fmt(x.addedLatencyMs.p50, 3)} | ${fmt(x.addedLatencyMs.p99, 3)} | ${fmt(x.throughputVsForwarder * 100, 0)} % | ${fmt(x.rssMb.idle, 0)} | ${fmt(x.rssMb.afterRun, 0)} | ${fmt(x.startToReadyMs.median, 0)} |`;
    }),
  ];
  if (walLargest !== undefined) lines.push('', `largest SQLite WAL during the run: ${megabytes(walLargest)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/latest.json',
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, cores: cpus().length, rate: RATE, seconds: SECONDS, connections: CONNECTIONS, ...results }, null, 2)}\n`,
  );
}

await main();
