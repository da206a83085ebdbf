import { sql, type Kysely, type Migration } from 'kysely';
import { createIndex, createTable } from './migration-parts.js';

/** Batches and their items (CONTRACT §6), and the batch a change came from. */
export const BATCHES_MIGRATION: Migration = {
  async up(db: Kysely<unknown>) {
    await createTable(db, 'batches', {
      batch_id: 'text pk',
      caller_id: 'text!',
      idempotency_key: 'text',
      fingerprint: 'text',
      request_id: 'text!',
      total: 'integer!',
      created_at: 'text!',
      cancelled_at: 'text',
    });
    // NULL keys never collide (both engines), so only keyed batches are unique per caller.
    await createIndex(db, 'batches_idempotency', 'batches', ['caller_id', 'idempotency_key'], true);

    await createTable(
      db,
      'batch_items',
      {
        batch_id: 'text!',
        item_index: 'integer!',
        provider: 'text!',
        lane: 'text!',
        account_id: 'text!',
        customer_id: 'text',
        status: 'text!',
        reason: 'text',
        note: 'text',
        provider_options: 'text',
        outcome: 'text!',
        change_id: 'text!',
        provider_status: 'text',
        error: 'text',
        claimed_by: 'text',
        claimed_at: 'text',
        completed_at: 'text',
      },
      ['batch_id', 'item_index'],
    );
    await createIndex(db, 'batch_items_claim', 'batch_items', ['lane', 'outcome', 'batch_id', 'item_index']);
    await createIndex(db, 'batch_items_outcome', 'batch_items', ['outcome']);

    await db.schema.alterTable('change_attempts').addColumn('batch_id', 'text').execute();
  },
  async down(db: Kysely<unknown>) {
    await sql`drop table if exists batch_items`.execute(db);
    await sql`drop table if exists batches`.execute(db);
  },
};
