/**
 * What `npm run bench` and `npm run bench:footprint` share: the load generator (node:http, keep-alive,
 * hrtime), the gateway started as deployed (the node flags and file of `npm start`) and measured from
 * outside (/proc: RSS, CPU time), the stub's and the gateway's requests.
 * Just over 300 lines: a tool script whose parts (load generator, process probes, requests) are each small and
 * shared by both benches; split further, every bench would import from several files for one run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { waitForOutput } from './child-output.js';

export const RATE = Number(process.env.BENCH_RATE ?? 1000);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
export const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
export const BENCH_KEY = 'bench-caller-key-0123456789';

export interface Target {
  name: string;
  port: number;
  /** The process serving this target, whose CPU time per request is measured at saturation. */
  pid?: number;
  /** CPU time so far (µs) of the processes behind it (its database server), measured like `pid`'s. */
  backendCpu?: () => number;
  request(i: number): { method: string; path: string; headers: Record<string, string>; body?: string };
}

export interface Figures {
  p50: number;
  p90: number;
  p99: number;
  errors: number;
  rps?: number;
  /** CPU time (user + system) the serving process spent per request, in µs. */
  cpuUsPerRequest?: number;
  /** The same for the processes behind it (Target.backendCpu), in µs. */
  backendCpuUsPerRequest?: number;
}

export const agentFor = (sockets: number) =>
  new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });

