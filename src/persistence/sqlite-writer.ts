import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SQL } from './change-statements.js';
import { TurnQueue } from './turn-queue.js';

/**
 * One unit of the group commit, as plain data (cheap to post): the idempotency claim's parameters or null,
 * then the statements to run in order as [statement name | SQL text, parameters], and whether the caller
 * wants the one statement's result (Kysely's writes) rather than "claimed or not" (the change writes).
 */
export type WriteItem = [
  claim: unknown[] | null,
  ops: Array<[statement: string, params: unknown[]]>,
  result: boolean,
];

/** What SQLite answered for one statement run on the writer: rows when it returns any, else its counts. */
export interface StatementResult {
  rows?: unknown[];
  changes?: number;
  lastInsertRowid?: number | bigint;
}

interface Failure {
  message: string;
  code?: string;
}

/** The writer's answer to one message, by its id: a group's (all in one commit, or each alone), or a session step's. */
type Answer =
  | { id: number; together: true; values: unknown[] }
  | { id: number; together: false; outcomes: Array<[ok: boolean, value: unknown]> }
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: Failure };
/** What the writer posts: the answers to the groups it committed together, and how many commits that took. */
type Reply = { answers: Answer[]; commits: number } | Answer;

interface Pending {
  item: WriteItem;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Who takes the answer to a message on the writer, or its loss with the thread. */
interface Waiting {
  answer(answer: Answer): void;
  fail(error: Error): void;
}

// The writer thread. It owns the database's only writing connection: every statement that changes the
// database runs here, so the event loop never runs a write, a COMMIT, the WAL's fsync or a busy wait.
const WRITER_SOURCE = `
const { parentPort, receiveMessageOnPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
db.pragma('wal_autocheckpoint = 0');
db.pragma('journal_size_limit = ' + workerData.walLimit);
// Prepared on first use (the tables exist only once the migrations, run through this thread, have made
// them): a hot-path statement by its name (change-statements.ts), any other by its SQL text.
const prepared = new Map();
const statement = (key) => {
  let s = prepared.get(key);
  if (!s) {
    if (prepared.size >= 500) prepared.clear();
    s = db.prepare(workerData.sql[key] ?? key);
    prepared.set(key, s);
  }
  return s;
};
// Structured cloning turns a Buffer into a Uint8Array, which the driver does not bind.
const bind = (params) => params.map((p) => (p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p));
const result = (s, params) => {
  if (s.reader) return { rows: s.all(...bind(params)) };
  const { changes, lastInsertRowid } = s.run(...bind(params));
  return { changes, lastInsertRowid };
};
const runItem = ([claim, ops, wantsResult]) => {
  if (wantsResult) return result(statement(ops[0][0]), ops[0][1]);
  if (claim && statement('claim').run(...claim).changes !== 1) return false;
  // As on PostgreSQL, an event right after a write is written only when that write hit its row.
  let changed = 1;
  for (const [key, params] of ops) {
    if (key === 'insertEvent' && changed === 0) continue;
    changed = statement(key).run(...bind(params)).changes;
  }
  return true;
};
const together = db.transaction((items) => items.map(runItem));
const alone = db.transaction(runItem);
const failure = (e) => ({ message: String((e && e.message) || e), code: e && e.code });
// Every group waiting on the port is committed in one transaction; each gets its own answer.
const commitGroups = (groups) => {
  const items = groups.length === 1 ? groups[0].items : groups.flatMap((g) => g.items);
  try {
    const values = together.immediate(items);
    let at = 0;
    const answers = groups.map((g) => ({ id: g.id, together: true, values: values.slice(at, (at += g.items.length)) }));
    parentPort.postMessage({ answers, commits: 1 });
  } catch {
    // One statement was refused: all was rolled back; each item runs again on its own.
    const answers = groups.map((g) => ({
      id: g.id,
      together: false,
      outcomes: g.items.map((item) => { try { return [true, alone.immediate(item)]; } catch (e) { return [false, failure(e)]; } }),
    }));
    parentPort.postMessage({ answers, commits: items.length });
  }
};
const answer = (id, run) => {
  try { parentPort.postMessage({ id, ok: true, value: run() }); } catch (e) { parentPort.postMessage({ id, ok: false, error: failure(e) }); }
};
const handle = (m) => {
  switch (m.kind) {
    case 'group': {
      const groups = [m];
      let after;
      for (let r; (r = receiveMessageOnPort(parentPort)); ) {
        if (r.message.kind === 'group') groups.push(r.message);
        else { after = r.message; break; }
      }
      commitGroups(groups);
      if (after) handle(after);
      return;
    }
    case 'begin': return answer(m.id, () => { db.prepare('begin immediate').run(); return null; });
    case 'run': return answer(m.id, () => result(statement(m.sql), m.params));
    // After a thread's death the new connection has no transaction to end.
    case 'end': return answer(m.id, () => { if (db.inTransaction) db.prepare(m.commit ? 'commit' : 'rollback').run(); return null; });
    case 'truncate': try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch {} return;
    case 'autocheckpoint': db.pragma('wal_autocheckpoint = 1000'); return;
    case 'stop': db.close(); parentPort.close(); return;
  }
};
parentPort.on('message', handle);
`;

/** A transaction held on the writer: its statements run there, one at a time, until end(). */
export interface WriterSession {
  run(sql: string, params: readonly unknown[]): Promise<StatementResult>;
  end(commit: boolean): Promise<void>;
}

/**
 * The database's one writer, in a worker thread with its own connection. The event loop only posts plain
 * data and takes answers, so a checkpoint, the WAL's fsync at its restart, a write held back by the
 * kernel's dirty-page throttling or a wait for the write lock delays the requests waiting for that commit
 * and no others (docs/performance.md, "Issue 18: disk stalls and the event loop"). Reads stay on the main
 * thread's connection (database.ts): in WAL mode a reader never waits for the writer.
 *
 * Group commit: the items written in one turn of the event loop go as one message (a group), at once,
 * without waiting for the writer to answer the previous one; the writer commits every group waiting on its
 * port in one transaction, so under load commits are shared, and at low load nothing waits for a thread
 * round trip. Each caller is answered only after the COMMIT of its item, so a change is recorded before it
 * is answered. A refused statement rolls the transaction back and each item runs again alone, so one
 * failing request does not undo the others. Kysely transactions (start-up only: the migrations, marking a
 * dead process's attempts) hold the writer as a session: groups asked for meanwhile wait for its end.
 * Should the thread die, the callers in flight are rejected (their commit may or may not have happened), a
 * session open on it fails, and a new thread takes the next group (at most one a second).
 *
 * Hand-written: better-sqlite3 leaves threads to the application (its docs/threads.md shows a hand-made
 * pool; its maintainers point to piscina, a generic task pool), and a task pool has no place for what this
 * needs: one writer, groups committed together, a transaction's steps pinned to that writer. Over
 * 300 lines because the thread's source (a string, so the bundle needs no second entry point) and the
 * protocol it speaks belong in one file.
 */
export class SqliteWriter {
  /** Commits made and items written since start: shows how much the group commit shares. */
  readonly stats = { commits: 0, requests: 0 };
  private readonly queue = new TurnQueue<Pending>(() => this.flush());
  /** The messages on the writer not answered yet, by id. */
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  /** Counts the threads started: a session is bound to the thread it began on. */
  private generation = 0;
  private sessionHeld = false;
  private readonly sessionWaiters: Array<() => void> = [];
  private closing = false;
  private closed: Promise<void> | undefined;
  /** The live thread; undefined after its death until the next write needs one. */
  private worker: Worker | undefined;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly walLimitBytes: number,
  ) {
    this.start();
  }

