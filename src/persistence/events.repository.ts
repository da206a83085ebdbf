import { sql, type Kysely } from 'kysely';
import type { EventRecord, EventType } from '../events/cloud-events.js';
import type { Engine } from './database.js';
import type { DatabaseSchema } from './schema.js';

/** A place in the feed: after the event at (txid, seq). The start is (0, 0). */
export interface FeedPosition {
  txid: string;
  seq: string;
}

export const FEED_START: FeedPosition = { txid: '0', seq: '0' };

export interface StoredEvent extends EventRecord {
  position: FeedPosition;
}

export interface FeedFilter {
  type?: EventType;
  subject?: string;
}

interface Row {
  seq: string | number;
  txid: string | number;
  id: string;
  type: string;
  subject: string;
  time: string;
  data: string;
}

/**
 * The read side of the outbox: the feed, and retention.
 *
 * Commit order and id order differ when transactions overlap (on PostgreSQL, across connections and
 * replicas): an event numbered 7 may commit after one numbered 8. A reader that had moved past 8 would never
 * see 7. So each row carries its transaction's id, and the feed serves, in (txid, seq) order, only rows of
 * transactions older than the oldest one still running (`pg_snapshot_xmin`): every such transaction has
 * ended, so no row can later appear before the cursor. A consumer therefore sees every event once; events of
 * one account stay in commit order (its changes are serialised, so a later one has a later transaction).
 * The cost: a long-running transaction anywhere on the server holds the feed back until it ends.
 * On SQLite one connection writes, so seq order is commit order (txid is always 0).
 */
export class EventsRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly engine: Engine,
  ) {}

  async feed(after: FeedPosition, limit: number, filter: FeedFilter = {}): Promise<StoredEvent[]> {
    const type = filter.type === undefined ? sql`` : sql` and type = ${filter.type}`;
    const subject = filter.subject === undefined ? sql`` : sql` and subject = ${filter.subject}`;
    const rows =
      this.engine === 'postgres'
        ? // Ordered by the columns, not by their text aliases (as text, '100' sorts before '99').
          await sql<Row>`select seq::text as seq, txid::text as txid, id, type, subject, time, data from events
            where (txid, seq) > (${after.txid}::xid8, ${after.seq}::bigint)
              and txid < pg_snapshot_xmin(pg_current_snapshot())${type}${subject}
            order by events.txid, events.seq limit ${limit}`.execute(this.db)
        : await sql<Row>`select seq, txid, id, type, subject, time, data from events
            where seq > ${Number(after.seq)}${type}${subject}
            order by seq limit ${limit}`.execute(this.db);
    return rows.rows.map(toStored);
  }

  /** The position after the last event a reader can be served now (where a new subscriber starts). */
  async end(): Promise<FeedPosition> {
    const row =
      this.engine === 'postgres'
        ? (
            await sql<{ txid: string; seq: string }>`select txid::text as txid, seq::text as seq from events
              where txid < pg_snapshot_xmin(pg_current_snapshot())
              order by events.txid desc, events.seq desc limit 1`.execute(this.db)
          ).rows[0]
        : (
            await sql<{
              txid: number;
              seq: number;
            }>`select txid, seq from events order by seq desc limit 1`.execute(this.db)
          ).rows[0];
    return row ? { txid: String(row.txid), seq: String(row.seq) } : FEED_START;
  }

  /** Events of these ids, with their positions (for webhook deliveries). */
  async byIds(ids: readonly string[]): Promise<Map<string, StoredEvent>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.selectFrom('events').selectAll().where('id', 'in', ids).execute();
    return new Map(rows.map((row) => [row.id, toStored(row)]));
  }

  /** Removes events older than `before` (EVENT_RETENTION_DAYS) and ended deliveries of that age. */
  async prune(before: Date): Promise<number> {
    const cut = before.toISOString();
    const result = await this.db.deleteFrom('events').where('time', '<', cut).executeTakeFirst();
    await this.db
      .deleteFrom('webhook_deliveries')
      .where('state', '<>', 'PENDING')
      .where('created_at', '<', cut)
      .execute();
    return Number(result.numDeletedRows);
  }
}

function toStored(row: Row): StoredEvent {
  return {
    id: row.id,
    type: row.type as EventType,
    subject: row.subject,
    time: row.time,
    data: JSON.parse(row.data) as EventRecord['data'],
    position: { txid: String(row.txid), seq: String(row.seq) },
  };
}