export function send(agent: http.Agent, target: Target, i: number): Promise<{ micros: number; ok: boolean }> {
  const { method, path, headers, body } = target.request(i);
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const request = http.request(
      { host: '127.0.0.1', port: target.port, method, path, headers, agent },
      (response) => {
        response.resume();
        response.on('end', () =>
          resolve({
            micros: Number(process.hrtime.bigint() - started) / 1000,
            ok: (response.statusCode ?? 0) < 300,
          }),
        );
      },
    );
    request.on('error', () =>
      resolve({ micros: Number(process.hrtime.bigint() - started) / 1000, ok: false }),
    );
    request.end(body);
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Open loop: requests are sent on schedule whatever the answers, so latency is not hidden by back-pressure. */
export async function fixedRate(
  target: Target,
  seconds: number,
  offset: number,
  rate = RATE,
): Promise<Figures> {
  const agent = agentFor(64);
  const latencies: number[] = [];
  let errors = 0;
  const inFlight: Array<Promise<void>> = [];
  const cpuBefore = target.pid === undefined ? 0 : cpuMicros(target.pid);
  const start = process.hrtime.bigint();
  let sent = 0;
  for (;;) {
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    if (elapsed >= seconds) break;
    const due = Math.floor(elapsed * rate);
    while (sent < due) {
      inFlight.push(
        send(agent, target, offset + sent).then((r) => {
          latencies.push(r.micros);
          if (!r.ok) errors++;
        }),
      );
      sent++;
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  agent.destroy();
  const cpuUsPerRequest =
    target.pid === undefined ? undefined : (cpuMicros(target.pid) - cpuBefore) / latencies.length;
  return { ...percentiles(latencies), errors, cpuUsPerRequest };
}

/** Closed loop: CONNECTIONS requests always in flight. */
export async function saturate(target: Target, seconds: number, offset: number): Promise<Figures> {
  const agent = agentFor(CONNECTIONS);
  const latencies: number[] = [];
  let errors = 0;
  let next = offset;
  const deadline = Date.now() + seconds * 1000;
  const cpuBefore = target.pid === undefined ? 0 : cpuMicros(target.pid);
  const backendBefore = target.backendCpu?.();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) {
        const r = await send(agent, target, next++);
        latencies.push(r.micros);
        if (!r.ok) errors++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  const cpuUsPerRequest =
    target.pid === undefined ? undefined : (cpuMicros(target.pid) - cpuBefore) / latencies.length;
  const backendCpuUsPerRequest =
    backendBefore === undefined ? undefined : (target.backendCpu!() - backendBefore) / latencies.length;
  return {
    ...percentiles(latencies),
    errors,
    rps: latencies.length / elapsed,
    cpuUsPerRequest,
    backendCpuUsPerRequest,
  };
}

export function percentiles(micros: number[]): { p50: number; p90: number; p99: number } {
  const sorted = [...micros].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000 : NaN;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

/** Every process started here, stopped when this one exits, even on a failure mid-run. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export async function startProcess(
  args: string[],
  env: Record<string, string>,
  readyPattern: RegExp,
): Promise<{ child: ChildProcess; port: number }> {
  const child = track(
    spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const match = await waitForOutput(child, readyPattern, args.join(' '));
  return { child, port: Number(match[1]) };
}

/** utime + stime of a process, in µs (from /proc; clock ticks are 100 Hz on Linux). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * CPU time (µs) of the PostgreSQL server's processes serving database `database` (backends whose process
 * title names it) plus its shared writers (WAL writer, checkpointer, background writer), so other
 * databases' clients on a shared server are left out. A backend that exits meanwhile takes its time along.
 */
export function postgresCpuMicros(database: string): () => number {
  const served = new RegExp(`^postgres: .*( ${database} |walwriter|checkpointer|background writer)`);
  const seen = new Map<number, number>();
  let total = 0;
  return () => {
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      try {
        if (!served.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) continue;
        const now = cpuMicros(pid);
        total += now - (seen.get(pid) ?? 0);
        seen.set(pid, now);
      } catch {
        // exited while read
      }
    }
    return total;
  };
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
}

/** A port free at this moment (the machine is shared: a random one collided with other engineers' tests). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the gateway and measures spawn → first 200 from /health/ready. `nodeArgs` replaces the flags of
 * `npm start` (e.g. to compare V8 flags); BENCH_NODE_ARGS adds flags (e.g. "--cpu-prof --cpu-prof-dir=…").
 * Should the port be taken between choosing and binding it, the start is tried again on another.
 */
export async function startGateway(
  env: Record<string, string>,
  entry = DEPLOYED.entry,
  nodeArgs = DEPLOYED.nodeArgs,
): Promise<{ child: ChildProcess; port: number; startMs: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const t0 = process.hrtime.bigint();
    const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const child = track(
      spawn(process.execPath, [...nodeArgs, ...extra, entry], {
        env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      process.stderr.write(chunk);
    });
    for (;;) {
      if (child.exitCode !== null) break;
      const ok = await new Promise<boolean>((resolve) => {
        const request = http.get({ host: '127.0.0.1', port, path: '/health/ready' }, (response) => {
          response.resume();
          resolve(response.statusCode === 200);
        });
        request.on('error', () => resolve(false));
      });
      // Ready only if it is our child answering (still running), not whoever took the port.
      if (ok && child.exitCode === null)
        return { child, port, startMs: Number(process.hrtime.bigint() - t0) / 1e6 };
      await sleep(5);
    }
    if (!stderr.includes('EADDRINUSE') || attempt >= 5) throw new Error('gateway exited during start');
  }
}

/** The node flags and file the gateway is deployed with: those of `npm start` (the image's CMD has the same). */
export function deployedCommand(): { nodeArgs: string[]; entry: string } {
  const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts
    .start;
  const words = start.split(/\s+/);
  // BENCH_ENTRY=dist/main.js measures the unbundled build instead (e.g. to compare the two under load).
  return {
    nodeArgs: words.slice(words.indexOf('node') + 1, -1),
    entry: process.env.BENCH_ENTRY ?? words.at(-1) ?? 'dist/main.js',
  };
}
export const DEPLOYED = deployedCommand();

/** The gateway's environment as deployed (the image's), Spidr live at the stub, one caller key. */
export function gatewayEnvironment(stubUrl: string): Record<string, string> {
  return {
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
}

/** A keyed status change per request: a distinct account and Idempotency-Key each time. */
export const gatewayTarget = (name: string, port: number, pid: number, run: string): Target => ({
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
