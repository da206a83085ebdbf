import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { createIndex, createTable } from './migration-parts.js';
import { BATCHES_MIGRATION } from './batches.migration.js';
import { EVENTS_MIGRATION } from './events.migration.js';
import { DRIFT_DUE_INDEX_MIGRATION, DRIFT_MIGRATION } from './drift.migration.js';

/**
 * Versioned migrations, kept in code so the built server needs no migration files beside it.
 * Kysely's migrator takes a lock first, so replicas starting together apply each migration once.
 * Never edit a released migration: add a new one.
 */
const MIGRATIONS: Record<string, Migration> = {
  '0001_audit_and_idempotency': {
    async up(db: Kysely<unknown>) {
      await createTable(db, 'change_attempts', {
        change_id: 'text pk',
        provider: 'text!',
        account_id: 'text!',
        customer_id: 'text',
        caller_id: 'text!',
        request_id: 'text!',
        status: 'text!',
        reason: 'text',
        note: 'text',
        idempotency_key: 'text',
        provider_request: 'text',
        outcome: 'text!',
        error_code: 'text',
        provider_http_status: 'integer',
        provider_code: 'text',
        provider_message: 'text',
        provider_status: 'text',
        latency_ms: 'real',
        instance_id: 'text!',
        created_at: 'text!',
        completed_at: 'text',
      });
      await createIndex(db, 'change_attempts_account', 'change_attempts', [
        'provider',
        'account_id',
        'change_id',
      ]);
      await createIndex(db, 'change_attempts_outcome', 'change_attempts', ['outcome']);

      await createTable(
        db,
        'idempotency_keys',
        {
          caller_id: 'text!',
          idempotency_key: 'text!',
          fingerprint: 'text!',
          state: 'text!',
          response_status: 'integer',
          response_body: 'text',
          change_id: 'text',
          created_at: 'text!',
          expires_at: 'text!',
          locked_until: 'text!',
        },
        ['caller_id', 'idempotency_key'],
      );
      await createIndex(db, 'idempotency_keys_expiry', 'idempotency_keys', ['expires_at']);

      await createTable(db, 'gateway_instances', {
        instance_id: 'text pk',
        started_at: 'text!',
        heartbeat_at: 'text!',
      });
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table if exists gateway_instances`.execute(db);
      await sql`drop table if exists idempotency_keys`.execute(db);
      await sql`drop table if exists change_attempts`.execute(db);
    },
  },
  '0002_batches': BATCHES_MIGRATION,
  '0003_events': EVENTS_MIGRATION,
  '0004_drift': DRIFT_MIGRATION,
  // Which process holds an IN_PROGRESS key: a key whose holder is known dead is taken over at once (on
  // PostgreSQL a key is claimed before the change's first record, so the sweep of records cannot free it).
  '0005_key_holder': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('idempotency_keys').addColumn('holder_instance', 'text').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('idempotency_keys').dropColumn('holder_instance').execute();
    },
  },
  '0006_drift_due_index': DRIFT_DUE_INDEX_MIGRATION,
};

class InCodeMigrations implements MigrationProvider {
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(MIGRATIONS);
  }
}

/** How many times start-up retries a migration that lost a race with another process starting at once. */
const MIGRATION_ATTEMPTS = 6;

/**
 * Applies pending migrations; throws with the failing migration's name.
 *
 * Replicas may start together. Kysely serialises the migrations themselves on PostgreSQL (advisory lock),
 * but creates its own bookkeeping tables before taking that lock, and takes no lock on SQLite (where each
 * migration is one transaction). A process that loses such a race fails cleanly and finds the winner's
 * committed work when it tries again, so a short, bounded retry makes a concurrent start safe.
 */
export async function migrateToLatest(db: Kysely<unknown>, engine: 'sqlite' | 'postgres'): Promise<string[]> {
  // Kysely looks for its bookkeeping tables in every schema unless told which one; with several schemas in
  // one database it would find another schema's and skip creating its own. Pin them to the current schema.
  const schema =
    engine === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(db, schema);
    } catch (error) {
      if (attempt >= MIGRATION_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25 * attempt + Math.random() * 100));
    }
  }
}

async function migrateOnce(db: Kysely<unknown>, schema: string | undefined): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new InCodeMigrations(), migrationTableSchema: schema });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'set-up';
    throw new Error(
      `database migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      { cause: error },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
