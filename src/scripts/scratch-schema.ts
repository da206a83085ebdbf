/**
 * A new, empty PostgreSQL schema reached through `search_path` in the connection URL, and its removal: how
 * the bench and the tests give each run a database of its own on a shared server.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';

export interface ScratchSchema {
  /** `url` with `options=-c search_path=<schema>`. */
  url: string;
  drop(): Promise<void>;
}

/** Creates `<prefix>_<random>` on the server of `url` (connection failures reject, as any other). */
export async function createScratchSchema(
  url: string,
  prefix: string,
  connectionTimeoutMillis = 0,
): Promise<ScratchSchema> {
  const schema = `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  await withClient(url, connectionTimeoutMillis, (client) => client.query(`create schema ${schema}`));
  const scoped = new URL(url);
  scoped.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: scoped.toString(),
    drop: () => withClient(url, 0, (client) => client.query(`drop schema if exists ${schema} cascade`)),
  };
}

async function withClient(
  url: string,
  connectionTimeoutMillis: number,
  use: (client: pg.Client) => Promise<unknown>,
): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis });
  await client.connect();
  try {
    await use(client);
  } finally {
    await client.end();
  }
}
