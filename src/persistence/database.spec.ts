import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_EVERY_MS, WAL_LIMIT_BYTES, openDatabase, type Database } from './database.js';

const walSize = (file: string): number => {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
};

/** A row of some size in a table every database has, written as the gateway writes: on the writer thread. */
const insertRow = (database: Database, id: string): Promise<unknown> =>
  database.writer!.write([
    null,
    [
      [
        `insert into gateway_instances (instance_id, started_at, heartbeat_at) values (?, ?, ?)`,
        [id, 'now', 'now'],
      ],
    ],
    false,
  ]);

describe('SQLite checkpoints off the request thread, and a bounded WAL', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'statusgate-db-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should leave the WAL alone on commit, and copy it into the database file from the worker', async () => {
    const file = join(dir, 'gateway.sqlite');
    const database = await openDatabase(`sqlite:${file}`);
    try {
      const session = await database.writer!.session();
      const setting = await session.run('pragma wal_autocheckpoint', []);
      await session.end(true);
      expect(setting.rows).toEqual([{ wal_autocheckpoint: 0 }]);
      // Let the worker fold in the migrations first, then measure from a settled file.
      await new Promise((resolve) => setTimeout(resolve, CHECKPOINT_EVERY_MS * 1.5));
      const before = statSync(file).size;
      const payload = 'x'.repeat(2_000);
      // About 20 MB of WAL: under WAL_LIMIT_BYTES, past which the worker truncates the WAL at once (it did
      // not before the bound existed, when this wrote 2,000 rows; see below).
      for (let i = 0; i < 1_000; i++) await insertRow(database, `${payload}-${i}`);
      // Committed, in the WAL, not yet in the database file: no checkpoint ran on this thread.
      expect(statSync(file).size).toBe(before);
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(1_000 * 2_000);
      expect(statSync(`${file}-wal`).size).toBeLessThan(WAL_LIMIT_BYTES);
      await new Promise((resolve) => setTimeout(resolve, CHECKPOINT_EVERY_MS * 2.5));
      expect(statSync(file).size).toBeGreaterThan(before + 1_000 * 2_000);
    } finally {
      await database.close();
    }
  });

  it('should stay bounded while the writer thread writes without pause', async () => {
    const file = join(dir, 'gateway.sqlite');
    const database = await openDatabase(`sqlite:${file}`);
    let largest = 0;
    let written = 0;
    try {
      // As the gateway writes under load: one group commit after another, several rows in each, the next a
      // millisecond later.
      const turn = (rows: number) =>
        Promise.all(Array.from({ length: rows }, () => insertRow(database, `${payload}-${written++}`)));
      const payload = 'x'.repeat(4_000);
      // Each row spills into overflow pages: some 220 MB of WAL if nothing bounds it.
      while (written < 18_000) {
        await turn(10);
        largest = Math.max(largest, walSize(file));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    } finally {
      await database.close();
    }
    expect(largest).toBeGreaterThan(0);
    // The bound plus what the writer adds while one checkpoint runs: this test writes some 50 MB/s of WAL,
    // several times what 16 clients make the gateway write. Unbounded (before the fix) it reached 222 MB.
    expect(largest).toBeLessThan(3 * WAL_LIMIT_BYTES);
  }, 30_000);
});
