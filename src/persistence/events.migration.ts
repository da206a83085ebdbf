import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

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
    await db.schema.createIndex('events_time').on('events').columns(['time']).execute();

    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('subscriber_id', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('event_txid', postgres ? sql`xid8` : 'integer', (c) => c.notNull())
      .addColumn('event_seq', postgres ? 'bigint' : 'integer', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('next_attempt_at', 'text', (c) => c.notNull())
      .addColumn('leased_by', 'text')
      .addColumn('leased_until', 'text')
      .addColumn('ended_at', 'text')
      .addColumn('last_error', 'text')
      .addPrimaryKeyConstraint('webhook_deliveries_pk', ['subscriber_id', 'event_id'])
      .execute();
    await db.schema
      .createIndex('webhook_deliveries_due')
      .on('webhook_deliveries')
      .columns(['subscriber_id', 'state', 'next_attempt_at'])
      .execute();
    await db.schema
      .createIndex('webhook_deliveries_order')
      .on('webhook_deliveries')
      .columns(['subscriber_id', 'subject', 'state', 'event_txid', 'event_seq'])
      .execute();

    await db.schema
      .createTable('webhook_cursors')
      .addColumn('subscriber_id', 'text', (c) => c.primaryKey())
      .addColumn('cursor', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await sql`drop table if exists webhook_cursors`.execute(db);
    await sql`drop table if exists webhook_deliveries`.execute(db);
    await sql`drop table if exists events`.execute(db);
  },
};
