import type { CompiledQuery } from 'kysely';
import type { Logger } from 'pino';
import type { EventRecord } from '../events/cloud-events.js';
import { uuidv7 } from '../common/ids.js';
import { PostgresAccountLocks } from './account-locks.postgres.js';
import { AuditRepository } from './audit.repository.js';
import type { ChangeWrites } from './change-writes.js';
import { PostgresChangeWrites } from './change-writes.postgres.js';
import { SqliteChangeWrites } from './change-writes.sqlite.js';
import { describeLocation, openDatabase, type Database } from './database.js';
import { DriftRepository } from './drift.repository.js';
import { IdempotencyRepository, type BeginRequest, type BeginResult } from './idempotency.repository.js';
import { EventsRepository } from './events.repository.js';
import { InstanceRepository } from './instance.repository.js';
import { LocalLease, PostgresLease } from './watch-lease.postgres.js';

/** How often a process proves it is alive, and after how long without proof it is presumed dead. */
export const HEARTBEAT_MS = 10_000;
export const INSTANCE_STALE_MS = 30_000;
/** How often expired idempotency keys are purged. */
export const PURGE_EVERY_MS = 10 * 60_000;

/**
 * The gateway's durable state: audit trail, idempotency keys, and the registry of processes sharing
 * the database. Opening it migrates the schema and marks the unfinished attempts of dead processes.
 */
export class Store {
  readonly audit: AuditRepository;
  /** The outbox's read side: the event feed and retention (CONTRACT §7). */
  readonly events: EventsRepository;
  readonly idempotency: IdempotencyRepository;
  readonly instances: InstanceRepository;
  /** The hot-path writes of a status change (prepared statements and group commit on SQLite). */
  readonly writes: ChangeWrites;
  readonly instanceId = uuidv7();
  /** Per-account locks shared by the replicas of one PostgreSQL database (none on SQLite: one process). */
  readonly accountLocks: PostgresAccountLocks | undefined;
  /** The drift watch's reads and records (CONTRACT §8), and the lease that lets one replica run it. */
  readonly drift: DriftRepository;
  readonly driftLease: PostgresLease | LocalLease;
  private readonly timers: NodeJS.Timeout[] = [];

  private constructor(
    readonly database: Database,
    private readonly logger: Logger,
    url: string,
  ) {
    this.writes = database.writer
      ? new SqliteChangeWrites(database.sqlite!, database.writer)
      : new PostgresChangeWrites(database.pool!);
    this.audit = new AuditRepository(database.db);
    this.events = new EventsRepository(database.db, database.engine);
    this.idempotency = new IdempotencyRepository(database.db, this.writes, INSTANCE_STALE_MS);
    this.instances = new InstanceRepository(database.db);
    this.accountLocks = database.engine === 'postgres' ? new PostgresAccountLocks(url) : undefined;
    this.drift = new DriftRepository(database.db, (statements, events) =>
      this.commitWithEvents(statements, events),
    );
    this.driftLease =
      database.engine === 'postgres' ? new PostgresLease(url, 'statusgate:drift-watch') : new LocalLease();
  }

  /**
   * Opens a change's idempotency key. `new`: the key has no row and is best claimed in the same commit
   * as the change's first record (`writes.claimKey(request, firstWrites)`; SQLite, where this look is a
   * local read and the commit saved is the costly part). Otherwise the key is claimed now (PostgreSQL,
   * where the look and a multi-statement transaction would cost more round trips than the commit they
   * save), and a key already there is replayed, refused or taken over.
   */
  async openKey(request: BeginRequest): Promise<BeginResult | { kind: 'new' }> {
    if (this.writes.claimWithFirstRecord) {
      if (!(await this.writes.hasKey(request.callerId, request.key))) return { kind: 'new' };
      return this.idempotency.begin(request, true);
    }
    if (await this.writes.claimKey(request)) return { kind: 'started' };
    return this.idempotency.begin(request, true);
  }

