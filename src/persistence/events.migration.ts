import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';
import { createIndex, createTable } from './migration-parts.js';

/** The outbox of events (CONTRACT §7) and the webhook deliveries made from it. */
export const EVENTS_MIGRATION: Migration = {
  async up(db: Kysely<unknown>) {
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
    if (postgres) {
      // txid: the writing transaction, so the feed can hold back rows of transactions still running.
      await sql`create table events (
        seq bigserial primary key,
        txid xid8 not null default pg_current_xact_id(),
        id text not null unique,
        type text not null,
        subject text not null,
        time text not null,
        data text not null)`.execute(db);
      await sql`create index events_position on events (txid, seq)`.execute(db);
    } else {
      await sql`create table events (
        seq integer primary key autoincrement,
        txid integer not null default 0,
        id text not null unique,
        type text not null,
        subject text not null,
        time text not null,
        data text not null)`.execute(db);
    }
    await createIndex(db, 'events_time', 'events', ['time']);

    await createTable(
      db,
      'webhook_deliveries',
      {
        subscriber_id: 'text!',
        event_id: 'text!',
        event_txid: { notNull: postgres ? sql`xid8` : 'integer' },
        event_seq: { notNull: postgres ? 'bigint' : 'integer' },
        subject: 'text!',
        state: 'text!',
        attempts: 'integer!',
        created_at: 'text!',
        next_attempt_at: 'text!',
        leased_by: 'text',
        leased_until: 'text',
        ended_at: 'text',
        last_error: 'text',
      },
      ['subscriber_id', 'event_id'],
    );
    await createIndex(db, 'webhook_deliveries_due', 'webhook_deliveries', [
      'subscriber_id',
      'state',
      'next_attempt_at',
    ]);
    await createIndex(db, 'webhook_deliveries_order', 'webhook_deliveries', [
      'subscriber_id',
      'subject',
      'state',
      'event_txid',
      'event_seq',
    ]);

    await createTable(db, 'webhook_cursors', {
      subscriber_id: 'text pk',
      cursor: 'text!',
    });
  },
  async down(db: Kysely<unknown>) {
    await sql`drop table if exists webhook_cursors`.execute(db);
    await sql`drop table if exists webhook_deliveries`.execute(db);
    await sql`drop table if exists events`.execute(db);
  },
};
