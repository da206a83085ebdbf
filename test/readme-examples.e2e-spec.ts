/**
 * Every curl example in README.md runs here, in README order, with the real curl against a gateway on its
 * built-in sandboxes (port 3000 replaced by the test gateway's), and must give the status and the answer
 * the README shows under it (`# → 200 {…}`, see test/support/readme.ts). An example with an
 * Idempotency-Key is sent twice and must be replayed unchanged. The README's other checkable claims are
 * checked too: its table of contents, its links into docs/, its configuration table and API_KEYS example.
 *
 * Without curl the examples are registered as skipped (reason in the title); under CI=true that fails.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../src/runtime/config.js';
import { configVariablesRead } from './support/config-variables.js';
import { PROVIDER_IDS } from '../src/domain/index.js';
import { call, startGateway, temporarySqliteUrl, type TestGateway } from './support/gateway.js';
import { bashBlocks, readmeExamples, readmeText, subsetMismatches } from './support/readme.js';

const README = readmeText();
const EXAMPLES = readmeExamples(README);
const curlSkipped = spawnSync('sh', ['-c', 'command -v curl']).status !== 0 && process.env.CI !== 'true';
const exec = promisify(execFile);

/** Runs one example as written, with curl reporting the HTTP status on a last line of its own. */
async function runExample(
  command: string,
  gw: TestGateway,
): Promise<{ status: number; body: unknown; raw: string }> {
  const script = `curl() { command curl -sS -w '\\n%{http_code}' "$@"; }\n${command.replaceAll('localhost:3000', gw.url.replace('http://', ''))}`;
  const { stdout } = await exec('bash', ['-c', script], { timeout: 20_000 });
  const cut = stdout.lastIndexOf('\n');
  const raw = stdout.slice(0, cut);
  let body: unknown = raw;
  try {
    body = JSON.parse(raw);
  } catch {
    // not JSON: compared as text, and shown in the failure
  }
  return { status: Number(stdout.slice(cut + 1)), body, raw };
}

describe('README examples', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    if (!curlSkipped) gw = await startGateway();
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('should have examples, each against the gateway on port 3000, and a status change on every provider', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(10);
    for (const example of EXAMPLES) expect(example.command).toContain('localhost:3000/');
    const changed = EXAMPLES.filter(
      (e) => /-X PUT/.test(e.command) && !/dryRun/.test(e.command) && e.status < 300,
    );
    for (const provider of PROVIDER_IDS) {
      expect(changed.some((e) => e.command.includes(`/v1/accounts/${provider}/`))).toBe(true);
    }
  });

  (curlSkipped ? it.skip : it).each(
    EXAMPLES.map(
      (e) => [`line ${e.line}: ${e.title}${curlSkipped ? ' [SKIPPED: curl not installed]' : ''}`, e] as const,
    ),
  )('should answer as shown: %s', async (_, example) => {
    const first = await runExample(example.command, gw);
    const problems = [
      ...(first.status === example.status ? [] : [`status: expected ${example.status}, got ${first.status}`]),
      ...(example.body === undefined ? [] : subsetMismatches(example.body, first.body)),
    ];
    expect({ command: example.command, answer: first.raw, problems }).toEqual({
      command: example.command,
      answer: first.raw,
      problems: [],
    });
    if (/Idempotency-Key/i.test(example.command)) {
      const again = await runExample(example.command, gw);
      expect(again).toEqual(first);
    }
  });
});

