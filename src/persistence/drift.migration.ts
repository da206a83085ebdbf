import { sql, type Kysely, type Migration } from 'kysely';
import { createIndex, createTable } from './migration-parts.js';

/** The drift watch's last look at each watched account (CONTRACT §8). */
export const DRIFT_MIGRATION: Migration = {
  async up(db: Kysely<unknown>) {
    await createTable(
      db,
      'drift_checks',
      {
        provider: 'text!',
        account_id: 'text!',
        checked_at: 'text!',
        change_id: 'text!',
        expected_status: 'text!',
        observed_status: 'text',
        observed_provider_status: 'text',
        drifted_at: 'text',
      },
      ['provider', 'account_id'],
    );
  },
  async down(db: Kysely<unknown>) {
    await sql`drop table if exists drift_checks`.execute(db);
  },
};

/**
 * The drift watch's due-accounts query (DriftRepository.due and countDue) reads one provider's APPLIED
 * changes within the window every run: without this index that is a scan of the whole audit table.
 */
export const DRIFT_DUE_INDEX_MIGRATION: Migration = {
  async up(db: Kysely<unknown>) {
    await createIndex(db, 'change_attempts_applied_window', 'change_attempts', [
      'provider',
      'outcome',
      'completed_at',
    ]);
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('change_attempts_applied_window').execute();
  },
};
