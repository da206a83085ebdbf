import pg from 'pg';
import { openDatabase, type Database } from '../src/persistence/database.js';
import {
  describeWithPostgres,
  POSTGRES_TEST_URL,
  freshPostgres,
  type TestDatabase,
} from './support/databases.js';

/** Ends a backend the way a server shutdown does (57P01 terminating connection due to administrator command). */
async function terminate(pid: number): Promise<void> {
  const admin = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await admin.connect();
  await admin.query('select pg_terminate_backend($1)', [pid]);
  await admin.end();
}

await describeWithPostgres('PostgreSQL connection loss', () => {
  let testDb: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDb = await freshPostgres();
    database = await openDatabase(testDb.url);
  });
  afterAll(async () => {
    await database.close();
    await testDb.drop();
  });

  it('should survive the loss of a client checked out of the pool between two statements', async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record);
    const client = await database.pool!.connect();
    const listeners = client.listenerCount('error');
    try {
      const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
      await client.query('begin');
      // Held, no query running: as in a transaction between its statements when the server stops.
      await terminate(pid);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      client.release(new Error('connection lost'));
      process.off('uncaughtException', record);
    }
    expect(listeners).toBeGreaterThan(0);
    expect(uncaught).toEqual([]);
    // The pool serves again with a new connection.
    await database.ping();
  });
});
