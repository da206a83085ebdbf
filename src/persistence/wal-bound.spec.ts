import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WAL_LIMIT_BYTES, openDatabase } from './database.js';

const walSize = (file: string): number => {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
};

describe('SQLite WAL under sustained writes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'statusgate-wal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should stay bounded while the gateway thread writes without pause', async () => {
    const file = join(dir, 'gateway.sqlite');
    const database = await openDatabase(`sqlite:${file}`);
    let largest = 0;
    let written = 0;
    try {
      const sqlite = database.sqlite!;
      const insert = sqlite.prepare(
        `insert into gateway_instances (instance_id, started_at, heartbeat_at) values (?, ?, ?)`,
      );
      // As the gateway writes under load: one transaction per turn of the event loop (its group commit),
      // several rows in each, and the next turn a millisecond later.
      const turn = sqlite.transaction((rows: number) => {
        for (let i = 0; i < rows; i++) insert.run(`${payload}-${written++}`, 'now', 'now');
      });
      const payload = 'x'.repeat(4_000);
      // Each row spills into overflow pages: some 220 MB of WAL if nothing bounds it.
      while (written < 18_000) {
        turn(10);
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