describe('README claims', () => {
  it('should list every section in its table of contents, in order, and nothing else', () => {
    const headings = [...README.matchAll(/^## (.+)$/gm)].map((m) => m[1]).filter((h) => h !== 'Contents');
    const contents = /^## Contents\n([\s\S]*?)\n## /m.exec(README)?.[1] ?? '';
    const listed = [...contents.matchAll(/\[([^\]]+)\]\(#([^)]+)\)/g)];
    const slug = (h: string) =>
      h
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s-]/gu, '')
        .replace(/\s/g, '-');
    expect(listed.map((m) => m[1])).toEqual(headings);
    for (const [, text, anchor] of listed) expect(anchor).toBe(slug(text));
  });

  it('should link only to files that exist, from the README and from docs/', () => {
    const pages = ['README.md', ...readdirSync('docs').map((name) => join('docs', name))];
    const broken = pages.flatMap((page) =>
      [...readFileSync(page, 'utf8').matchAll(/\]\(((?!https?:|#)[^)#]+)(#[^)]*)?\)/g)]
        .map((m) => join(dirname(page), m[1]))
        .filter((target) => !existsSync(target))
        .map((target) => `${page} → ${target}`),
    );
    expect(broken).toEqual([]);
  });

  it('should name every variable the configuration reads in its Configuration section', () => {
    const section = /^## Configuration\n([\s\S]*?)\n## /m.exec(README)?.[1] ?? '';
    const read = new Set(configVariablesRead());
    const named = (name: string) =>
      new RegExp(`\\b${name}\\b`).test(section) ||
      (name.endsWith('_TIMEOUT_MS') && section.includes('<PROVIDER>_TIMEOUT_MS'));
    expect(read.size).toBeGreaterThan(10);
    expect([...read].filter((name) => !named(name))).toEqual([]);
  });

  it('should give an API_KEYS example the configuration accepts', () => {
    const block = bashBlocks(README).find((b) => b.lines[0].startsWith('API_KEYS='));
    const value = /^API_KEYS='([\s\S]*)'$/.exec(block?.lines.join('\n') ?? '')?.[1];
    expect(value).toBeDefined();
    const config = loadConfig({ API_KEYS: value });
    expect(config.apiKeys.map((k) => k.id)).toEqual(['billing', 'collections']);
  });

  it('should not read like a work log or point outside the repository', () => {
    expect(README).not.toMatch(/this session|before issue \d|^#+ Done$|CONTRACT(\.md)? ?§/im);
  });
});

describe('README "The sandboxes": sandbox state lives in memory, the records do not', () => {
  it('should show a sandbox account back in its open status after a restart, with its history kept', async () => {
    const env = { DATABASE_URL: temporarySqliteUrl() };
    const change = (gw: TestGateway, provider: string, account: string, body: unknown) =>
      call('PUT', `${gw.url}/v1/accounts/${provider}/${account}/status`, { body });
    const first = await startGateway(env);
    try {
      expect(
        (await change(first, 'spidr', 'acc-1001', { status: 'SUSPENDED', reason: 'FRAUD' })).status,
      ).toBe(200);
      const accepted = await change(first, 'cleargrid', 'ORD-1', { status: 'DISPUTED', customerId: 'c-1' });
      expect(accepted.status).toBe(202);
    } finally {
      await first.close();
    }
    const second = await startGateway(env);
    try {
      const status = await call('GET', `${second.url}/v1/accounts/spidr/acc-1001/status`);
      expect(status.body).toMatchObject({ status: 'ACTIVE', source: 'provider' });
      const history = await call('GET', `${second.url}/v1/accounts/spidr/acc-1001/history`);
      expect(history.body.items).toMatchObject([{ status: 'SUSPENDED', outcome: 'APPLIED' }]);
      const cleargrid = await call('GET', `${second.url}/v1/accounts/cleargrid/ORD-1/status`);
      expect(cleargrid.body).toMatchObject({ status: 'DISPUTED', source: 'gateway' });
    } finally {
      await second.close();
    }
  });
});

describe('README batch script', () => {
  const script = /```sh\n([\s\S]*?accounts\.csv[\s\S]*?)```/.exec(README)?.[1];
  const jqSkipped =
    (spawnSync('sh', ['-c', 'command -v jq && command -v curl']).status !== 0 || !script) &&
    process.env.CI !== 'true';
  let gw: TestGateway;

  beforeAll(async () => {
    if (!jqSkipped) gw = await startGateway();
  });
  afterAll(async () => {
    await gw?.close();
  });

  (jqSkipped ? it.skip : it)(
    `should send a CSV file as a batch, wait for it and list only its failures${jqSkipped ? ' [SKIPPED: jq or curl not installed]' : ''}`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'readme-batch-'));
      writeFileSync(
        join(dir, 'accounts.csv'),
        [
          'provider,accountId,status,reason,customerId',
          'spidr,acc-2001,SUSPENDED,FRAUD,',
          'canopy,can_2002,ACTIVE,,',
          'pismo,NOTFOUND-2003,SUSPENDED,,',
          'cleargrid,ORD-2004,DISPUTED,,customer_2004',
          '',
        ].join('\n'),
      );
      const { stdout } = await exec('bash', ['-euc', script!.replace('http://localhost:3000', gw.url)], {
        cwd: dir,
        timeout: 60_000,
      });
      const counts = JSON.parse(stdout.slice(stdout.indexOf('{'), stdout.lastIndexOf('}') + 1)) as Record<
        string,
        number
      >;
      expect(counts).toEqual({ PENDING: 0, APPLIED: 2, ACCEPTED: 1, FAILED: 1, UNFINISHED: 0, CANCELLED: 0 });
      const failures = stdout
        .slice(stdout.lastIndexOf('}') + 1)
        .trim()
        .split('\n');
      expect(failures).toHaveLength(1);
      expect(failures[0].split('\t').slice(0, 4)).toEqual([
        '2',
        'pismo',
        'NOTFOUND-2003',
        'ACCOUNT_NOT_FOUND',
      ]);
    },
  );
});
