/**
 * Suites that stop and start their own PostgreSQL: `describeWithPrivatePostgres` registers them (skipped,
 * the reason in the title, where a private cluster cannot be made; an error under CI), and
 * `usePrivatePostgresGateway` gives the enclosing describe block a private cluster, a standalone Spidr
 * sandbox and a gateway process on both.
 */
import {
  privatePostgresUnavailable,
  startPrivatePostgres,
  type PrivatePostgres,
} from '../../src/scripts/private-postgres.js';
import { describePostgres, skipReasonOutsideCi } from './databases.js';
import { spidrGatewayEnv, startSandbox, type StandaloneSandbox } from './gateway.js';
import { spawnGateway, type GatewayProcess } from './process.js';

// The soak script restarts a private cluster too, so the cluster itself lives with the scripts.
export * from '../../src/scripts/private-postgres.js';

/** `describe` when a private cluster can be made here, else `describe.skip` whose title carries the reason. */
export function describeWithPrivatePostgres(title: string, body: () => void): void {
  describePostgres(skipReasonOutsideCi(privatePostgresUnavailable(), 'private PostgreSQL'), title, body);
}

export interface PrivatePostgresGateway {
  readonly postgres: PrivatePostgres;
  readonly sandbox: StandaloneSandbox;
  readonly gateway: GatewayProcess;
}

/**
 * A private cluster, a standalone Spidr sandbox and a gateway process (dist/main.js) on both, for the
 * enclosing describe block: started in its `beforeAll`, killed and removed in its `afterAll`.
 */
export function usePrivatePostgresGateway(): PrivatePostgresGateway {
  const set = {} as { postgres: PrivatePostgres; sandbox: StandaloneSandbox; gateway: GatewayProcess };
  beforeAll(async () => {
    set.postgres = await startPrivatePostgres();
    set.sandbox = await startSandbox('spidr');
    set.gateway = await spawnGateway(spidrGatewayEnv(set.postgres.url, set.sandbox.url));
  }, 60_000);
  afterAll(async () => {
    set.gateway?.child.kill('SIGKILL');
    await set.gateway?.exited;
    await set.sandbox?.close();
    set.postgres?.destroy();
  });
  return set;
}
