/**
 * Soak test (not part of `npm test`): `npm run soak` (SOAK_SECONDS, default 120; SOAK_CONCURRENCY, default 16).
 *
 * Starts a Spidr and a Canopy sandbox as "live" providers and a real gateway process (dist/main.js) on a
 * fresh SQLite file, then sends changes with idempotency keys for the whole duration while faults are
 * injected at the sandboxes: slow answers beyond the timeout, 500s, 429s, 503-then-200, connection resets,
 * malformed bodies, expired tokens. Every key is re-sent once after its first answer (a client retry).
 * It prints the counts and exits 1 unless: duplicate provider writes = 0 (a re-sent key never reaches the
 * provider again), lost audit records = 0 (every answered change is in the history with its request id),
 * and no 500 INTERNAL.
 */
import { megabytes, sampleWal } from './wal-size.js';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CANOPY_SANDBOX_SETTINGS, createCanopySandbox } from '../providers/canopy/canopy.sandbox.js';
import { listenOnLoopback } from '../providers/sandbox/sandbox-kit.js';
import { SPIDR_SANDBOX_SETTINGS, createSpidrSandbox } from '../providers/spidr/spidr.sandbox.js';
import { waitForOutput } from './child-output.js';

const seconds = Number(process.env.SOAK_SECONDS ?? 120);
const concurrency = Number(process.env.SOAK_CONCURRENCY ?? 16);

interface Outcome {
  provider: 'spidr' | 'canopy';
  accountId: string;
  requestId: string;
  httpStatus: number;
  code: string;
}

const FAULTS = [
  'none',
  'none',
  'none',
  'slow',
  'error500',
  'ratelimit',
  'flaky503',
  'flakyReset',
  'reset',
  'malformed',
] as const;
type Fault = (typeof FAULTS)[number];

