/**
 * `npm run bench:stall` (also a phase of `npm run bench`): does a stall of the disk delay requests that do
 * not wait for a commit? The gateway as deployed on SQLite (Spidr live at the bench's stub) is probed by
 * requests that write nothing — GET /health/live, a dry run (PUT …/status?dryRun=true) and a read
 * (GET …/history) — at a fixed rate, in three phases of STALL_SECONDS each:
 *   (a) quiet: the probes alone;
 *   (b) writes: the probes beside STALL_WRITE_RATE keyed status changes per second (default 500);
 *   (c) hog: the same, while another process (at nice 19) writes 8 MiB chunks with O_DIRECT and `fdatasync`
 *       to the data directory's disk (bench-servers.ts `hog`): a disk busy with a neighbour's I/O, which makes
 *       every fsync (a checkpoint's, the WAL's) wait, taking little CPU;
 *   (d) lock: the same as (b), while another connection takes the database's write lock for 50 ms every
 *       250 ms (bench-servers.ts `lock`), as a TRUNCATE checkpoint does: every write waits for it.
 * The lines that matter: a probe's p99 in (c) and in (d) ≤ its p99 in (b) + 1 ms. (/health/ready is not a
 * probe here: it writes a heartbeat.)
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BENCH_KEY,
  WARMUP_SECONDS,
  agentFor,
  fixedRate,
  gatewayEnvironment,
  gatewayTarget,
  send,
  sleep,
  startGateway,
  startProcess,
  stop,
  type Figures,
  type Target,
} from './bench-lib.js';

const SECONDS = Number(process.env.STALL_SECONDS ?? 10);
const WRITE_RATE = Number(process.env.STALL_WRITE_RATE ?? 500);
/** Probes per second of each kind. */
const PROBES = { live: 100, dryRun: 50, read: 50 } as const;
type Probe = keyof typeof PROBES;
const PHASES = ['quiet', 'writes', 'hog', 'lock'] as const;
type Phase = (typeof PHASES)[number];
export type StallFigures = Record<Phase, Partial<Record<Probe | 'writes', Figures>>>;

const headers = { 'content-type': 'application/json', 'x-api-key': BENCH_KEY };
const change = JSON.stringify({ status: 'SUSPENDED', reason: 'FRAUD' });

function probes(port: number): Record<Probe, Target> {
  return {
    live: { name: 'live', port, request: () => ({ method: 'GET', path: '/health/live', headers: {} }) },
    dryRun: {
      name: 'dry run',
      port,
      request: (i) => ({
        method: 'PUT',
        path: `/v1/accounts/spidr/stall-dry-${i}/status?dryRun=true`,
        headers,
        body: change,
      }),
    },
    read: {
      name: 'read',
      port,
      request: () => ({ method: 'GET', path: '/v1/accounts/spidr/stall-read/history', headers }),
    },
  };
}