  /**
   * The one way, off the hot path, to write rows and the events that describe them in one transaction
   * (CONTRACT §7: none lost, none without its record). `statements` are compiled by this store's Kysely,
   * e.g. `store.database.db.insertInto('drift_state').values(row).onConflict(…).compile()`; then
   * `events` (built with events/cloud-events.ts, e.g. `driftEvent(…)`) are appended. SQLite: one
   * synchronous transaction inside the group commit; PostgreSQL: one transaction on one connection.
   * An event placed right after a statement is written only when that statement changed a row, so
   * `insert … on conflict do nothing` followed by its event records the event for a new row only.
   * Resolves once committed; rejects, having written nothing, when any statement fails.
   */
  commitWithEvents(statements: readonly CompiledQuery[], events: readonly EventRecord[]): Promise<void> {
    return this.writes.commit([
      ...statements.map((query) => ({ kind: 'sql' as const, query })),
      ...events.map((event) => ({ kind: 'insertEvent' as const, event })),
    ]);
  }

  /**
   * Whether the store can write now, for readiness: a heartbeat of this process, a real write (a full disk
   * or a read-only database fails it while a read still answers).
   */
  async probeWrite(): Promise<void> {
    await this.instances.heartbeat(this.instanceId, new Date());
  }

  /**
   * Opens, migrates and registers this process. Fails with one line naming DATABASE_URL (without
   * credentials) and the cause: a read-only file, an unreachable server, a wrong password.
   */
  static async open(url: string, logger: Logger): Promise<Store> {
    let database: Database;
    try {
      database = await openDatabase(url);
    } catch (error) {
      throw new StoreOpenError(url, error);
    }
    const store = new Store(database, logger, url);
    try {
      await store.instances.register(store.instanceId, new Date());
      await store.sweep(true);
      await store.purge();
    } catch (error) {
      await database.close().catch(() => undefined);
      throw new StoreOpenError(url, error);
    }
    store.schedule(() => store.instances.heartbeat(store.instanceId, new Date()), HEARTBEAT_MS);
    if (database.engine === 'postgres') store.schedule(() => store.sweep(false), HEARTBEAT_MS);
    store.schedule(() => store.purge(), PURGE_EVERY_MS);
    logger.info(
      { engine: database.engine, location: database.location, instanceId: store.instanceId },
      'store open',
    );
    return store;
  }

  /** Marks attempts left PENDING by processes that died (see AuditRepository.markUnfinished). */
  async sweep(atStart: boolean): Promise<number> {
    const scope =
      this.database.engine === 'sqlite' && atStart
        ? ({ allOthers: true } as const)
        : { staleBefore: new Date(Date.now() - INSTANCE_STALE_MS) };
    const unfinished = await this.audit.markUnfinished(this.instanceId, scope);
    const marked = unfinished.length;
    // Their keys are free now, not when their lock lapses: the next request resolves them (see IdempotencyService).
    const keys = unfinished.flatMap(({ callerId, key }) => (key === null ? [] : [{ callerId, key }]));
    await this.idempotency.unlock(keys, new Date(Date.now() - 1));
    if (marked > 0) this.logger.warn({ marked }, 'change attempts of a process that died marked UNFINISHED');
    if (this.database.engine === 'postgres')
      await this.instances.reapStale(new Date(Date.now() - 10 * INSTANCE_STALE_MS));
    return marked;
  }

  async purge(): Promise<number> {
    const purged = await this.idempotency.purgeExpired(new Date());
    if (purged > 0) this.logger.info({ purged }, 'expired idempotency keys purged');
    return purged;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.instances.remove(this.instanceId).catch(() => undefined);
    await this.accountLocks?.close();
    await this.driftLease.close();
    await this.writes.close?.();
    await this.database.close();
  }

  private schedule(task: () => Promise<unknown>, everyMs: number): void {
    const timer = setInterval(() => {
      task().catch((error: unknown) => this.logger.error({ err: error }, 'store maintenance failed'));
    }, everyMs);
    timer.unref();
    this.timers.push(timer);
  }
}

/** The store named by DATABASE_URL cannot be used; the message is one line fit for the start-up error. */
export class StoreOpenError extends Error {
  constructor(url: string, cause: unknown) {
    const why = (cause instanceof Error ? cause.message : String(cause)).replace(/\s+/g, ' ').trim();
    super(`DATABASE_URL (${describeLocation(url)}) cannot be opened for reading and writing: ${why}`, {
      cause,
    });
    this.name = 'StoreOpenError';
  }
}
