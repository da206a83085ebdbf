import type { Kysely } from 'kysely';
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

/**
 * Idempotency keys, scoped per caller. Claiming a key is one INSERT … ON CONFLICT DO NOTHING, so of
 * two requests racing on one key (on one replica or many sharing PostgreSQL) exactly one proceeds.
 */
export class IdempotencyRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  /** `claimTried`: the caller already tried the claim once (Store.beginKey), so the first round skips it. */
  async begin(request: BeginRequest, claimTried = false): Promise<BeginResult> {
    // Two rounds at most: a row that expired or whose holder died is removed or taken over, then claimed.
    for (let round = 0; round < 3; round++) {
      const claimed = round === 0 && claimTried ? false : await this.claim(request);
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

  /** Stores the final response for replay. */
  async complete(
    callerId: string,
    key: string,
    status: number,
    body: unknown,
    changeId: string | null,
  ): Promise<void> {
    await this.db
      .updateTable('idempotency_keys')
      .set({
        state: 'COMPLETED',
        response_status: status,
        response_body: JSON.stringify(body),
        change_id: changeId,
      })
      .where('caller_id', '=', callerId)
      .where('idempotency_key', '=', key)
      .execute();
  }

  /** Forgets a key whose request failed in a way the caller should retry. */
  async release(callerId: string, key: string): Promise<void> {
    await this.db
      .deleteFrom('idempotency_keys')
      .where('caller_id', '=', callerId)
      .where('idempotency_key', '=', key)
      .where('state', '=', 'IN_PROGRESS')
      .execute();
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

  async claim(request: BeginRequest): Promise<boolean> {
    const result = await this.db
      .insertInto('idempotency_keys')
      .values({
        caller_id: request.callerId,
        idempotency_key: request.key,
        fingerprint: request.fingerprint,
        state: 'IN_PROGRESS',
        response_status: null,
        response_body: null,
        change_id: null,
        created_at: request.now.toISOString(),
        expires_at: new Date(request.now.getTime() + request.ttlMs).toISOString(),
        locked_until: new Date(request.now.getTime() + request.lockMs).toISOString(),
      })
      .onConflict((oc) => oc.columns(['caller_id', 'idempotency_key']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }
}