/** Runs the three phases against a gateway of its own on a fresh SQLite file in `dataDir`. */
export async function stallPhases(stubUrl: string, dataDir = tmpdir()): Promise<StallFigures> {
  const file = join(dataDir, `statusgate-stall-${randomUUID()}.sqlite`);
  const env = gatewayEnvironment(stubUrl);
  // The read probe needs status:read; the key is the bench's own.
  const keys = JSON.parse(env.API_KEYS) as Array<{ scopes: string[] }>;
  keys[0].scopes = ['status:write', 'status:read'];
  const gateway = await startGateway({
    ...env,
    API_KEYS: JSON.stringify(keys),
    DATABASE_URL: `sqlite:${file}`,
  });
  const results = {} as StallFigures;
  let hog: Awaited<ReturnType<typeof startProcess>> | undefined;
  let lock: Awaited<ReturnType<typeof startProcess>> | undefined;
  try {
    const writes = gatewayTarget('writes', gateway.port, gateway.child.pid!, `stall-${Date.now()}`);
    const probing = probes(gateway.port);
    // One recorded change, so the read probe reads a row.
    const agent = agentFor(1);
    await send(
      agent,
      { ...writes, request: () => ({ ...writes.request(0), path: '/v1/accounts/spidr/stall-read/status' }) },
      0,
    );
    agent.destroy();
    const run = async (seconds: number, withWrites: boolean, offset: number) => {
      const figures: Partial<Record<Probe | 'writes', Figures>> = {};
      await Promise.all([
        ...(Object.keys(PROBES) as Probe[]).map(async (probe) => {
          figures[probe] = await fixedRate(probing[probe], seconds, offset, PROBES[probe]);
        }),
        withWrites
          ? fixedRate(writes, seconds, offset, WRITE_RATE).then((f) => (figures.writes = f))
          : undefined,
      ]);
      return figures;
    };
    await run(WARMUP_SECONDS, true, 1_000_000);
    await sleep(1000);
    results.quiet = await run(SECONDS, false, 2_000_000);
    results.writes = await run(SECONDS, true, 3_000_000);
    hog = await startProcess(['dist/scripts/bench-servers.js', 'hog', dataDir], {}, /hogging (.*)/);
    // At the lowest CPU priority and past the page cache: it takes the disk, not the CPU the gateway wants
    // (a hog writing through the page cache took 0.35–0.4 s of CPU a second even at nice 19, and made
    // (c) a measure of CPU contention on two cores: docs/performance.md).
    setPriority(hog.child.pid!, 19);
    await sleep(1000);
    results.hog = await run(SECONDS, true, 4_000_000);
    await stop(hog.child);
    hog = undefined;
    lock = await startProcess(['dist/scripts/bench-servers.js', 'lock', file], {}, /locking (.*)/);
    await sleep(500);
    results.lock = await run(SECONDS, true, 5_000_000);
  } finally {
    if (hog) await stop(hog.child);
    if (lock) await stop(lock.child);
    await stop(gateway.child);
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  }
  return results;
}

const fmt = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '—' : n.toFixed(2));

/** The table and the target lines of a stall run, for bench.ts and the command of its own. */
export function stallLines(figures: StallFigures): string[] {
  const cell = (f: Figures | undefined) =>
    f ? `${fmt(f.p50)} / ${fmt(f.p99)}${f.errors ? ` (${f.errors} errors)` : ''}` : '—';
  const kinds = [...(Object.keys(PROBES) as Probe[]), 'writes'] as const;
  const names = {
    live: 'GET /health/live',
    dryRun: 'dry run',
    read: 'read (history)',
    writes: `keyed change (${WRITE_RATE}/s)`,
  };
  return [
    `disk stall (bench:stall): p50 / p99 ms, ${SECONDS} s per phase; (c) = (b) + a process (nice 19) writing 8 MiB with O_DIRECT + fdatasync in a loop on the data directory's disk; (d) = (b) + another connection holding the write lock 50 ms every 250 ms`,
    '',
    '| request | (a) quiet | (b) writes | (c) writes + disk hog | (d) writes + lock held |',
    '|---|---|---|---|---|',
    ...kinds.map((k) => `| ${names[k]} | ${PHASES.map((p) => cell(figures[p][k])).join(' | ')} |`),
    '',
    ...(['hog', 'lock'] as const).flatMap((phase) =>
      (Object.keys(PROBES) as Probe[]).map((k) => {
        const b = figures.writes[k]?.p99 ?? NaN;
        const c = figures[phase][k]?.p99 ?? NaN;
        const label = phase === 'hog' ? '(c)' : '(d)';
        return `- ${c <= b + 1 ? 'met' : 'NOT met'}: non-writing p99 in ${label} ≤ (b) + 1 ms — ${names[k]} ${fmt(c)} ≤ ${fmt(b + 1)}`;
      }),
    ),
  ];
}

if (process.argv[1]?.endsWith('bench-stall.js')) {
  const stub = await startProcess(['dist/scripts/bench-servers.js', 'stub', '0'], {}, /listening (\d+)/);
  try {
    const figures = await stallPhases(`http://127.0.0.1:${stub.port}`);
    process.stdout.write(`${stallLines(figures).join('\n')}\n`);
    if (process.env.STALL_JSON) process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    await stop(stub.child);
  }
}
