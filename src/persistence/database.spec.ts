import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_EVERY_MS, WAL_LIMIT_BYTES, openDatabase } from './database.js';

describe('SQLite checkpoints off the request thread', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'statusgate-db-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should leave the WAL alone on commit, and copy it into the database file from the worker', async () => {
    const file = join(dir, 'gateway.sqlite');
    const database = await openDatabase(`sqlite:${file}`);
    try {
      const sqlite = database.sqlite!;
      expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      // Let the worker fold in the migrations first, then measure from a settled file.
      await new Promise((resolve) => setTimeout(resolve, CHECKPOINT_EVERY_MS * 1.5));
      const before = statSync(file).size;
      const insert = sqlite.prepare(
        `insert into gateway_instances (instance_id, started_at, heartbeat_at) values (?, ?, ?)`,
      );
      const payload = 'x'.repeat(2_000);
      // About 20 MB of WAL: under WAL_LIMIT_BYTES, past which the worker truncates the WAL at once (it did
      // not before the bound existed, when this wrote 2,000 rows; see wal-bound.spec.ts).
      for (let i = 0; i < 1_000; i++) insert.run(`${payload}-${i}`, 'now', 'now');
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
});