async function main(): Promise<void> {
  const spidr = createSpidrSandbox();
  const canopy = createCanopySandbox();
  const spidrUrl = await listenOnLoopback(spidr);
  const canopyUrl = await listenOnLoopback(canopy);
  const dbFile = join(tmpdir(), `statusgate-soak-${randomUUID()}.sqlite`);
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DATABASE_URL: `sqlite:${dbFile}`,
      AUTH_DISABLED: 'true',
      RATE_LIMIT_PER_MINUTE: '0',
      SPIDR_BASE_URL: spidrUrl,
      SPIDR_API_KEY: SPIDR_SANDBOX_SETTINGS.apiKey,
      CANOPY_BASE_URL: canopyUrl,
      CANOPY_CLIENT_ID: CANOPY_SANDBOX_SETTINGS.clientId,
      CANOPY_CLIENT_SECRET: CANOPY_SANDBOX_SETTINGS.clientSecret,
      SPIDR_TIMEOUT_MS: '300',
      CANOPY_TIMEOUT_MS: '300',
      CIRCUIT_FAILURE_THRESHOLD: '50',
      CIRCUIT_HALF_OPEN_AFTER_MS: '500',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const gateway = await listeningUrl(child);
  const wal = sampleWal(dbFile);
  const outcomes: Outcome[] = [];
  let duplicates = 0;
  let sequence = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();

  const worker = async () => {
    while (Date.now() < deadline) {
      const n = ++sequence;
      const provider = n % 3 === 0 ? 'canopy' : 'spidr';
      const base = provider === 'spidr' ? spidrUrl : canopyUrl;
      const fault = FAULTS[Math.floor(n / 3) % FAULTS.length];
      const accountId = await arrange(base, fault, `soak-${n}`);
      if (provider === 'canopy' && n % 50 === 0) await post(`${canopyUrl}/__sandbox/expire-tokens`, {});
      const key = `soak-key-${n}`;
      const body = {
        status: n % 2 === 0 ? 'SUSPENDED' : 'DELINQUENT',
        reason: n % 2 === 0 ? 'FRAUD' : undefined,
      };
      const first = await change(gateway, provider, accountId, body, key);
      outcomes.push(first);
      const writesBefore = await writes(base, provider, accountId);
      const again = await change(gateway, provider, accountId, body, key);
      outcomes.push(again);
      const writesAfter = await writes(base, provider, accountId);
      // A re-sent key may legitimately run again only when the first answer was not final (5xx, 429).
      if (first.httpStatus < 500 && first.httpStatus !== 429) duplicates += writesAfter - writesBefore;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (Date.now() - started) / 1000;

  // Every answered change (not refused before the provider: 400/422 STATUS_NOT_SUPPORTED are recorded too) must be in the history.
  let lost = 0;
  const byAccount = new Map<string, Outcome[]>();
  for (const o of outcomes)
    byAccount.set(`${o.provider}/${o.accountId}`, [
      ...(byAccount.get(`${o.provider}/${o.accountId}`) ?? []),
      o,
    ]);
  for (const [path, list] of byAccount) {
    const history = (await (await fetch(`${gateway}/v1/accounts/${path}/history?limit=100`)).json()) as {
      items: Array<{ requestId: string }>;
    };
    const recorded = new Set(history.items.map((i) => i.requestId));
    for (const o of list) {
      const replayed = o.code === 'REPLAYED' || o.code === 'IDEMPOTENCY_IN_PROGRESS';
      if (!replayed && !recorded.has(o.requestId)) lost++;
    }
  }
  const walLargest = wal.stop();
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
  await spidr.close();
  await canopy.close();
  rmSync(dbFile, { force: true });

  const counts = new Map<string, number>();
  for (const o of outcomes)
    counts.set(`${o.httpStatus} ${o.code}`, (counts.get(`${o.httpStatus} ${o.code}`) ?? 0) + 1);
  const internal = outcomes.filter((o) => o.code === 'INTERNAL').length;
  const lines = [
    `soak: ${seconds} s requested, ${elapsed.toFixed(1)} s run, concurrency ${concurrency}`,
    `requests: ${outcomes.length} (${(outcomes.length / elapsed).toFixed(1)}/s)`,
    'outcomes:',
    ...[...counts.entries()].sort().map(([k, v]) => `  ${k.padEnd(36)} ${v}`),
    `duplicate provider writes: ${duplicates}`,
    `lost audit records: ${lost}`,
    `internal errors: ${internal}`,
    `largest SQLite WAL: ${megabytes(walLargest)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  process.exit(duplicates === 0 && lost === 0 && internal === 0 ? 0 : 1);
}

/** Sets up the fault for one fresh account and returns the account id to use. */
async function arrange(base: string, fault: Fault, id: string): Promise<string> {
  const rule = (r: Record<string, unknown>) =>
    post(`${base}/__sandbox/faults`, { match: { accountId: id }, ...r });
  switch (fault) {
    case 'none':
      return id;
    case 'slow':
      return `SLOW600-${id}`;
    case 'error500':
      return `ERROR500-${id}`;
    case 'ratelimit':
      await rule({ fault: 'status', status: 429, retryAfter: 1 });
      return id;
    case 'flaky503':
      await rule({ fault: 'status', status: 503, times: 1 });
      return id;
    case 'flakyReset':
      await rule({ fault: 'reset', times: 1 });
      return id;
    case 'reset':
      await rule({ fault: 'reset' });
      return id;
    case 'malformed':
      await rule({ fault: 'malformed', times: 1 });
      return id;
  }
}

async function change(
  gateway: string,
  provider: string,
  accountId: string,
  body: unknown,
  key: string,
): Promise<Outcome> {
  const requestId = randomUUID();
  const response = await fetch(`${gateway}/v1/accounts/${provider}/${accountId}/status`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, 'x-request-id': requestId },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { code?: string; outcome?: string };
  const replayed = response.headers.get('idempotent-replayed') === 'true';
  const code = replayed ? 'REPLAYED' : (json.code ?? json.outcome ?? 'UNKNOWN');
  return {
    provider: provider as Outcome['provider'],
    accountId,
    requestId,
    httpStatus: response.status,
    code,
  };
}

async function writes(base: string, provider: string, accountId: string): Promise<number> {
  const { calls } = (await (await fetch(`${base}/__sandbox/calls`)).json()) as {
    calls: Array<{ method: string; url: string }>;
  };
  const path = provider === 'spidr' ? `/v1/account/${accountId}` : `/accounts/${accountId}/status`;
  return calls.filter((c) => (c.method === 'PATCH' || c.method === 'PUT') && c.url === path).length;
}

async function post(url: string, body: unknown): Promise<void> {
  await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function listeningUrl(child: ReturnType<typeof spawn>): Promise<string> {
  const match = await waitForOutput(child, /listening on http:\/\/[^:]+:(\d+)/, 'gateway');
  return `http://127.0.0.1:${match[1]}`;
}

await main();
