/**
 * The benchmark's load generator: node:http with keep-alive sockets and hrtime timers (microsecond
 * resolution); an open loop at a fixed rate and a closed loop at saturation, with the serving process's
 * CPU time per request read from /proc.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';

export const RATE = Number(process.env.BENCH_RATE ?? 1000);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
export const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

export interface Target {
  name: string;
  port: number;
  /** The process serving this target, whose CPU time per request is measured at saturation. */
  pid?: number;
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
export async function fixedRate(target: Target, seconds: number, offset: number): Promise<Figures> {
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
    const due = Math.floor(elapsed * RATE);
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
  return { ...percentiles(latencies), errors, rps: latencies.length / elapsed, cpuUsPerRequest };
}

export function percentiles(micros: number[]): { p50: number; p90: number; p99: number } {
  const sorted = [...micros].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000 : NaN;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

/** utime + stime of a process, in µs (from /proc; clock ticks are 100 Hz on Linux). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
