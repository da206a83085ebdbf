/**
 * Tests that cannot run are counted as skipped, with what is missing in their title — never dropped from
 * the count. Runs the PostgreSQL store suite in a child jest against a port where nothing listens, and
 * reads jest's JSON report; and checks that the reason tells a server that is down from a role refused.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { describePostgresFailure, postgresUnavailableReason } from './support/databases.js';

const exec = promisify(execFile);

interface JestReport {
  numTotalTests: number;
  numPendingTests: number;
  testResults: Array<{
    assertionResults: Array<{ status: string; ancestorTitles: string[]; title: string }>;
  }>;
}

async function failureOf(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return 'connected';
  } catch (error) {
    return describePostgresFailure(error, url);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const serverDown = await postgresUnavailableReason();

describe('Skipped tests', () => {
  it('should count every PostgreSQL test as skipped, the reason in its title, when no server answers', async () => {
    const { CI: _ci, ...env } = process.env;
    const { stdout } = await exec(
      process.execPath,
      ['node_modules/jest/bin/jest.js', 'test/persistence.e2e-spec.ts', '--json', '--runInBand'],
      {
        env: {
          ...env,
          NODE_OPTIONS: '--experimental-vm-modules',
          TEST_DATABASE_URL: 'postgres://statusgate:statusgate@127.0.0.1:1/statusgate_test',
        },
        maxBuffer: 16 * 1024 * 1024,
        timeout: 120_000,
      },
    );
    const report = JSON.parse(stdout) as JestReport;
    const results = report.testResults.flatMap((r) => r.assertionResults);
    const skipped = results.filter((r) => r.status === 'pending');
    const passed = results.filter((r) => r.status === 'passed');
    // The suite runs once per engine: SQLite passes, PostgreSQL is the same tests, each skipped.
    expect(skipped.length).toBe(passed.length);
    expect(skipped.length).toBeGreaterThan(5);
    expect(report.numPendingTests).toBe(skipped.length);
    for (const test of skipped) {
      expect(test.ancestorTitles[0]).toBe(
        'Store on postgres [SKIPPED: no PostgreSQL server answers at 127.0.0.1:1 (ECONNREFUSED); start it, e.g. pg_ctlcluster 15 main start]',
      );
    }
  }, 120_000);

  it('should name a server that is down', async () => {
    expect(await failureOf('postgres://statusgate:statusgate@127.0.0.1:1/statusgate_test')).toMatch(
      /^no PostgreSQL server answers at 127\.0\.0\.1:1 \(ECONNREFUSED\)/,
    );
  });

  (serverDown === undefined ? it : it.skip)(
    `should name a role the server refuses, and a missing database${serverDown === undefined ? '' : ` [SKIPPED: ${serverDown}]`}`,
    async () => {
      const url = new URL(
        process.env.TEST_DATABASE_URL ?? 'postgres://statusgate:statusgate@127.0.0.1:5432/statusgate_test',
      );
      const role = new URL(url);
      role.username = 'no_such_role';
      expect(await failureOf(role.toString())).toMatch(/refuses role "no_such_role" \((28P01|28000)/);
      expect(await failureOf(role.toString())).toContain('npm run db:test');
      const database = new URL(url);
      database.pathname = '/no_such_database';
      expect(await failureOf(database.toString())).toMatch(/has no database "no_such_database" \(3D000\)/);
    },
  );
});
