import { sql, type Kysely, type Migration } from 'kysely';

/** Batches and their items (CONTRACT §6), and the batch a change came from. */
export const BATCHES_MIGRATION: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('batches')
      .addColumn('batch_id', 'text', (c) => c.primaryKey())
      .addColumn('caller_id', 'text', (c) => c.notNull())
      .addColumn('idempotency_key', 'text')
      .addColumn('fingerprint', 'text')
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('total', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('cancelled_at', 'text')
      .execute();
    // NULL keys never collide (both engines), so only keyed batches are unique per caller.
    await db.schema
      .createIndex('batches_idempotency')
      .unique()
      .on('batches')
      .columns(['caller_id', 'idempotency_key'])
      .execute();

    await db.schema
      .createTable('batch_items')
      .addColumn('batch_id', 'text', (c) => c.notNull())
      .addColumn('item_index', 'integer', (c) => c.notNull())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('lane', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('customer_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('note', 'text')
      .addColumn('provider_options', 'text')
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('change_id', 'text', (c) => c.notNull())
      .addColumn('provider_status', 'text')
      .addColumn('error', 'text')
      .addColumn('claimed_by', 'text')
      .addColumn('claimed_at', 'text')
      .addColumn('completed_at', 'text')
      .addPrimaryKeyConstraint('batch_items_pk', ['batch_id', 'item_index'])
      .execute();
    await db.schema
      .createIndex('batch_items_claim')
      .on('batch_items')
      .columns(['lane', 'outcome', 'batch_id', 'item_index'])
      .execute();
    await db.schema.createIndex('batch_items_outcome').on('batch_items').columns(['outcome']).execute();

    await db.schema.alterTable('change_attempts').addColumn('batch_id', 'text').execute();
  },
  async down(db: Kysely<unknown>) {
    await sql`drop table if exists batch_items`.execute(db);
    await sql`drop table if exists batches`.execute(db);
  },
};
