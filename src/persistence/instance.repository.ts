import type { Kysely } from 'kysely';
import type { DatabaseSchema } from './schema.js';

/** Gateway processes sharing the database, with heartbeats, so a dead one's unfinished work can be found. */
export class InstanceRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async register(instanceId: string, now: Date): Promise<void> {
    const at = now.toISOString();
    await this.db
      .insertInto('gateway_instances')
      .values({ instance_id: instanceId, started_at: at, heartbeat_at: at })
      .onConflict((oc) => oc.column('instance_id').doUpdateSet({ heartbeat_at: at }))
      .execute();
  }

  async heartbeat(instanceId: string, now: Date): Promise<void> {
    await this.db
      .updateTable('gateway_instances')
      .set({ heartbeat_at: now.toISOString() })
      .where('instance_id', '=', instanceId)
      .execute();
  }

  /** Instances whose heartbeat is older than `staleBefore`; they are removed once returned. */
  async reapStale(staleBefore: Date): Promise<string[]> {
    const rows = await this.db
      .selectFrom('gateway_instances')
      .select('instance_id')
      .where('heartbeat_at', '<', staleBefore.toISOString())
      .execute();
    const ids = rows.map((r) => r.instance_id);
    if (ids.length > 0)
      await this.db.deleteFrom('gateway_instances').where('instance_id', 'in', ids).execute();
    return ids;
  }

  async remove(instanceId: string): Promise<void> {
    await this.db.deleteFrom('gateway_instances').where('instance_id', '=', instanceId).execute();
  }
}
