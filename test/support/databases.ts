/**
 * Test databases for both engines. PostgreSQL tests use TEST_DATABASE_URL (default: the role and database
 * `npm run db:test` creates on the machine's PostgreSQL) with a fresh schema per use, so runs never collide.
 *
 * When PostgreSQL cannot be used, its suites are still registered, as `describe.skip` with the reason in
 * the title, so jest counts every one of their tests as skipped instead of dropping them from the total.
 * Under CI that is a failure instead: a broken CI set-up must not pass by skipping.
 */
import pg from 'pg';
import { createScratchSchema } from '../../src/scripts/scratch-schema.js';
import { temporarySqliteUrl } from './gateway.js';

export const POSTGRES_TEST_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://statusgate:statusgate@127.0.0.1:5432/statusgate_test';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** The URL without its password, for messages. */
function shownUrl(connectionString: string): string {
  const url = new URL(connectionString);
  if (url.password) url.password = '***';
  return url.toString();
}

/**
 * What is missing, told apart by the error's code: no server at that address, or a server that refuses
 * the role, its password or the database (which `npm run db:test` creates).
 */
export function describePostgresFailure(error: unknown, connectionString = POSTGRES_TEST_URL): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  const text = message ?? String(error);
  const url = new URL(connectionString);
  const where = `${url.hostname}:${url.port || '5432'}`;
  if (code !== undefined && ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(code)) {
    return `no PostgreSQL server answers at ${where} (${code}); start it, e.g. pg_ctlcluster 15 main start`;
  }
  if (code === '28P01' || code === '28000') {
    return `the server at ${where} refuses role "${url.username}" (${code}: ${text}); create it with npm run db:test`;
  }
  if (code === '3D000') {
    return `the server at ${where} has no database "${url.pathname.slice(1)}" (${code}); create it with npm run db:test`;
  }
  if (/timeout/i.test(text)) return `no PostgreSQL server answers at ${where} within 2 s (${text})`;
  return `${shownUrl(connectionString)} cannot be used: ${code ?? 'no code'} ${text}`;
}

let availability: Promise<string | undefined> | undefined;

/** Undefined when PostgreSQL answers; otherwise what is missing. */
export function postgresUnavailableReason(): Promise<string | undefined> {
  availability ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('select 1');
      return undefined;
    } catch (error) {
      return describePostgresFailure(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return availability;
}

/** A new, empty PostgreSQL schema reached through `search_path` in the connection URL. */
export function freshPostgres(): Promise<TestDatabase> {
  return createScratchSchema(POSTGRES_TEST_URL, 't');
}

export function freshSqlite(): Promise<TestDatabase> {
  return Promise.resolve({ url: temporarySqliteUrl(), drop: () => Promise.resolve() });
}

export interface EngineCase {
  engine: 'sqlite' | 'postgres';
  fresh: () => Promise<TestDatabase>;
  /** Why this engine's tests are skipped; undefined when they run. */
  skipped?: string;
}

/**
 * The engines to run a suite against: SQLite always, PostgreSQL too — marked `skipped` with the reason
 * when it cannot be used. Under CI an unusable PostgreSQL is an error.
 */
export async function engines(): Promise<EngineCase[]> {
  const reason = await postgresUnavailableReason();
  if (reason !== undefined && process.env.CI === 'true') {
    throw new Error(`PostgreSQL tests cannot run under CI: ${reason}`);
  }
  if (reason !== undefined) {
    process.stderr.write(`\n*** PostgreSQL tests SKIPPED (counted as skipped): ${reason} ***\n\n`);
  }
  return [
    { engine: 'sqlite', fresh: freshSqlite },
    { engine: 'postgres', fresh: freshPostgres, skipped: reason },
  ];
}

/** For a PostgreSQL-only suite: why it must be skipped (undefined when it runs); under CI an error instead. */
export async function postgresSkipReason(): Promise<string | undefined> {
  return skipReasonOutsideCi(await postgresUnavailableReason(), 'PostgreSQL');
}

/** `reason` (why `what` cannot be used) as a reason to skip; under CI an error instead. */
export function skipReasonOutsideCi(reason: string | undefined, what: string): string | undefined {
  if (reason !== undefined && process.env.CI === 'true')
    throw new Error(`${what} needed under CI: ${reason}`);
  return reason;
}

/** `describe` when PostgreSQL can be used, else `describe.skip` whose title carries the reason. */
export function describePostgres(reason: string | undefined, title: string, body: () => void): void {
  if (reason === undefined) describe(title, body);
  else describe.skip(`${title} [SKIPPED: ${reason}]`, body);
}

/** `describePostgres` with the reason found here: one awaited line for a suite that needs PostgreSQL. */
export async function describeWithPostgres(title: string, body: () => void): Promise<void> {
  describePostgres(await postgresSkipReason(), title, body);
}

/**
 * `describe.each(cases)` for engine cases: `$engine` in the title is replaced, and a skipped engine's
 * suite is registered with `describe.skip` (its tests counted as skipped, the reason in the title).
 */
export function describeEachEngine(
  cases: readonly EngineCase[],
  title: string,
  body: (engine: EngineCase) => void,
): void {
  for (const engine of cases) {
    const named = title.replace('$engine', engine.engine);
    if (engine.skipped === undefined) describe(named, () => body(engine));
    else describe.skip(`${named} [SKIPPED: ${engine.skipped}]`, () => body(engine));
  }
}
