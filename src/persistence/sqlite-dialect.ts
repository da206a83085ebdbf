import type SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  SelectQueryNode,
  SqliteDialect,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
} from 'kysely';
import type { StatementResult, SqliteWriter, WriterSession } from './sqlite-writer.js';

/** Distinct SQL texts kept prepared; the gateway issues a few dozen, so this bound is never reached in practice. */
const STATEMENT_CACHE_LIMIT = 500;

/**
 * Kysely on SQLite with the writes off the event loop: a query that only reads runs at once on the main
 * thread's connection (better-sqlite3 tells: `statement.readonly`); anything that writes goes to the
 * writer thread's group commit (sqlite-writer.ts) and resolves after its COMMIT. A transaction runs
 * entirely on the writer, its reads included, so that it reads its own writes.
 *
 * Kysely's own SQLite driver prepares every query anew, which costs about as much as running these small
 * statements; the texts repeat (values are bound), so each read statement is kept prepared.
 */
export class SqliteWriterDialect extends SqliteDialect {
  constructor(
    private readonly reader: SQLite.Database,
    private readonly writer: SqliteWriter,
  ) {
    super({ database: reader });
  }

  override createDriver(): Driver {
    return new SqliteWriterDriver(this.reader, this.writer);
  }
}

class SqliteWriterDriver implements Driver {
  private readonly prepared = new Map<string, SQLite.Statement>();

  constructor(
    private readonly reader: SQLite.Database,
    private readonly writer: SqliteWriter,
  ) {}

  async init(): Promise<void> {}

  /** A fresh handle each time: reads need no exclusive connection, and a transaction takes the writer. */
  acquireConnection(): Promise<DatabaseConnection> {
    return Promise.resolve(new SqliteWriterConnection(this.reader, this.writer, this.prepared));
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as SqliteWriterConnection).begin();
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as SqliteWriterConnection).end(true);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as SqliteWriterConnection).end(false);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    // A transaction Kysely never ended (it always does) would hold the writer: end it here.
    await (connection as SqliteWriterConnection).end(false);
  }

  /** The connections are closed by Database.close (database.ts), after the writer has drained. */
  async destroy(): Promise<void> {}
}

class SqliteWriterConnection implements DatabaseConnection {
  private session: WriterSession | undefined;

  constructor(
    private readonly reader: SQLite.Database,
    private readonly writer: SqliteWriter,
    private readonly prepared: Map<string, SQLite.Statement>,
  ) {}

  async begin(): Promise<void> {
    this.session = await this.writer.session();
  }

  async end(commit: boolean): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.end(commit);
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const { sql, parameters } = compiled;
    if (this.session) return asQueryResult<R>(await this.session.run(sql, parameters));
    const statement = this.readStatement(sql);
    if (statement) {
      if (statement.reader) return { rows: statement.all(...parameters) as R[] };
      statement.run(...parameters);
      return { rows: [] };
    }
    const result = (await this.writer.write([null, [[sql, [...parameters]]], true])) as StatementResult;
    return asQueryResult<R>(result);
  }

  streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const statement = this.readStatement(compiled.sql);
    if (this.session || !statement || !SelectQueryNode.is(compiled.query)) {
      throw new Error('SQLite streams only reads outside a transaction');
    }
    const rows = statement.iterate(...compiled.parameters);
    return (async function* () {
      for (const row of rows) yield await Promise.resolve({ rows: [row as R] });
    })();
  }

  /** The statement prepared on the main connection when it only reads; undefined when it writes. */
  private readStatement(sql: string): SQLite.Statement | undefined {
    let statement = this.prepared.get(sql);
    if (!statement) {
      try {
        statement = this.reader.prepare(sql);
      } catch {
        // Not preparable here (e.g. a table this very transaction creates): the writer will say why.
        return undefined;
      }
      if (this.prepared.size >= STATEMENT_CACHE_LIMIT) this.prepared.clear();
      this.prepared.set(sql, statement);
    }
    return statement.readonly ? statement : undefined;
  }
}

function asQueryResult<R>(result: StatementResult): QueryResult<R> {
  if (result.rows) return { rows: result.rows as R[] };
  return {
    numAffectedRows: result.changes === undefined ? undefined : BigInt(result.changes),
    insertId: result.lastInsertRowid === undefined ? undefined : BigInt(result.lastInsertRowid),
    rows: [],
  };
}
