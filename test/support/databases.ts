/**
 * Test databases for both engines. PostgreSQL tests use TEST_DATABASE_URL (default: the role and database
 * .ci/run creates on the machine's PostgreSQL 15) with a fresh schema per use, so runs never collide.
 * When no server answers they are skipped with a loud message, except under CI, where that is a failure.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { temporarySqliteUrl } from './gateway.js';

export const POSTGRES_TEST_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://statusgate:statusgate@127.0.0.1:5432/statusgate_test';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

let availability: Promise<string | undefined> | undefined;

/** Undefined when PostgreSQL answers; otherwise why not. */
export function postgresUnavailableReason(): Promise<string | undefined> {
  availability ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('select 1');
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return availability;
}

/** A new, empty PostgreSQL schema reached through `search_path` in the connection URL. */
export async function freshPostgres(): Promise<TestDatabase> {
  const schema = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(POSTGRES_TEST_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    },
  };
}

export function freshSqlite(): Promise<TestDatabase> {
  return Promise.resolve({ url: temporarySqliteUrl(), drop: () => Promise.resolve() });
}

export interface EngineCase {
  engine: 'sqlite' | 'postgres';
  fresh: () => Promise<TestDatabase>;
}

/**
 * The engines to run a suite against: SQLite always; PostgreSQL when reachable. Under CI an unreachable
 * PostgreSQL is an error, so a broken CI set-up cannot pass by skipping.
 */
export async function engines(): Promise<EngineCase[]> {
  const cases: EngineCase[] = [{ engine: 'sqlite', fresh: freshSqlite }];
  const reason = await postgresUnavailableReason();
  if (reason === undefined) {
    cases.push({ engine: 'postgres', fresh: freshPostgres });
  } else if (process.env.CI === 'true') {
    throw new Error(`PostgreSQL tests cannot run under CI: ${POSTGRES_TEST_URL} answered: ${reason}`);
  } else {
    process.stderr.write(
      `\n*** PostgreSQL tests SKIPPED: ${POSTGRES_TEST_URL} is not reachable (${reason}). ` +
        `Start it with: pg_ctlcluster 15 main start (see README) ***\n\n`,
    );
  }
  return cases;
}
