import type { Kysely } from 'kysely';
import type { ChangeWrites } from './change-writes.js';
import type { DatabaseSchema, IdempotencyKeyTable } from './schema.js';

export type BeginResult =
  | { kind: 'started' }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'in-progress' }
  | { kind: 'reused' };

export interface BeginRequest {
  callerId: string;
  key: string;
  fingerprint: string;
  now: Date;
  ttlMs: number;
  lockMs: number;
}

/** The table's hot-path statements (`?` placeholders), run by the engine's writer (change-writes.ts). */
export const KEY_SQL = {
  claim: `insert into idempotency_keys (caller_id, idempotency_key, fingerprint, state, response_status,
       response_body, change_id, created_at, expires_at, locked_until)
     values (?, ?, ?, 'IN_PROGRESS', null, null, null, ?, ?, ?)
     on conflict (caller_id, idempotency_key) do nothing`,
  hasKey: `select 1 from idempotency_keys where caller_id = ? and idempotency_key = ?`,
  completeKey: `update idempotency_keys set state = 'COMPLETED', response_status = ?, response_body = ?,
       change_id = ?
     where caller_id = ? and idempotency_key = ?`,
  releaseKey: `delete from idempotency_keys where caller_id = ? and idempotency_key = ? and state = 'IN_PROGRESS'`,
} as const;

/** The parameters of KEY_SQL.claim. */
export function claimParams(request: BeginRequest): unknown[] {
  const now = request.now.getTime();
  return [
    request.callerId,
    request.key,
    request.fingerprint,
    request.now.toISOString(),
    new Date(now + request.ttlMs).toISOString(),
    new Date(now + request.lockMs).toISOString(),
  ];
}

/**
 * Idempotency keys, scoped per caller: the read side, and what follows a claim that found the key
 * already there. Claiming is one INSERT … ON CONFLICT DO NOTHING (KEY_SQL.claim, through the writer), so
 * of two requests racing on one key (on one replica or many sharing PostgreSQL) exactly one proceeds.
 */
export class IdempotencyRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly writes: Pick<ChangeWrites, 'claimKey'>,
  ) {}

  /** `claimTried`: the caller already tried the claim once, so the first round skips it. */
  async begin(request: BeginRequest, claimTried = false): Promise<BeginResult> {
    // Two rounds at most: a row that expired or whose holder died is removed or taken over, then claimed.
    for (let round = 0; round < 3; round++) {
      const claimed = round === 0 && claimTried ? false : await this.writes.claimKey(request);
      if (claimed) return { kind: 'started' };
      const row = await this.find(request.callerId, request.key);
      if (!row) continue; // released between our insert and our read: claim again
      const now = request.now.toISOString();
      if (row.expires_at <= now) {
        await this.db
          .deleteFrom('idempotency_keys')
          .where('caller_id', '=', request.callerId)
          .where('idempotency_key', '=', request.key)
          .where('expires_at', '=', row.expires_at)
          .execute();
        continue;
      }
      if (row.fingerprint !== request.fingerprint) return { kind: 'reused' };
      if (row.state === 'COMPLETED') {
        return {
          kind: 'replay',
          status: row.response_status ?? 200,
          body: JSON.parse(row.response_body ?? 'null'),
        };
      }
      if (row.locked_until > now) return { kind: 'in-progress' };
      // The holder's lock lapsed (its process died): take the key over, once, atomically.
      const taken = await this.db
        .updateTable('idempotency_keys')
        .set({ locked_until: new Date(request.now.getTime() + request.lockMs).toISOString() })
        .where('caller_id', '=', request.callerId)
        .where('idempotency_key', '=', request.key)
        .where('state', '=', 'IN_PROGRESS')
        .where('locked_until', '=', row.locked_until)
        .executeTakeFirst();
      return Number(taken.numUpdatedRows) === 1 ? { kind: 'started' } : { kind: 'in-progress' };
    }
    return { kind: 'in-progress' };
  }

  async purgeExpired(now: Date): Promise<number> {
    const result = await this.db
      .deleteFrom('idempotency_keys')
      .where('expires_at', '<=', now.toISOString())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  find(callerId: string, key: string): Promise<IdempotencyKeyTable | undefined> {
    return this.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('caller_id', '=', callerId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
  }
}
