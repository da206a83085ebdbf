/**
 * The migrations' tables written as tables: each column's type with `!` for NOT NULL or ` pk` for the primary key,
 * in order. They build the same `create table` / `create index` statements as the Kysely chains they replace
 * (a released migration must keep producing the exact same schema).
 */
import { type CreateTableBuilder, type Kysely, type RawBuilder } from 'kysely';

type SimpleType = 'text' | 'integer' | 'real' | 'bigint';
/** A column: `'text'`, `'text!'` (NOT NULL), `'text pk'` (primary key), or an engine-chosen type, NOT NULL. */
export type ColumnSpec = `${SimpleType}${'' | '!' | ' pk'}` | { notNull: SimpleType | RawBuilder<unknown> };

/** `create table name (columns…[, constraint name_pk primary key (primaryKey…)])`. */
export async function createTable(
  db: Kysely<unknown>,
  name: string,
  columns: Record<string, ColumnSpec>,
  primaryKey?: string[],
): Promise<void> {
  let table = db.schema.createTable(name) as CreateTableBuilder<string, string>;
  for (const [column, spec] of Object.entries(columns)) {
    if (typeof spec === 'object') table = table.addColumn(column, spec.notNull, (c) => c.notNull());
    else if (spec.endsWith(' pk'))
      table = table.addColumn(column, spec.slice(0, -3) as SimpleType, (c) => c.primaryKey());
    else if (spec.endsWith('!'))
      table = table.addColumn(column, spec.slice(0, -1) as SimpleType, (c) => c.notNull());
    else table = table.addColumn(column, spec as SimpleType);
  }
  if (primaryKey) table = table.addPrimaryKeyConstraint(`${name}_pk`, primaryKey);
  await table.execute();
}

/** `create [unique] index name on table (columns…)`. */
export async function createIndex(
  db: Kysely<unknown>,
  name: string,
  table: string,
  columns: string[],
  unique = false,
): Promise<void> {
  const index = db.schema.createIndex(name).on(table).columns(columns);
  await (unique ? index.unique() : index).execute();
}
