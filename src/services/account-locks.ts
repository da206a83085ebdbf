/**
 * Serializes the changes to one account within this process: each waits for the one before it on the
 * same account (first come, first served), so the provider receives them in the order their audit
 * records are made (change ids are UUIDv7, made under the lock) and the history's newest APPLIED item is
 * the provider's state. Changes to different accounts never wait for each other.
 *
 * Hand-written (a map of promise chains, a few lines) rather than a mutex library: async-mutex and
 * p-limit offer one lock or one queue, and keying them per account would need this same map around them.
 */
export class AccountLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** `shared`: the same lock across replicas (PostgreSQL advisory locks), taken once this process's turn comes. */
  constructor(private readonly shared?: { acquire(name: string): Promise<() => void> }) {}

  async run<T>(account: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(account) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before.then(() => mine);
    this.tails.set(account, tail);
    await before;
    let releaseShared: (() => void) | undefined;
    try {
      releaseShared = await this.shared?.acquire(account);
      return await work();
    } finally {
      releaseShared?.();
      release();
      // The last in line leaves no entry behind: memory follows the accounts being changed right now.
      if (this.tails.get(account) === tail) this.tails.delete(account);
    }
  }

  /** Accounts with a change running or waiting (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}
