import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  PostgresDialect,
  SqliteDialect,
  sql,
  type SqliteDatabase as SqliteDialectDatabase,
} from 'kysely';
import type pg from 'pg';
import { migrateToLatest } from './migrations.js';
import type { DatabaseSchema } from './schema.js';

export type Engine = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<DatabaseSchema>;
  engine: Engine;
  /** The SQLite connection itself (SQLite only), for the prepared hot-path writes. */
  sqlite?: SQLite.Database;
  /** The PostgreSQL pool Kysely runs on (PostgreSQL only), for the named hot-path statements. */
  pool?: pg.Pool;
  /** Where the data lives, without credentials (for logs). */
  location: string;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the store named by DATABASE_URL and migrates it: `sqlite:<path>` (WAL mode) for one process,
 * `postgres://…` for several replicas sharing one database.
 */
export async function openDatabase(url: string): Promise<Database> {
  const database = url.startsWith('sqlite:')
    ? openSqlite(url.slice('sqlite:'.length))
    : // Loaded only here: a gateway on SQLite never loads the PostgreSQL driver (memory, start-up time).
      openPostgres(url, (await import('pg')).default);
  try {
    await migrateToLatest(database.db as Kysely<unknown>, database.engine);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

function openSqlite(path: string): Database {
  const file = path === ':memory:' ? path : resolve(path);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a process crash; only an OS crash may lose the last commits.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  const checkpointer = file === ':memory:' ? undefined : startCheckpointer(sqlite, file);
  const db = new Kysely<DatabaseSchema>({
    dialect: new SqliteDialect({ database: withStatementCache(sqlite) }),
  });
  return {
    db,
    engine: 'sqlite',
    sqlite,
    location: file,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: async () => {
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}

/** How often the checkpoint thread copies the WAL back into the database file. */
export const CHECKPOINT_EVERY_MS = 1_000;
/** How often the checkpoint thread looks at the WAL's size (a stat call; cheap). */
const WAL_WATCH_EVERY_MS = 25;
/**
 * The WAL's bound. Under sustained writes a PASSIVE checkpoint never catches up with the writer, so the
 * WAL is never restarted and grows without end (hundreds of MB a minute at 16 clients). Past this size
 * the checkpoint thread runs a PASSIVE checkpoint and then a TRUNCATE one, which waits for the writer's
 * current transaction, copies the rest of the WAL back and empties it. Writers wait while it runs (tens of
 * milliseconds), once per WAL_LIMIT_BYTES of writes. journal_size_limit trims the file to this size on
 * every other restart. Measured in database.spec.ts.
 */
export const WAL_LIMIT_BYTES = 32 * 1024 * 1024;

// Runs in a worker thread with its own connection; PASSIVE never blocks the gateway's writes.
const CHECKPOINTER_SOURCE = `
const { statSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 200');
db.pragma('journal_size_limit = ' + workerData.walLimit);
const checkpoint = (mode) => { try { return db.pragma('wal_checkpoint(' + mode + ')')[0]; } catch {} };
const walSize = () => { try { return statSync(workerData.file + '-wal').size; } catch { return 0; } };
let passiveAt = Date.now();
const timer = setInterval(() => {
  if (walSize() > workerData.walLimit) {
    // PASSIVE copies most of the WAL beside the writer; TRUNCATE then holds writers only for the rest.
    checkpoint('PASSIVE');
    const done = checkpoint('TRUNCATE');
    // Starved by a writer that never lets go: ask the gateway thread, the only writer, to do it.
    if (!done || done.busy) parentPort.postMessage('truncate');
  } else if (Date.now() - passiveAt >= workerData.everyMs) {
    passiveAt = Date.now();
    checkpoint('PASSIVE');
  }
}, workerData.watchMs);
parentPort.once('message', () => {
  clearInterval(timer);
  checkpoint('PASSIVE');
  db.close();
  parentPort.close();
});
`;

/**
 * SQLite's automatic checkpoint runs inside a COMMIT on the gateway's own thread and syncs the database
 * file: a pause of milliseconds on the request path every few hundred changes. Instead a worker thread
 * checkpoints every CHECKPOINT_EVERY_MS on its own connection, and truncates the WAL once it passes
 * WAL_LIMIT_BYTES. Only when a writer that never pauses starves the worker's TRUNCATE does the gateway
 * thread run it (between two of its own transactions, so it cannot be starved). Should the worker fail,
 * the automatic checkpoint is switched back on, so the WAL never grows without bound.
 */
function startCheckpointer(sqlite: SQLite.Database, file: string): { stop(): Promise<void> } {
  sqlite.pragma('wal_autocheckpoint = 0');
  sqlite.pragma(`journal_size_limit = ${WAL_LIMIT_BYTES}`);
  const worker = new Worker(CHECKPOINTER_SOURCE, {
    eval: true,
    workerData: {
      file,
      everyMs: CHECKPOINT_EVERY_MS,
      watchMs: WAL_WATCH_EVERY_MS,
      walLimit: WAL_LIMIT_BYTES,
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
    },
    // It allocates next to nothing: a small heap keeps its memory small (the defaults reserve far more).
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16, stackSizeMb: 1 },
  });
  worker.unref();
  const fallBack = () => {
    if (sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
  };
  worker.on('error', fallBack);
  worker.on('message', () => {
    try {
      if (sqlite.open) sqlite.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // busy with the worker's own checkpoint: the WAL is being emptied anyway
    }
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    async stop() {
      worker.postMessage('stop');
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
      await Promise.race([exited, timeout]);
      await worker.terminate();
    },
  };
}

/** Distinct SQL texts kept prepared; the gateway issues a few dozen, so this bound is never reached in practice. */
const STATEMENT_CACHE_LIMIT = 500;

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs about as much as running these small
 * statements. The texts repeat (values are bound parameters), so keep each prepared statement. Safe
 * because better-sqlite3 is synchronous and Kysely serialises its single connection.
 */
function withStatementCache(sqlite: SQLite.Database): SqliteDialectDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare: (sql: string) => {
      let statement = cache.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (cache.size >= STATEMENT_CACHE_LIMIT) cache.clear();
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

/** Where DATABASE_URL points, without credentials or options (for logs and start-up errors). */
export function describeLocation(url: string): string {
  if (url.startsWith('sqlite:')) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return 'unparsable URL';
  }
}

function openPostgres(url: string, driver: typeof pg): Database {
  const pool = new driver.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  // A client that loses its connection (server restart: 57P01) emits 'error'; unheard, that ends the
  // process. The pool hears its idle clients; a client checked out between two statements is heard only
  // by its own listener, so every client gets one for life. A query running then fails with the error
  // (answered 5xx), the pool drops the dead client on release, and the next query reconnects.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    engine: 'postgres',
    location: describeLocation(url),
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}
