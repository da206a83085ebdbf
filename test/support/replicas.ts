/**
 * Gateway replicas as production runs them: two (or more) gateways on one PostgreSQL schema, all pointed at
 * one Spidr sandbox started on its own, as replicas share one live provider. Registers its own `beforeAll`
 * and `afterAll` in the enclosing describe block (use it inside `describePostgres`).
 */
import type { Env } from '../../src/config/config.js';
import { freshPostgres, type TestDatabase } from './databases.js';
import {
  spidrGatewayEnv,
  startGateway,
  startSandbox,
  type StandaloneSandbox,
  type TestGateway,
} from './gateway.js';
import { spawnGateway, type GatewayProcess } from './process.js';

/** How a replica is run and stopped. */
export interface ReplicaKind<R> {
  start(env: Env): Promise<R>;
  stop(replica: R): Promise<unknown>;
}

/** In this process (its Nest app reachable, e.g. to run a DriftWatch by hand). */
export const IN_PROCESS: ReplicaKind<TestGateway> = {
  start: (env) => startGateway(env),
  stop: (gateway) => gateway.close().catch(() => undefined),
};

/** As a child process running dist/main.js (a real separate server). */
export const SPAWNED: ReplicaKind<GatewayProcess> = {
  start: (env) => spawnGateway(env as Record<string, string>),
  stop: (replica) => {
    replica.child.kill('SIGTERM');
    return replica.exited;
  },
};

export interface ReplicaSet<R> {
  readonly db: TestDatabase;
  readonly sandbox: StandaloneSandbox;
  readonly replicas: R[];
}

export function useReplicas<R>(
  kind: ReplicaKind<R>,
  options: { count?: number; env?: () => Env | Promise<Env> } = {},
): ReplicaSet<R> {
  const set = { replicas: [] as R[] } as { db: TestDatabase; sandbox: StandaloneSandbox; replicas: R[] };
  beforeAll(async () => {
    set.db = await freshPostgres();
    set.sandbox = await startSandbox('spidr');
    const env: Env = { ...spidrGatewayEnv(set.db.url, set.sandbox.url), ...(await options.env?.()) };
    for (let i = 0; i < (options.count ?? 2); i++) set.replicas.push(await kind.start(env));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(set.replicas.map((replica) => kind.stop(replica)));
    await set.sandbox?.close();
    await set.db?.drop();
  });
  return set;
}
