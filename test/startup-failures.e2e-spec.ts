import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/persistence/database.js';

/** Runs dist/main.js to its end; resolves with its exit code and everything it printed. */
function runGateway(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/main.js'], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', AUTH_DISABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A migrated SQLite database made read-only: a read-only mount as root (root ignores file modes), else modes. */
async function readOnlyDatabase(): Promise<{ url: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'statusgate-ro-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
  const url = `sqlite:${join(dir, 'gateway.sqlite')}`;
  const database = await openDatabase(url);
  await database.close();
  if (asRoot) execFileSync('mount', ['-o', 'remount,ro', dir]);
  else {
    chmodSync(join(dir, 'gateway.sqlite'), 0o444);
    chmodSync(dir, 0o555);
  }
  return {
    url,
    cleanup: () => {
      if (asRoot) execFileSync('umount', [dir]);
      else chmodSync(dir, 0o755);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('Start-up with an unusable database', () => {
  it('should exit 1 with one line naming DATABASE_URL and the cause when the database is read-only', async () => {
    const database = await readOnlyDatabase();
    try {
      const { code, output } = await runGateway({ DATABASE_URL: database.url });
      expect(code).toBe(1);
      const lines = output.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /DATABASE_URL \(sqlite:.*gateway\.sqlite\).*(readonly|read-only|unable to open)/,
      );
    } finally {
      database.cleanup();
    }
  }, 30_000);

  it('should exit 1 with one line naming DATABASE_URL (without credentials) when PostgreSQL is unreachable', async () => {
    const { code, output } = await runGateway({
      DATABASE_URL: 'postgres://statusgate:secret-password@127.0.0.1:1/statusgate',
    });
    expect(code).toBe(1);
    const lines = output.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/DATABASE_URL \(postgres:\/\/127\.0\.0\.1:1\/statusgate\).*ECONNREFUSED/);
    expect(output).not.toContain('secret-password');
  }, 30_000);
});

describe('Start-up with a bad WEBHOOKS', () => {
  const good = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  it.each([
    ['a URL that is not one', [{ id: 'crm', url: 'not a url', secret: good }], /url is not an absolute URL/],
    [
      'a URL that is not http(s)',
      [{ id: 'crm', url: 'ftp://x/hook', secret: good }],
      /url must be http\(s\)/,
    ],
    [
      'a short secret',
      [
        {
          id: 'crm',
          url: 'https://crm.example/hook',
          secret: `whsec_${Buffer.alloc(16).toString('base64')}`,
        },
      ],
      /secret is too short: its key must be at least 24 bytes, got 16/,
    ],
    [
      'a secret without whsec_',
      [{ id: 'crm', url: 'https://crm.example/hook', secret: 'plain-secret-value' }],
      /secret must be whsec_ followed by base64/,
    ],
    [
      'an unknown type',
      [{ id: 'crm', url: 'https://crm.example/hook', secret: good, types: ['x'] }],
      /unknown type "x"/,
    ],
    ['not JSON', '[{', /is not valid JSON/],
  ])(
    'should exit 1 with one line naming WEBHOOKS for %s, never showing the secret',
    async (_name, value, reason) => {
      const { code, output } = await runGateway({
        WEBHOOKS: typeof value === 'string' ? value : JSON.stringify(value),
      });
      expect(code).toBe(1);
      const lines = output.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/WEBHOOKS/);
      expect(lines[0]).toMatch(reason);
      expect(output).not.toContain('plain-secret-value');
      expect(output).not.toContain(good);
    },
    30_000,
  );
});
