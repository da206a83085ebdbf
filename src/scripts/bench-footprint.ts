/**
 * `npm run bench:footprint` (not part of `npm test`): the gateway's memory and start-up alone, quicker than
 * `npm run bench`, to compare node flags and builds before/after a change (issue 18, memory and start-up).
 * Starts the stub and the gateway as deployed (FOOTPRINT_NODE_ARGS replaces the flags of `npm start`, e.g.
 * "--max-semi-space-size=8 --optimize-for-size"), on SQLite, and prints: start to ready (median of
 * FOOTPRINT_STARTS), RSS idle (its parts from /proc/<pid>/smaps: the node binary's pages, malloc's heap,
 * other anonymous memory), then RSS after BENCH_SECONDS at BENCH_RATE req/s and BENCH_SECONDS at
 * BENCH_CONNECTIONS connections, with the requests per second and CPU µs per request at saturation, and
 * V8's heap by space at both moments (the gateway's /metrics).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as bench from './bench-lib.js';

const STARTS = Number(process.env.FOOTPRINT_STARTS ?? 5);
const nodeArgs =
  process.env.FOOTPRINT_NODE_ARGS?.split(' ').filter((a) => a !== '') ?? bench.DEPLOYED.nodeArgs;

/** Resident memory of `pid` by origin, in MB: the node binary's mapped pages, malloc's [heap], the rest. */
function rssParts(pid: number): Record<string, number> {
  const parts: Record<string, number> = { binary: 0, mallocHeap: 0, anonymous: 0, other: 0 };
  let part = 'other';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1];
      part =
        name === process.execPath
          ? 'binary'
          : name === '[heap]'
            ? 'mallocHeap'
            : name === ''
              ? 'anonymous'
              : 'other';
    } else if (line.startsWith('Rss:')) parts[part] += Number(line.split(/\s+/)[1]) / 1024;
  }
  return parts;
}

/** V8's heap by space from the gateway's own /metrics (prom-client's default metrics), in MB. */
async function heapSpaces(port: number): Promise<string> {
  const text = await (
    await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { 'x-api-key': bench.BENCH_KEY } })
  ).text();
  const spaces: Record<string, { used: number; size: number }> = {};
  for (const [, kind, space, value] of text.matchAll(
    /^nodejs_heap_space_size_(used|total)_bytes\{space="(\w+)"\} (\S+)$/gm,
  )) {
    spaces[space] ??= { used: 0, size: 0 };
    spaces[space][kind === 'used' ? 'used' : 'size'] = Number(value) / 2 ** 20;
  }
  return Object.entries(spaces)
    .filter(([, v]) => v.size >= 0.5)
    .map(([k, v]) => `${k} ${v.used.toFixed(0)}/${v.size.toFixed(0)}`)
    .join(', ');
}

const fmt = (n: number) => n.toFixed(0);
const stub = await bench.startProcess(['dist/scripts/bench-servers.js', 'stub', '0'], {}, /listening (\d+)/);
const file = join(tmpdir(), `statusgate-footprint-${randomUUID()}.sqlite`);
const env = {
  ...bench.gatewayEnvironment(`http://127.0.0.1:${stub.port}`),
  DATABASE_URL: `sqlite:${file}`,
  // glibc's allocator settings and NODE_DISABLE_COMPILE_CACHE pass through, to compare them too.
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => k.startsWith('MALLOC_') || k === 'NODE_DISABLE_COMPILE_CACHE',
    ) as [string, string][],
  ),
};
try {
  const starts: number[] = [];
  for (let k = 0; k < STARTS; k++) {
    const g = await bench.startGateway(env, bench.DEPLOYED.entry, nodeArgs);
    starts.push(g.startMs);
    await bench.stop(g.child);
  }
  const gateway = await bench.startGateway(env, bench.DEPLOYED.entry, nodeArgs);
  const pid = gateway.child.pid!;
  await bench.sleep(500);
  const idle = bench.rssMb(pid);
  const parts = rssParts(pid);
  const idleHeap = await heapSpaces(gateway.port);
  const target = bench.gatewayTarget('gateway', gateway.port, pid, `fp-${Date.now()}`);
  await bench.fixedRate(target, bench.WARMUP_SECONDS, 1_000_000);
  await bench.fixedRate(target, bench.SECONDS, 2_000_000);
  const sat = await bench.saturate(target, bench.SECONDS, 3_000_000);
  const after = bench.rssMb(pid);
  const afterParts = rssParts(pid);
  const afterHeap = await heapSpaces(gateway.port);
  await bench.stop(gateway.child);
  const sorted = [...starts].sort((a, b) => a - b);
  const line = (p: Record<string, number>) =>
    Object.entries(p)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', ');
  process.stdout.write(
    [
      `node ${process.version} ${nodeArgs.join(' ')} ${bench.DEPLOYED.entry}`,
      `start to ready: median ${fmt(sorted[Math.floor(sorted.length / 2)])} ms (${sorted.map(fmt).join(', ')})`,
      `RSS idle ${fmt(idle)} MB (${line(parts)}); V8 heap used/size MB: ${idleHeap}`,
      `RSS after ${fmt(after)} MB (${line(afterParts)}); V8 heap used/size MB: ${afterHeap}`,
      `saturation (${bench.CONNECTIONS} connections): ${fmt(sat.rps ?? 0)} req/s, ${fmt(sat.cpuUsPerRequest ?? 0)} µs CPU/req, ${sat.errors} errors`,
    ].join('\n') + '\n',
  );
} finally {
  await bench.stop(stub.child);
  rmSync(file, { force: true });
  rmSync(`${file}-wal`, { force: true });
  rmSync(`${file}-shm`, { force: true });
}
