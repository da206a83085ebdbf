/**
 * Batch benchmark (issue 16): 1,000-item batches against the built server with its loopback sandboxes, on
 * SQLite and (when BENCH_DATABASE_URL or TEST_DATABASE_URL names one) PostgreSQL. Reports items/s end to
 * end (POST with `Prefer: wait=60` until the final summary), ClearGrid's provider-call count, and the
 * gateway's RSS before and after 10 batches of 1,000 running at once; and Spidr items against bench.ts's stub,
 * beside the single-change saturation bench.ts measured just before. `npm run bench` runs it after bench.ts;
 * `npm run bench:batches` alone.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

interface Gateway {
  url: string;
  /** The base URL of a provider's built-in sandbox (its call log counts provider requests). */
  sandbox(provider: string): string;
  stop(): void;
}

async function startGateway(databaseUrl: string, env: Record<string, string> = {}): Promise<Gateway> {
  const child = spawn(process.execPath, ['--max-semi-space-size=8', 'dist/main.js'], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Only the start-up lines are kept (the sandboxes' addresses, then "listening"); request lines are dropped.
  let startup = '';
  child.stdout.on('data', (chunk: Buffer) => {
    if (startup.length < 100_000) startup += chunk.toString();
  });
  const deadline = Date.now() + 20_000;
  let port: string | undefined;
  while (!port && Date.now() < deadline) {
    port = /listening on http:\/\/[^:]+:(\d+)/.exec(startup)?.[1];
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!port) throw new Error(`gateway did not start:\n${startup}`);
  const sandboxes = new Map<string, string>();
  for (const line of startup.split('\n')) {
    if (!line.includes('provider sandbox listening')) continue;
    const entry = JSON.parse(line) as { provider: string; baseUrl: string };
    sandboxes.set(entry.provider, entry.baseUrl);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    sandbox: (provider) => sandboxes.get(provider) ?? '',
    stop: () => child.kill('SIGTERM'),
  };
}

async function postBatch(
  url: string,
  items: unknown[],
): Promise<{ ms: number; counts: Record<string, number> }> {
  const started = performance.now();
  const response = await fetch(`${url}/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', prefer: 'wait=60' },
    body: JSON.stringify({ items }),
  });
  const body = (await response.json()) as { counts: Record<string, number>; state: string };
  if (body.state !== 'DONE') throw new Error(`batch did not end within 60 s: ${JSON.stringify(body)}`);
  return { ms: performance.now() - started, counts: body.counts };
}

/** Status requests the provider's sandbox has received (logins and reads excluded). */
async function statusCalls(sandboxUrl: string): Promise<number> {
  const { calls } = (await (await fetch(`${sandboxUrl}/__sandbox/calls`)).json()) as {
    calls: Array<{ method: string; url: string }>;
  };
  return calls.filter((c) => c.method !== 'GET' && !c.url.includes('/auth/')).length;
}

const items = (provider: string, round: string, n = 1000) =>
  Array.from({ length: n }, (_, i) =>
    provider === 'cleargrid'
      ? { provider, accountId: `${round}-${i}`, customerId: `c-${i}`, status: 'DISPUTED' }
      : { provider, accountId: `${round}-${i}`, status: 'SUSPENDED' },
  );

/**
 * Spidr items against the same loopback stub and gateway settings as `bench.ts` uses for single changes, so
 * the batch throughput can be set beside the single-change saturation of the same `npm run bench` run.
 */
async function spidrAgainstStub(name: string, databaseUrl: string): Promise<void> {
  const stub = spawn(process.execPath, ['dist/scripts/bench-servers.js', 'stub', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    stub.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) resolve(match[1]);
    });
    stub.once('exit', () => reject(new Error(`stub exited: ${out}`)));
  });
  const gw = await startGateway(databaseUrl, {
    NODE_ENV: 'production',
    SPIDR_BASE_URL: `http://127.0.0.1:${port}`,
    SPIDR_API_KEY: 'bench-key-000000000000',
    AUTH_DISABLED: 'true',
    RATE_LIMIT_PER_MINUTE: '0',
  });
  try {
    await postBatch(gw.url, items('spidr', `stub-warm-${Date.now()}`, 200));
    const { ms, counts } = await postBatch(gw.url, items('spidr', `stub-run-${Date.now()}`));
    const itemsPerSecond = (1000 / ms) * 1000;
    let comparison = '';
    try {
      const latest = JSON.parse(readFileSync('bench/results/latest.json', 'utf8')) as {
        at: string;
        gateway?: Record<string, { saturation?: { rps?: number } }>;
      };
      const rps = latest.gateway?.[name]?.saturation?.rps;
      const ageMinutes = (Date.now() - Date.parse(latest.at)) / 60_000;
      if (rps && ageMinutes < 30)
        comparison = `; single-change saturation ${rps.toFixed(0)} req/s in bench.ts just before: ${((itemsPerSecond / rps) * 100).toFixed(0)} %`;
    } catch {
      comparison = '; no recent bench/results/latest.json to compare with (run `npm run bench`)';
    }
    process.stdout.write(
      `${name} spidr on the bench stub: 1,000 items (${counts.APPLIED ?? 0} applied) in ${ms.toFixed(0)} ms = ${itemsPerSecond.toFixed(0)} items/s${comparison}\n`,
    );
  } finally {
    gw.stop();
    stub.kill('SIGTERM');
  }
}

async function benchEngine(name: string, databaseUrl: string): Promise<void> {
  await spidrAgainstStub(name, databaseUrl);
  const gw = await startGateway(databaseUrl);
  try {
    for (const provider of ['cleargrid', 'spidr']) {
      await postBatch(gw.url, items(provider, `warm-${provider}`, 100));
      const before = await statusCalls(gw.sandbox(provider));
      const { ms, counts } = await postBatch(gw.url, items(provider, `run-${provider}`));
      const calls = ` provider requests ${(await statusCalls(gw.sandbox(provider))) - before}`;
      const ended = (counts.APPLIED ?? 0) + (counts.ACCEPTED ?? 0);
      process.stdout.write(
        `${name} ${provider}: 1,000 items (${ended} applied/accepted) in ${ms.toFixed(0)} ms = ${((1000 / ms) * 1000).toFixed(0)} items/s${calls}\n`,
      );
    }
    const rss = async () =>
      Number(
        /^process_resident_memory_bytes (\d+)/m.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1],
      );
    const before = await rss();
    const started = performance.now();
    await Promise.all(Array.from({ length: 10 }, (_, b) => postBatch(gw.url, items('spidr', `par-${b}`))));
    const after = await rss();
    process.stdout.write(
      `${name} 10 x 1,000 Spidr items at once: ${(performance.now() - started).toFixed(0)} ms; RSS ${(before / 1e6).toFixed(0)} MB before, ${(after / 1e6).toFixed(0)} MB after (${(after / before).toFixed(2)}x)\n`,
    );
  } finally {
    gw.stop();
  }
}

async function main(): Promise<void> {
  const file = join(tmpdir(), `statusgate-bench-batches-${randomUUID()}.sqlite`);
  try {
    await benchEngine('sqlite', `sqlite:${file}`);
  } finally {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  }
  const pgUrl =
    process.env.BENCH_DATABASE_URL ??
    process.env.TEST_DATABASE_URL ??
    'postgres://statusgate:statusgate@127.0.0.1:5432/statusgate_test';
  const schema = `bench_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch (error) {
    process.stdout.write(`postgres: skipped (${error instanceof Error ? error.message : String(error)})\n`);
    return;
  }
  try {
    await admin.query(`create schema ${schema}`);
    const url = new URL(pgUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    await benchEngine('postgres', url.toString());
  } finally {
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
