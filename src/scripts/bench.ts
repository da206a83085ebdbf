/**
 * `npm run bench` (not part of `npm test`): the gateway's own cost on the hot path, measured in one run.
 *
 * Processes: a provider stub answering at once, a minimal node:http forwarder (the floor for any Node
 * proxy), and the gateway (dist/main.js, Spidr live at the stub, idempotency keys on, audit on SQLite,
 * then on PostgreSQL when TEST_DATABASE_URL/the default test database answers). This process is the load
 * generator: node:http with keep-alive sockets and hrtime timers (microsecond resolution).
 *   - fixed rate (BENCH_RATE, default 1000 req/s, BENCH_SECONDS each, after a warm-up): p50/p90/p99;
 *   - saturation (BENCH_CONNECTIONS, default 50, closed loop): requests per second;
 *   - the gateway's resident memory idle and after the run, and its start time to a ready /health/ready;
 *   - the floor of a durable write: `write` + `fdatasync` of 4 KiB in the data directory (the SQLite
 *     file's), so the gateway's added latency is shown beside "forwarder + one durable commit" and a slow
 *     disk is told apart from a slow gateway;
 *   - the unbundled build (dist/main.js) started too: start time and idle memory beside the bundle's;
 *   - the disk-stall phases of bench-stall.ts: requests that write nothing, quiet / beside writes / beside
 *     a process hogging the data directory's disk.
 * The gateway runs as deployed: the node flags and file of `npm start` (the image's CMD).
 * Prints the tables, the issue-18 targets met or not, and writes bench/results/latest.json.
 * Over 300 lines because it is one run in order (phases, then one report from their figures); each phase is
 * a few lines over bench-lib.ts, and splitting the report from the phases would pass every figure twice.
 */
import { stallLines, stallPhases } from './bench-stall.js';
import { megabytes, sampleWal } from './wal-size.js';
import { randomUUID } from 'node:crypto';
import { closeSync, fdatasyncSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createScratchSchema, type ScratchSchema } from './scratch-schema.js';
import {
  CONNECTIONS,
  DEPLOYED,
  RATE,
  SECONDS,
  WARMUP_SECONDS,
  fixedRate,
  gatewayEnvironment,
  gatewayTarget,
  percentiles,
  postgresCpuMicros,
  rssMb,
  saturate,
  sleep,
  startGateway,
  startProcess,
  stop,
  type Figures,
  type Target,
} from './bench-lib.js';

/** BENCH_ENGINES=sqlite skips PostgreSQL (e.g. while profiling). */
const ENGINES = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',');
const PG_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://statusgate:statusgate@127.0.0.1:5432/statusgate_test';

/**
 * The disk's floor for one durable commit: `write` + `fdatasync` of 4 KiB (a page) at growing offsets of a
 * file in `dir`, as a WAL append does. Synchronous on purpose: nothing else runs in this process meanwhile.
 */
