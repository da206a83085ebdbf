import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { newAttempt } from './attempt.spec-support.js';
import { SqliteChangeWrites } from './change-writes.sqlite.js';
import { openDatabase, type Database } from './database.js';

// Refused statements, key claims and group commit of the change writes: change-writes.sqlite.spec.ts.

const attempt = (changeId: string) => newAttempt({ changeId, requestId: `req-${changeId}` });

/** A write that holds the writer (and the database's write lock) for a while: a long recursive count. */
const slowWrite = (database: Database) => ({
  kind: 'sql' as const,
  query:
    sql`update change_attempts set note = note where change_id in (with recursive c(x) as (select 1 union all select x + 1 from c where x < 3000000) select cast(count(*) as text) from c)`.compile(
      database.db,
    ),
});

/** Waits until `connection` cannot take the write lock (someone else holds it); false after a second. */
async function lockHeldElsewhere(connection: SQLite.Database): Promise<boolean> {
  connection.pragma('busy_timeout = 0');
  for (const until = Date.now() + 1000; Date.now() < until;) {
    try {
      connection.prepare('begin immediate').run();
      connection.prepare('rollback').run();
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return false;
}

const settled = async (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), ms))]);

describe('SQLite writes on the writer thread (the event loop never waits on the disk)', () => {
  let dir: string;
  let database: Database;
  let writes: SqliteChangeWrites;
  /** A connection of its own, as another process would see the file. */
  let other: SQLite.Database;
  const recorded = (changeId: string) =>
    other.prepare('select 1 from change_attempts where change_id = ?').get(changeId) !== undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'statusgate-writer-'));
    database = await openDatabase(`sqlite:${join(dir, 'g.sqlite')}`);
    writes = new SqliteChangeWrites(database.sqlite!, database.writer!);
    other = new SQLite(database.location);
  });
  afterEach(async () => {
    other.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("should refuse writes on the main thread's connection: it only reads", () => {
    expect(() =>
      database.sqlite!.prepare(`insert into gateway_instances values ('x', 'now', 'now')`).run(),
    ).toThrow(/readonly/);
  });

  it('should answer a commit only once it is committed, and not while another connection holds the write lock', async () => {
    other.prepare('begin immediate').run();
    const pending = writes.commit([{ kind: 'insertAttempt', attempt: attempt('held') }]);
    const viaKysely = database.db
      .insertInto('gateway_instances')
      .values({ instance_id: 'i-held', started_at: 'now', heartbeat_at: 'now' })
      .execute();
    expect(await settled(pending, 200)).toBe(false);
    expect(await settled(viaKysely, 10)).toBe(false);
    other.prepare('commit').run();
    await pending;
    await viaKysely;
    expect(recorded('held')).toBe(true);
    expect(
      other.prepare(`select count(*) from gateway_instances where instance_id = 'i-held'`).pluck().get(),
    ).toBe(1);
  });

  it('should keep the event loop ticking, and reads answering, while the writer holds the write lock', async () => {
    const slow = writes.commit([{ kind: 'insertAttempt', attempt: attempt('slow') }, slowWrite(database)]);
    // The writer is inside its transaction: nobody else can take the write lock now …
    expect(await lockHeldElsewhere(other)).toBe(true);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = Date.now();
    // … yet this thread runs timers and reads, the hot path's and Kysely's.
    expect(await writes.hasKey('svc', 'absent')).toBe(false);
    const rows = await database.db.selectFrom('change_attempts').select('change_id').execute();
    expect(rows).toEqual([]); // the slow group is not committed yet
    await slow;
    clearInterval(timer);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThan(50);
    expect(ticks).toBeGreaterThan(elapsed / 5 / 3);
    expect(recorded('slow')).toBe(true);
  });

  it("should give Kysely's writes their results, and run a transaction on the writer alone", async () => {
    const inserted = await database.db
      .insertInto('gateway_instances')
      .values({ instance_id: 'i-1', started_at: 'a', heartbeat_at: 'a' })
      .executeTakeFirst();
    expect(inserted.numInsertedOrUpdatedRows).toBe(1n);
    const returned = await database.db
      .updateTable('gateway_instances')
      .set({ heartbeat_at: 'b' })
      .where('instance_id', '=', 'i-1')
      .returning(['instance_id', 'heartbeat_at'])
      .execute();
    expect(returned).toEqual([{ instance_id: 'i-1', heartbeat_at: 'b' }]);
    let during: boolean | undefined;
    const outside = writes.commit([{ kind: 'insertAttempt', attempt: attempt('outside') }]);
    await expect(
      database.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('gateway_instances')
          .values({ instance_id: 'i-2', started_at: 'a', heartbeat_at: 'a' })
          .execute();
        // It reads its own write (on the writer), which no other connection sees yet.
        const seen = await trx
          .selectFrom('gateway_instances')
          .select('instance_id')
          .where('instance_id', '=', 'i-2')
          .execute();
        expect(seen).toHaveLength(1);
        expect(
          other.prepare(`select count(*) from gateway_instances where instance_id = 'i-2'`).pluck().get(),
        ).toBe(0);
        during = recorded('outside');
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    await outside;
    // The group asked for beside the transaction waited for it to end, instead of joining it …
    expect(during).toBe(false);
    // … and the rollback undid only the transaction's own write.
    expect(recorded('outside')).toBe(true);
    expect(
      other.prepare(`select count(*) from gateway_instances where instance_id = 'i-2'`).pluck().get(),
    ).toBe(0);
  });

  it('should refuse writes at once once the database is closed, instead of leaving them unanswered', async () => {
    await database.close();
    await expect(writes.commit([{ kind: 'insertAttempt', attempt: attempt('late') }])).rejects.toThrow(
      /database is closed/,
    );
    await expect(database.db.deleteFrom('gateway_instances').execute()).rejects.toThrow(/database is closed/);
    expect(recorded('late')).toBe(false);
  });

  it('should start a new thread at most once a second while threads die, and write once one lives', async () => {
    const writer = database.writer as unknown as { worker?: Worker; generation: number };
    /** Waits for the thread after `generation` to start, and says when it did. */
    const nextThread = async (generation: number) => {
      while (writer.generation === generation) await new Promise((resolve) => setTimeout(resolve, 2));
      return Date.now();
    };
    await writer.worker!.terminate();
    const first = writes.commit([{ kind: 'insertAttempt', attempt: attempt('first') }]);
    const firstStarted = await nextThread(writer.generation);
    await writer.worker!.terminate(); // dies with the write in flight
    await expect(first).rejects.toThrow(/writer thread stopped/);
    const second = writes.commit([{ kind: 'insertAttempt', attempt: attempt('second') }]);
    const secondStarted = await nextThread(writer.generation);
    await second;
    expect(secondStarted - firstStarted).toBeGreaterThanOrEqual(990);
    expect(recorded('second')).toBe(true);
    expect(recorded('first')).toBe(false);
  });

  it('should fail the writes in flight when the writer thread dies, and write the next ones on a new thread', async () => {
    const lost = writes.commit([{ kind: 'insertAttempt', attempt: attempt('lost') }, slowWrite(database)]);
    expect(await lockHeldElsewhere(other)).toBe(true);
    await (database.writer as unknown as { worker: Worker }).worker.terminate();
    await expect(lost).rejects.toThrow(/writer thread stopped/);
    await writes.commit([{ kind: 'insertAttempt', attempt: attempt('after') }]);
    expect(recorded('after')).toBe(true);
    expect(recorded('lost')).toBe(false); // terminated inside its transaction: rolled back
  });
});
