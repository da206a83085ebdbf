/**
 * `node dist/main.js --help` / `--version` print and exit 0 without starting anything (no port, no
 * ./data); an unknown argument is refused with exit code 2. Runs the built file, as a person would.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configVariablesRead } from './support/config-variables.js';

const MAIN = resolve('dist/main.js');

function run(...args: string[]) {
  // A working directory of its own: the server would create ./data there if it started.
  const cwd = mkdtempSync(join(tmpdir(), 'statusgate-cli-'));
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1' },
    encoding: 'utf8',
    timeout: 15_000,
  });
  return { ...result, cwd };
}

describe('dist/main.js command line', () => {
  it('should print usage naming every configuration variable and exit 0 on --help, without starting', () => {
    const { status, stdout, stderr, cwd } = run('--help');
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(stdout).toContain('Usage: node dist/main.js');
    expect(stdout).toContain('README.md, section "Configuration"');
    expect(stdout).not.toContain('listening');
    expect(existsSync(join(cwd, 'data'))).toBe(false);
    const wildcards = [...stdout.matchAll(/\b([A-Z]+_)\*/g)].map((m) => m[1]);
    expect(wildcards).toEqual(['CLEARGRID_', 'CANOPY_', 'PISMO_', 'SPIDR_']);
    const read = configVariablesRead();
    expect(read).toEqual(
      expect.arrayContaining(['PORT', 'DATABASE_URL', 'DRAIN_TIMEOUT_MS', 'SPIDR_BASE_URL']),
    );
    const unnamed = read.filter(
      (name) => !new RegExp(`\\b${name}\\b`).test(stdout) && !wildcards.some((w) => name.startsWith(w)),
    );
    expect(unnamed).toEqual([]);
  });

  it('should accept -h as --help', () => {
    expect(run('-h')).toMatchObject({ status: 0, stdout: expect.stringContaining('Usage:') as string });
  });

  it('should print the package version and exit 0 on --version', () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const { status, stdout, stderr } = run('--version');
    expect({ status, stdout, stderr }).toEqual({ status: 0, stdout: `statusgate ${version}\n`, stderr: '' });
  });

  it('should refuse an unknown argument with exit code 2 and a pointer to --help', () => {
    const { status, stdout, stderr, cwd } = run('--port', '8080');
    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('unknown argument "--port"');
    expect(stderr).toContain('--help');
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });
});