function diskFloor(
  dir: string,
  samples = 1000,
  maxSeconds = 10,
): { p50: number; p90: number; p99: number; samples: number } {
  const file = join(dir, `statusgate-bench-fsync-${randomUUID()}`);
  const page = Buffer.alloc(4096, 1);
  const micros: number[] = [];
  const fd = openSync(file, 'w');
  try {
    const deadline = Date.now() + maxSeconds * 1000;
    for (let i = 0; i < samples && Date.now() < deadline; i++) {
      const t0 = process.hrtime.bigint();
      writeSync(fd, page, 0, page.length, i * page.length);
      fdatasyncSync(fd);
      micros.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  return { ...percentiles(micros), samples: micros.length };
}

/** A schema of its own on PG_URL's server, or undefined when that server cannot be reached or used. */
async function freshPostgresSchema(): Promise<ScratchSchema | undefined> {
  try {
    return await createScratchSchema(PG_URL, 'bench', 2000);
  } catch (error) {
    process.stdout.write(`PostgreSQL at ${PG_URL}: ${(error as Error).message}\n`);
    return undefined;
  }
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

  const gatewayEnv = gatewayEnvironment(stubUrl);
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

  // The floor of one durable commit, on the disk of the data directory, just before the gateway runs.
  const disk = diskFloor(dirname(sqliteFile));
  results.diskFdatasync4KiB = disk;
  const forwarderRate = rows[1][1];
  // Negative differences (noise between two runs) count as 0: the floor is never below the disk alone.
  const forwarderAdded = {
    p50: Math.max(0, forwarderRate.p50 - directRate.p50),
    p99: Math.max(0, forwarderRate.p99 - directRate.p99),
  };
  const floor = { p50: forwarderAdded.p50 + disk.p50, p99: forwarderAdded.p99 + disk.p99 };
  results.floor = { forwarderAddedMs: forwarderAdded, forwarderPlusDurableCommitMs: floor };

  // The unbundled build (tsc output) beside the bundle that ships: start time and idle memory, on SQLite.
  const unbundled = { starts: [] as number[], idleRss: [] as number[] };
  if (DEPLOYED.entry !== 'dist/main.js') {
    for (let k = 0; k < 3; k++) {
      const g = await startGateway({ ...gatewayEnv, DATABASE_URL: engines[0].url }, 'dist/main.js');
      unbundled.starts.push(g.startMs);
      await sleep(500);
      unbundled.idleRss.push(rssMb(g.child.pid!));
      await stop(g.child);
    }
    results.unbundled = unbundled;
  }

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
    const target = gatewayTarget(
      `gateway (${engine})`,
      gateway.port,
      gateway.child.pid!,
      `${engine}-${Date.now()}`,
    );
    // PostgreSQL's own CPU per request beside the gateway's (its server runs on the same machine).
    if (engine === 'postgres') target.backendCpu = postgresCpuMicros(new URL(PG_URL).pathname.slice(1));
    const [rate, sat] = await measure(target);
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
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  results.gateway = gateways;
  // Does a disk stall delay requests that wait for no commit? (bench-stall.ts; SQLite only.)
  const stall = await stallPhases(stubUrl, dirname(sqliteFile));
  results.stall = stall;
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
  for (const [name, , s] of rows)
    if (s.backendCpuUsPerRequest !== undefined)
      lines.push(
        '',
        `${name} at ${CONNECTIONS} conns: PostgreSQL server CPU ${fmt(s.backendCpuUsPerRequest, 0)} µs/req beside the gateway's ${fmt(s.cpuUsPerRequest, 0)}`,
      );
  if (walLargest !== undefined) lines.push('', `largest SQLite WAL during the run: ${megabytes(walLargest)}`);
  type GatewayFigures = {
    fixedRate: Figures;
    saturation: Figures;
    addedLatencyMs: { p50: number; p99: number };
    throughputVsForwarder: number;
    rssMb: { idle: number; afterRun: number };
    startToReadyMs: { median: number };
  };
  lines.push(
    '',
    `disk floor (data directory ${dirname(sqliteFile)}): write + fdatasync of 4 KiB, ${disk.samples} samples: p50 ${fmt(disk.p50, 3)} ms, p99 ${fmt(disk.p99, 3)} ms`,
    `forwarder's added latency at ${RATE}/s: p50 ${fmt(forwarderAdded.p50, 3)} ms, p99 ${fmt(forwarderAdded.p99, 3)} ms`,
    '',
    '| gateway | added p50 ms | floor p50 ms (forwarder + fdatasync) | added p99 ms | floor p99 ms (forwarder + fdatasync) |',
    '|---|---|---|---|---|',
    ...Object.entries(gateways).map(([engine, g]) => {
      const x = g as GatewayFigures;
      return `| ${engine} | ${fmt(x.addedLatencyMs.p50, 3)} | ${fmt(floor.p50, 3)} | ${fmt(x.addedLatencyMs.p99, 3)} | ${fmt(floor.p99, 3)} |`;
    }),
  );
  if (unbundled.starts.length > 0)
    lines.push(
      '',
      `unbundled build (dist/main.js, SQLite): start to ready ${fmt(median(unbundled.starts), 0)} ms, RSS idle ${fmt(median(unbundled.idleRss), 0)} MB (the bundle ${DEPLOYED.entry}: see the gateway table)`,
    );
  // Issue 18's targets, each met or not, from this run's own figures.
  const sqlite = gateways.sqlite as GatewayFigures | undefined;
  const postgresFigures = gateways.postgres as GatewayFigures | undefined;
  const targets: Array<[string, boolean | undefined]> = [];
  if (sqlite) {
    targets.push(
      [
        `RSS after the load phases ${fmt(sqlite.rssMb.afterRun, 0)} MB ≤ 100 MB`,
        sqlite.rssMb.afterRun <= 100,
      ],
      [`RSS idle ${fmt(sqlite.rssMb.idle, 0)} MB ≤ 80 MB`, sqlite.rssMb.idle <= 80],
      [
        `start to ready ${fmt(sqlite.startToReadyMs.median, 0)} ms ≤ 500 ms`,
        sqlite.startToReadyMs.median <= 500,
      ],
      [
        `added p50 ${fmt(sqlite.addedLatencyMs.p50, 3)} ms ≤ floor p50 + 0.3 = ${fmt(floor.p50 + 0.3, 3)} ms`,
        sqlite.addedLatencyMs.p50 <= floor.p50 + 0.3,
      ],
      [
        `added p99 ${fmt(sqlite.addedLatencyMs.p99, 3)} ms ≤ floor p99 + 1 = ${fmt(floor.p99 + 1, 3)} ms`,
        sqlite.addedLatencyMs.p99 <= floor.p99 + 1,
      ],
      [
        `SQLite saturation ${fmt(sqlite.throughputVsForwarder * 100, 0)} % of the forwarder ≥ 50 %`,
        sqlite.throughputVsForwarder >= 0.5,
      ],
    );
    if (postgresFigures) {
      const need = Math.min(2000, 0.6 * (sqlite.saturation.rps ?? 0));
      targets.push([
        `PostgreSQL saturation ${fmt(postgresFigures.saturation.rps, 0)} req/s ≥ min(2,000, 60 % of SQLite) = ${fmt(need, 0)}`,
        (postgresFigures.saturation.rps ?? 0) >= need,
      ]);
    }
  }
  lines.push('', ...stallLines(stall));
  results.targets = targets.map(([target, met]) => ({ target, met }));
  lines.push('', 'issue 18 targets:', ...targets.map(([t, met]) => `- ${met ? 'met' : 'NOT met'}: ${t}`));
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/latest.json',
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, cores: cpus().length, rate: RATE, seconds: SECONDS, connections: CONNECTIONS, ...results }, null, 2)}\n`,
  );
}

await main();