  /** Runs one item in the next group; resolves after the COMMIT that holds it. */
  write(item: WriteItem): Promise<unknown> {
    if (this.closing) return Promise.reject(closedError());
    return new Promise((resolve, reject) => this.queue.push({ item, resolve, reject }));
  }

  /** Takes the writer for a transaction of several statements (Kysely's `transaction()`). */
  async session(): Promise<WriterSession> {
    if (this.closing) throw closedError();
    // releaseSession() hands the writer over (still held) when it wakes a waiter, so no group slips in.
    if (this.sessionHeld) await new Promise<void>((resolve) => this.sessionWaiters.push(resolve));
    else this.sessionHeld = true;
    const generation = this.generation;
    try {
      await this.call({ kind: 'begin' });
    } catch (error) {
      this.releaseSession();
      throw error;
    }
    let ended = false;
    const onItsThread = () => {
      if (this.generation !== generation)
        throw new Error('SQLite writer thread stopped: the transaction is lost');
    };
    return {
      run: async (sql, params) => {
        onItsThread();
        return (await this.call({ kind: 'run', sql, params: [...params] })) as StatementResult;
      },
      end: async (commit) => {
        if (ended) return;
        ended = true;
        try {
          if (commit) onItsThread();
          await this.call({ kind: 'end', commit });
        } finally {
          this.releaseSession();
        }
      },
    };
  }

  /** The checkpoint thread's requests (database.ts): truncate the WAL now, or fall back to SQLite's own. */
  post(message: 'truncate' | 'autocheckpoint'): void {
    if (!this.closing) this.worker?.postMessage({ kind: message });
  }

  /** Writes what is queued, then stops the thread (once; a second call waits for the first). */
  close(): Promise<void> {
    this.closed ??= (async () => {
      while (this.waiting.size > 0 || this.sessionHeld || this.queue.items.length > 0) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      this.closing = true;
      clearTimeout(this.restartTimer);
      const worker = this.worker;
      if (!worker) return;
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.ref();
      worker.postMessage({ kind: 'stop' });
      await exited;
    })();
    return this.closed;
  }

