import { sql, type Kysely, type Migration } from 'kysely';

/** The drift watch's last look at each watched account (CONTRACT §8). */
export const DRIFT_MIGRATION: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('drift_checks')
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('checked_at', 'text', (c) => c.notNull())
      .addColumn('change_id', 'text', (c) => c.notNull())
      .addColumn('expected_status', 'text', (c) => c.notNull())
      .addColumn('observed_status', 'text')
      .addColumn('observed_provider_status', 'text')
      .addColumn('drifted_at', 'text')
      .addPrimaryKeyConstraint('drift_checks_pk', ['provider', 'account_id'])
      .execute();
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
    await db.schema
      .createIndex('change_attempts_applied_window')
      .on('change_attempts')
      .columns(['provider', 'outcome', 'completed_at'])
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('change_attempts_applied_window').execute();
  },
};
