import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newAttempt } from './attempt.spec-support.js';
import { openDatabase, type Database } from './database.js';
import { SqliteChangeWrites } from './change-writes.sqlite.js';

const attempt = (changeId: string) =>
  newAttempt({
    changeId,
    requestId: `req-${changeId}`,
    providerRequest: { method: 'PATCH', url: 'http://x/v1/account/acc-1', body: { status: 'suspended' } },
  });

/** A claim of `key` by caller `svc`, made now, held for a minute, locked for ten seconds. */
const claimOf = (key: string) => ({
  callerId: 'svc',
  key,
  fingerprint: 'f',
  now: new Date(),
  ttlMs: 60_000,
  lockMs: 10_000,
});

describe('SqliteChangeWrites (group commit)', () => {
  let dir: string;
  let database: Database;
  let writes: SqliteChangeWrites;
  const count = () =>
    (database.sqlite!.prepare('select count(*) as n from change_attempts').get() as { n: number }).n;

  /** The writer's commits and requests since the test began (the migrations wrote through it too). */
  let base: { commits: number; requests: number };
  const stats = () => ({
    commits: writes.stats.commits - base.commits,
    requests: writes.stats.requests - base.requests,
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'statusgate-writes-'));
    database = await openDatabase(`sqlite:${join(dir, 'g.sqlite')}`);
    writes = new SqliteChangeWrites(database.sqlite!, database.writer!);
    base = { ...writes.stats };
  });
  afterEach(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should commit the writes of requests made in one turn together, once, before resolving any', async () => {
    const pending = Array.from({ length: 10 }, (_, i) =>
      writes.commit([{ kind: 'insertAttempt', attempt: attempt(`c-${i}`) }]),
    );
    expect(count()).toBe(0); // nothing written before the batch runs
    await Promise.all(pending);
    expect(count()).toBe(10);
    expect(stats()).toEqual({ commits: 1, requests: 10 });
    await writes.commit([{ kind: 'insertAttempt', attempt: attempt('c-late') }]);
    expect(stats()).toEqual({ commits: 2, requests: 11 });
  });

  it("should undo only the failing request's writes, all of them, and keep the others of the batch", async () => {
    await writes.commit([{ kind: 'insertAttempt', attempt: attempt('dup') }]);
    const claim = claimOf('k-1');
    const [ok1, failing, ok2, claimed] = await Promise.allSettled([
      writes.commit([{ kind: 'insertAttempt', attempt: attempt('a-1') }]),
      // Its first write would succeed, its second violates the primary key: both are undone.
      writes.commit([
        { kind: 'insertAttempt', attempt: attempt('a-2') },
        { kind: 'insertAttempt', attempt: attempt('dup') },
      ]),
      writes.commit([{ kind: 'insertAttempt', attempt: attempt('a-3') }]),
      writes.claimKey(claim),
    ]);
    expect(ok1.status).toBe('fulfilled');
    expect(failing.status).toBe('rejected');
    expect(ok2.status).toBe('fulfilled');
    expect(claimed).toEqual({ status: 'fulfilled', value: true });
    const ids = (
      database.sqlite!.prepare('select change_id from change_attempts order by change_id').all() as Array<{
        change_id: string;
      }>
    ).map((r) => r.change_id);
    expect(ids).toEqual(['a-1', 'a-3', 'dup']);
    // The same key again: already held, not claimed twice.
    expect(await writes.claimKey(claim)).toBe(false);
  });

  it('should complete and release keys and attempts like the repositories do', async () => {
    const claim = claimOf('k-2');
    expect(await writes.claimKey(claim)).toBe(true);
    await writes.commit([
      { kind: 'insertAttempt', attempt: attempt('x-1') },
      {
        kind: 'completeAttempt',
        changeId: 'x-1',
        completion: {
          outcome: 'APPLIED',
          providerHttpStatus: 200,
          providerStatus: 'suspended',
          latencyMs: 1.5,
          completedAt: 'then',
        },
      },
      { kind: 'completeKey', callerId: 'svc', key: 'k-2', status: 200, body: { ok: true }, changeId: 'x-1' },
    ]);
    const row = database.sqlite!.prepare('select * from change_attempts where change_id = ?').get('x-1');
    expect(row).toMatchObject({
      outcome: 'APPLIED',
      provider_http_status: 200,
      provider_status: '"suspended"',
      latency_ms: 1.5,
    });
    const key = database
      .sqlite!.prepare('select * from idempotency_keys where idempotency_key = ?')
      .get('k-2');
    expect(key).toMatchObject({
      state: 'COMPLETED',
      response_status: 200,
      response_body: '{"ok":true}',
      change_id: 'x-1',
    });
    // A completed key is not released; an in-progress one is.
    await writes.commit([{ kind: 'releaseKey', callerId: 'svc', key: 'k-2' }]);
    expect(await writes.claimKey(claim)).toBe(false);
    expect(await writes.claimKey({ ...claim, key: 'k-3' })).toBe(true);
    await writes.commit([{ kind: 'releaseKey', callerId: 'svc', key: 'k-3' }]);
    expect(await writes.claimKey({ ...claim, key: 'k-3' })).toBe(true);
  });

  it("should write a claim's records in its commit only when the claim wins", async () => {
    const claim = claimOf('k-9');
    expect(await writes.hasKey('svc', 'k-9')).toBe(false);
    // Two requests with one key in the same batch: the first claims and records, the second writes nothing.
    const [won, lost] = await Promise.all([
      writes.claimKey(claim, [{ kind: 'insertAttempt', attempt: attempt('w-1') }]),
      writes.claimKey(claim, [{ kind: 'insertAttempt', attempt: attempt('w-2') }]),
    ]);
    expect([won, lost]).toEqual([true, false]);
    expect(stats()).toEqual({ commits: 1, requests: 2 });
    expect(await writes.hasKey('svc', 'k-9')).toBe(true);
    expect(await writes.hasKey('other', 'k-9')).toBe(false);
    const ids = database.sqlite!.prepare('select change_id from change_attempts').pluck().all();
    expect(ids).toEqual(['w-1']);
    // A claim whose record fails is undone with it: the key stays free.
    await expect(
      writes.claimKey({ ...claim, key: 'k-10' }, [{ kind: 'insertAttempt', attempt: attempt('w-1') }]),
    ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    expect(await writes.hasKey('svc', 'k-10')).toBe(false);
  });
});
