/**
 * The hot-path SQL of a status change (idempotency key, audit attempt, outbox event) for both engines:
 * the statement table, PostgreSQL's numbered and fused forms, and each write's parameters.
 */
import type pg from 'pg';
import type { EventRecord } from '../events/cloud-events.js';
import { AUDIT_SQL, completeAttemptParams, insertAttemptParams } from './audit.repository.js';
import type { ChangeWrite } from './change-writes.js';
import { KEY_SQL } from './idempotency.repository.js';

/** The outbox's insert; `txid` and `seq` take their defaults (the writing transaction, the next number). */
const EVENT_SQL = {
  insertEvent: `insert into events (id, type, subject, time, data) values (?, ?, ?, ?, ?)`,
} as const;

/** The hot-path statements of the tables, with `?` placeholders (numbered for PostgreSQL by pgQuery). */
export const SQL = { ...KEY_SQL, ...AUDIT_SQL, ...EVENT_SQL };

/**
 * PostgreSQL only: an attempt's write and its event fused into one statement (a data-modifying CTE), so
 * the event adds no round trip, and none exists unless the attempt's row was written.
 */
const FUSED_SQL = {
  insertAttemptWithEvent: `with w as (${AUDIT_SQL.insertAttempt} returning 1 as one) ${insertEventFrom('w')}`,
  completeAttemptWithEvent: `with w as (${AUDIT_SQL.completeAttempt} returning 1 as one) ${insertEventFrom('w')}`,
  /**
   * A change's last commit in one statement (one round trip, no transaction of several): the attempt,
   * its event (only when the attempt's row was written) and the key's final answer, or its release.
   */
  completeAttemptWithEventAndKey: settleWith(KEY_SQL.completeKey),
  completeAttemptWithEventAndRelease: settleWith(KEY_SQL.releaseKey),
} as const;

function settleWith(keyStatement: string): string {
  return `with w as (${AUDIT_SQL.completeAttempt} returning 1 as one), e as (${insertEventFrom('w')}) ${keyStatement}`;
}

function insertEventFrom(source: string): string {
  return `insert into events (id, type, subject, time, data) select ?, ?, ?, ?, ? from ${source}`;
}

export type StatementName = keyof typeof SQL;
type WriteStatement = Exclude<StatementName, 'claim' | 'hasKey'>;
type PgStatementName = StatementName | keyof typeof FUSED_SQL;

const PG_SQL = Object.fromEntries(
  Object.entries({ ...SQL, ...FUSED_SQL }).map(([name, text]) => {
    let n = 0;
    return [name, text.replace(/\?/g, () => `$${++n}`)];
  }),
) as Record<PgStatementName, string>;

export function pgQuery(name: PgStatementName, values: unknown[]): pg.QueryConfig {
  return { name: `statusgate_${name}`, text: PG_SQL[name], values };
}

export interface PgWrite {
  query: pg.QueryConfig;
  /** An event: written only when the statement before it changed a row (as on SQLite). */
  event: boolean;
}

/** The PostgreSQL queries of a list of writes: an attempt's write followed by its event becomes one. */
export function pgQueries(writes: readonly ChangeWrite[]): PgWrite[] {
  const queries: PgWrite[] = [];
  for (let i = 0; i < writes.length; i++) {
    const write = writes[i];
    const next = writes[i + 1];
    if (write.kind === 'sql') {
      queries.push({ query: { text: write.query.sql, values: [...write.query.parameters] }, event: false });
      continue;
    }
    const [name, params] = statementOf(write);
    const key = writes[i + 2];
    if (
      name === 'completeAttempt' &&
      next?.kind === 'insertEvent' &&
      (key?.kind === 'completeKey' || key?.kind === 'releaseKey')
    ) {
      const [, keyParams] = statementOf(key);
      const fused =
        key.kind === 'completeKey' ? 'completeAttemptWithEventAndKey' : 'completeAttemptWithEventAndRelease';
      queries.push({
        query: pgQuery(fused, [...params, ...eventParams(next.event), ...keyParams]),
        event: false,
      });
      i += 2;
      continue;
    }
    if ((name === 'insertAttempt' || name === 'completeAttempt') && next?.kind === 'insertEvent') {
      queries.push({
        query: pgQuery(`${name}WithEvent`, [...params, ...eventParams(next.event)]),
        event: false,
      });
      i++;
      continue;
    }
    queries.push({ query: pgQuery(name, params), event: write.kind === 'insertEvent' });
  }
  return queries;
}

export async function runAll(client: pg.PoolClient, queries: readonly PgWrite[]): Promise<void> {
  let changed = 1;
  for (const { query, event } of queries) {
    if (event && changed === 0) continue;
    changed = (await client.query(query)).rowCount ?? 0;
  }
}

export function eventParams(event: EventRecord): unknown[] {
  return [event.id, event.type, event.subject, event.time, JSON.stringify(event.data)];
}

/** The statement and the parameters of one write, for either engine. */
export function statementOf(write: Exclude<ChangeWrite, { kind: 'sql' }>): [WriteStatement, unknown[]] {
  switch (write.kind) {
    case 'insertAttempt':
      return ['insertAttempt', insertAttemptParams(write.attempt, write.completion)];
    case 'completeAttempt':
      return ['completeAttempt', completeAttemptParams(write.changeId, write.completion)];
    case 'completeKey':
      return [
        'completeKey',
        [write.status, JSON.stringify(write.body), write.changeId, write.callerId, write.key],
      ];
    case 'releaseKey':
      return ['releaseKey', [write.callerId, write.key]];
    case 'insertEvent':
      return ['insertEvent', eventParams(write.event)];
  }
}
