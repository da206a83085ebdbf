import type { CompiledQuery } from 'kysely';
import type { EventRecord } from '../events/cloud-events.js';
import type { AttemptCompletion, NewAttempt } from './audit.repository.js';
import type { BeginRequest } from './idempotency.repository.js';

/** One write of a status change; a list of them is committed atomically, in order. */
export type ChangeWrite =
  | { kind: 'insertAttempt'; attempt: NewAttempt; completion?: AttemptCompletion }
  | { kind: 'completeAttempt'; changeId: string; completion: AttemptCompletion }
  | {
      kind: 'completeKey';
      callerId: string;
      key: string;
      status: number;
      body: unknown;
      changeId: string | null;
    }
  | { kind: 'releaseKey'; callerId: string; key: string }
  /** An event of the outbox (CONTRACT §7), committed with the record it describes (the write before it). */
  | { kind: 'insertEvent'; event: EventRecord }
  /**
   * Any other statement, compiled by the store's own Kysely (`store.database.db…compile()`), so modules
   * off the hot path (the drift watch) commit their rows and their events together: see Store.commitWithEvents.
   */
  | { kind: 'sql'; query: CompiledQuery };

/**
 * The writes on the hot path of a status change: claiming an idempotency key, and committing audit and
 * key changes together. Every promise resolves only after its writes are committed, so a change is
 * recorded before it is answered.
 */
export interface ChangeWrites {
  /**
   * INSERT … ON CONFLICT DO NOTHING of an IN_PROGRESS key; true when this request now holds it. Only then
   * are `writes` applied, in the same transaction: a change's key and its first record in one commit.
   */
  claimKey(request: BeginRequest, writes?: readonly ChangeWrite[]): Promise<boolean>;
  /** Whether the key has a row (a read: claimKey stays the arbiter between racing requests). */
  hasKey(callerId: string, key: string): Promise<boolean>;
  /**
   * Whether a new key is best claimed together with the change's first record (one commit fewer on
   * SQLite, where the read before it is a local lookup) or alone first (PostgreSQL, where the read and a
   * multi-statement transaction would cost more round trips than the commit they save).
   */
  readonly claimWithFirstRecord: boolean;
  commit(writes: readonly ChangeWrite[]): Promise<void>;
  /** Ends connections of its own (PostgreSQL's group commit), before the database closes. */
  close?(): Promise<void>;
}
