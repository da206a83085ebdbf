import type { Kysely } from 'kysely';
import type { ChangeWrites } from './change-writes.js';
import type { DatabaseSchema, IdempotencyKeyTable } from './schema.js';

export type BeginResult =
  /** `takenOver`: the key was held by a request whose process died; its change may have reached the provider. */
  | { kind: 'started'; takenOver?: true }
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
  /** The claiming process's instance id (gateway_instances), so a key of a dead process is known as such. */
  holder?: string;
}

/** The table's hot-path statements (`?` placeholders), run by the engine's writer (change-writes.ts). */
export const KEY_SQL = {
  claim: `insert into idempotency_keys (caller_id, idempotency_key, fingerprint, state, response_status,
       response_body, change_id, created_at, expires_at, locked_until, holder_instance)
     values (?, ?, ?, 'IN_PROGRESS', null, null, null, ?, ?, ?, ?)
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
    request.holder ?? null,
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
    /** A process whose heartbeat is older than this is presumed dead (see Store). */
    private readonly instanceStaleMs: number,
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
      if (row.locked_until > now && !(await this.holderGone(row, request))) return { kind: 'in-progress' };
      // The holder's lock lapsed or its process is gone: take the key over, once, atomically.
      const taken = await this.db
        .updateTable('idempotency_keys')
        .set({
          locked_until: new Date(request.now.getTime() + request.lockMs).toISOString(),
          holder_instance: request.holder ?? null,
        })
        .where('caller_id', '=', request.callerId)
        .where('idempotency_key', '=', request.key)
        .where('state', '=', 'IN_PROGRESS')
        .where('locked_until', '=', row.locked_until)
        .executeTakeFirst();
      return Number(taken.numUpdatedRows) === 1
        ? { kind: 'started', takenOver: true }
        : { kind: 'in-progress' };
    }
    return { kind: 'in-progress' };
  }

  /**
   * Whether the key's holder is known to be gone: another process that has left gateway_instances (stopped,
   * or reaped) or sent no heartbeat for instanceStaleMs (killed). A process that died after claiming a key
   * but before its change's first record left no attempt for the sweep to find; without this, its key
   * would stay locked until locked_until (minutes). A key of unknown holder (older rows) waits as before.
   */
  private async holderGone(row: IdempotencyKeyTable, request: BeginRequest): Promise<boolean> {
    const holder = row.holder_instance;
    if (holder === null || holder === request.holder) return false;
    const alive = await this.db
      .selectFrom('gateway_instances')
      .select('instance_id')
      .where('instance_id', '=', holder)
      .where('heartbeat_at', '>=', new Date(request.now.getTime() - this.instanceStaleMs).toISOString())
      .executeTakeFirst();
    return alive === undefined;
  }

  /** Frees keys held by requests of a process known to be dead: the next request may take them over now. */
  async unlock(keys: Array<{ callerId: string; key: string }>, now: Date): Promise<void> {
    for (const { callerId, key } of keys) {
      await this.db
        .updateTable('idempotency_keys')
        .set({ locked_until: now.toISOString() })
        .where('caller_id', '=', callerId)
        .where('idempotency_key', '=', key)
        .where('state', '=', 'IN_PROGRESS')
        .execute();
    }
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