  private start(): Worker {
    this.generation += 1;
    this.startedAt = Date.now();
    const worker = new Worker(WRITER_SOURCE, {
      eval: true,
      workerData: {
        file: this.file,
        sql: SQL,
        walLimit: this.walLimitBytes,
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      },
      execArgv: WORKER_EXEC_ARGV,
      // Its heap holds a few groups' parameters at a time: small limits keep its memory small.
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64, stackSizeMb: 1 },
    });
    worker.on('message', (reply: Reply) => {
      if ('answers' in reply) {
        this.stats.commits += reply.commits;
        for (const answer of reply.answers) this.take(answer);
      } else {
        this.take(reply);
      }
      if (this.waiting.size === 0) worker.unref();
    });
    let failure = '';
    worker.on('error', (error: Error) => (failure = `: ${error.message}`)); // 'exit' follows: handled there
    worker.once('exit', (code) => {
      if (this.closing) return;
      this.worker = undefined;
      const lost = [...this.waiting.values()];
      this.waiting.clear();
      const error = new Error(
        `SQLite writer thread stopped (exit code ${code}${failure}): the outcome of its last writes is unknown`,
      );
      for (const waiting of lost) waiting.fail(error);
      this.flush();
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /**
   * The live thread, started anew after a death — at most once every RESTART_EVERY_MS, so that a thread that
   * dies as it starts (its database cannot be opened) is not restarted in a loop. Undefined while waiting
   * for that: flush() is called again when the time is up.
   */
  private liveWorker(): Worker | undefined {
    if (this.worker) return this.worker;
    const wait = this.startedAt + RESTART_EVERY_MS - Date.now();
    if (wait <= 0) return this.start();
    this.restartTimer ??= setTimeout(() => {
      this.restartTimer = undefined;
      this.flush();
    }, wait);
    return undefined;
  }

  private take(answer: Answer): void {
    const waiting = this.waiting.get(answer.id);
    this.waiting.delete(answer.id);
    waiting?.answer(answer);
  }

  /** Posts a message to be answered; the process stays up for the answer (idle, the thread does not hold it). */
  private send(worker: Worker, message: Record<string, unknown>, waiting: Waiting): void {
    const id = ++this.nextId;
    this.waiting.set(id, waiting);
    worker.ref();
    worker.postMessage({ ...message, id });
  }

  /** Posts one session step and waits for its answer. */
  private call(message: Record<string, unknown>): Promise<unknown> {
    if (this.closing) return Promise.reject(closedError());
    const worker = this.liveWorker();
    if (!worker) return Promise.reject(new Error('SQLite writer thread stopped: restarting'));
    return new Promise((resolve, reject) => {
      this.send(worker, message, {
        answer: (answer) => {
          if ('ok' in answer && answer.ok) resolve(answer.value);
          else reject(toError((answer as { error: Failure }).error));
        },
        fail: reject,
      });
    });
  }

  /** Sends the queued items as one group, unless a session holds the writer (its end calls this again). */
  private flush(): void {
    if (this.sessionHeld || this.queue.items.length === 0) return;
    const worker = this.liveWorker();
    if (!worker) return;
    const group = this.queue.takeAll();
    this.send(
      worker,
      { kind: 'group', items: group.map((pending) => pending.item) },
      {
        answer: (answer) => this.settle(group, answer),
        fail: (error) => group.forEach((pending) => pending.reject(error)),
      },
    );
  }

  private settle(group: Pending[], answer: Answer): void {
    this.stats.requests += group.length;
    if ('together' in answer && answer.together) {
      group.forEach((pending, i) => pending.resolve(answer.values[i]));
      return;
    }
    const { outcomes } = answer as { outcomes: Array<[boolean, unknown]> };
    group.forEach((pending, i) => {
      const [ok, value] = outcomes[i];
      if (ok) pending.resolve(value);
      else pending.reject(toError(value as Failure));
    });
  }

  private releaseSession(): void {
    const waiter = this.sessionWaiters.shift();
    if (waiter) {
      waiter(); // the writer stays held, now by the waiter
      return;
    }
    this.sessionHeld = false;
    this.flush();
  }
}

/** How soon after a thread's start a new one may start, should it die. */
const RESTART_EVERY_MS = 1_000;

function closedError(): Error {
  return new Error('The database is closed (the SQLite writer thread has stopped)');
}

/**
 * A worker's Node options: none. Inherited, `--input-type=module` (`node --input-type=module -e …`, as some
 * tests start it) would make it read its CommonJS source as an ES module; and Node refuses the per-process
 * flags of `npm start` (`--max-old-space-size`…) when given explicitly. Its heap is set by resourceLimits.
 */
export const WORKER_EXEC_ARGV: string[] = [];

/** The writer's refusal as an Error with SQLite's code (SQLITE_CONSTRAINT_UNIQUE…), as the driver throws it. */
function toError(failure: Failure): Error {
  return Object.assign(new Error(failure.message), { code: failure.code });
}
