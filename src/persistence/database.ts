import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import { migrateToLatest } from './migrations.js';
import type { DatabaseSchema } from './schema.js';
import { SqliteWriterDialect } from './sqlite-dialect.js';
import { SqliteWriter, WORKER_EXEC_ARGV } from './sqlite-writer.js';

export type Engine = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<DatabaseSchema>;
  engine: Engine;
  /**
   * SQLite only: the main thread's connection, which only reads (query_only; Kysely's reads and the
   * hot path's key lookup), and the writer thread every write goes through (sqlite-writer.ts).
   */
  sqlite?: SQLite.Database;
  writer?: SqliteWriter;
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
  if (path === ':memory:') {
    // Two connections (reader and writer thread) cannot share an in-memory database.
    throw new Error(
      'DATABASE_URL sqlite::memory: is not supported: name a file (the writer thread opens it too)',
    );
  }
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // This connection only reads; every write goes through the writer thread, and this makes sure of it.
  sqlite.pragma('query_only = ON');
  let writer: SqliteWriter;
  try {
    writer = new SqliteWriter(file, WAL_LIMIT_BYTES);
  } catch (error) {
    sqlite.close();
    throw error;
  }
  const checkpointer = startCheckpointer(writer, file);
  const db = new Kysely<DatabaseSchema>({ dialect: new SqliteWriterDialect(sqlite, writer) });
  return {
    db,
    engine: 'sqlite',
    sqlite,
    writer,
    location: file,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: async () => {
      await checkpointer.stop();
      await writer.close();
      sqlite.close();
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
 * current transaction, copies the rest of the WAL back and empties it. Writes wait while it runs (tens of
 * milliseconds), once per WAL_LIMIT_BYTES of writes. journal_size_limit trims the file to this size on
 * every other restart. Measured in database.spec.ts.
 */
export const WAL_LIMIT_BYTES = 32 * 1024 * 1024;

// Runs in a worker thread with its own connection; PASSIVE never blocks the writer thread's writes.
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
    // Starved by a writer that never lets go: ask the writer thread, the only writer, to do it.
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
 * SQLite's automatic checkpoint runs inside a COMMIT and syncs the database file: a pause of milliseconds
 * for the writes of that group every few hundred changes. Instead a worker thread checkpoints every
 * CHECKPOINT_EVERY_MS on its own connection, and truncates the WAL once it passes WAL_LIMIT_BYTES. Only
 * when a writer that never pauses starves the worker's TRUNCATE does the writer thread run it (between
 * two of its own transactions, so it cannot be starved). Should the worker fail, the automatic checkpoint
 * is switched back on (on the writer's connection), so the WAL never grows without bound.
 */
function startCheckpointer(writer: SqliteWriter, file: string): { stop(): Promise<void> } {
  const worker = new Worker(CHECKPOINTER_SOURCE, {
    eval: true,
    workerData: {
      file,
      everyMs: CHECKPOINT_EVERY_MS,
      watchMs: WAL_WATCH_EVERY_MS,
      walLimit: WAL_LIMIT_BYTES,
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
    },
    execArgv: WORKER_EXEC_ARGV,
    // It allocates next to nothing: a small heap keeps its memory small (the defaults reserve far more).
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16, stackSizeMb: 1 },
  });
  worker.unref();
  worker.on('error', () => writer.post('autocheckpoint'));
  worker.on('message', () => writer.post('truncate'));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    async stop() {
      worker.ref(); // the process waits for its last checkpoint (unref'd, it could end first)
      worker.postMessage('stop');
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
      await Promise.race([exited, timeout]);
      await worker.terminate();
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
