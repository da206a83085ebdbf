import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { stableJson } from '../common/stable-json.js';
import { GatewayError } from '../domain/index.js';
import type { ChangeWrite } from '../persistence/change-writes.js';
import type { BeginRequest, BeginResult } from '../persistence/idempotency.repository.js';
import { Store } from '../persistence/store.js';

/** How long an idempotency key is remembered, and how long a running request holds it. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
export const IDEMPOTENCY_LOCK_MS = 5 * 60 * 1000;
/** How often a key whose release failed (the store could not write) is tried again. */
export const RELEASE_RETRY_MS = 250;

/** A request under an Idempotency-Key: whose key, and the request's identity (see `fingerprintOf`). */
export interface KeyedRequest {
  callerId: string;
  key: string;
  fingerprint: string;
}

/** The first answer to a key, stored and given again to every retry with the same key. */
export interface Replay {
  kind: 'replayed';
  status: number;
  body: unknown;
}

/** A refusal stored as a key's final answer: the error's facts; common/ renders them as problem+json. */
export interface StoredRefusal {
  code: GatewayError['code'];
  detail: string;
  requestId: string;
  provider?: GatewayError['provider'];
  errors?: GatewayError['errors'];
  extensions?: Record<string, unknown>;
}

/**
 * A running change's hold on its key, or on none. A new key may still be unclaimed: it is then claimed
 * in the commit of the change's first record (`recordFirst`), so a new key costs no commit of its own.
 * Every write that ends the change goes through `settle`, which adds the key's final answer (or its
 * release) to the same commit.
 */
export class KeyHold {
  /** The key is ours (claimed, or taken over) and not yet settled by a committed final write. */
  private held = false;
  private lost = false;

  constructor(
    private readonly store: Store,
    private readonly claim: BeginRequest | undefined,
    private pending: boolean,
    /** The key was held by a request whose process died: its change may already have reached the provider. */
    readonly takenOver = false,
  ) {
    this.held = claim !== undefined && !pending;
  }

  get key(): string | undefined {
    return this.claim?.key;
  }

  get callerId(): string | undefined {
    return this.claim?.callerId;
  }

  /** Commits the change's first writes; throws LostClaim when another request claimed the key first. */
  async recordFirst(writes: ChangeWrite[], answer?: KeyAnswer): Promise<void> {
    const all = [...writes, ...this.keyWrites(answer)];
    if (!this.pending) return this.commit(all, answer !== undefined);
    if (!(await this.store.writes.claimKey(this.claim!, all))) {
      this.lost = true;
      throw new LostClaim();
    }
    this.pending = false;
    this.held = answer === undefined;
  }

  /** Commits the change's last writes with the key's final answer, or its release (`answer` null). */
  settle(writes: ChangeWrite[], answer: KeyAnswer): Promise<void> {
    return this.commit([...writes, ...this.keyWrites(answer)], true);
  }

  /**
   * Frees a key still held after a failure that settled nothing (the store failed, or a bug). When the
   * store cannot write now (disk full, database down) the release is tried again until it can, within the
   * key's lock: the request has ended, so a retry must not be refused as still in progress.
   */
  async releaseIfHeld(): Promise<void> {
    if (!this.held || this.claim === undefined) return;
    const { callerId, key, now, lockMs } = this.claim;
    const release = () => this.store.writes.commit([{ kind: 'releaseKey', callerId, key }]);
    const until = now.getTime() + lockMs;
    const retry = (): void => {
      const timer = setTimeout(() => {
        release().catch(() => (Date.now() < until ? retry() : undefined));
      }, RELEASE_RETRY_MS);
      timer.unref();
    };
    await release().catch(retry);
  }

  get lostClaim(): boolean {
    return this.lost;
  }

  private async commit(writes: ChangeWrite[], settles: boolean): Promise<void> {
    await this.store.writes.commit(writes);
    if (settles) this.held = false;
  }

  private keyWrites(answer: KeyAnswer | undefined): ChangeWrite[] {
    if (this.claim === undefined || answer === undefined) return [];
    const { callerId, key } = this.claim;
    if (answer === null) return [{ kind: 'releaseKey', callerId, key }];
    return [{ kind: 'completeKey', callerId, key, ...answer }];
  }
}

/** A key's final answer (kept for replay), or null: the key is released for a retry. */
export type KeyAnswer = { status: number; body: unknown; changeId: string | null } | null;

/** The key was claimed by another request between our look and our claim; nothing of ours was written. */
export class LostClaim extends Error {
  constructor() {
    super('idempotency key claimed by another request');
  }
}

/**
 * The idempotency protocol around a change: a key already answered is replayed, one used for another
 * request or still running is refused, and a new one is held while the change runs and settled with it.
 */
@Injectable()
export class IdempotencyService {
  /** Keys of requests running in this process, with their fingerprints. */
  private readonly running = new Map<string, string>();

  constructor(@Inject(Store) private readonly store: Store) {}

  async run<T>(keyed: KeyedRequest | undefined, change: (hold: KeyHold) => Promise<T>): Promise<T | Replay> {
    if (keyed === undefined) return change(new KeyHold(this.store, undefined, false));
    const claim: BeginRequest = {
      ...keyed,
      now: new Date(),
      ttlMs: IDEMPOTENCY_TTL_MS,
      lockMs: IDEMPOTENCY_LOCK_MS,
      holder: this.store.instanceId,
    };
    let opened = await this.store.openKey(claim);
    // A new key is claimed only with the change's first record, made under the account's lock: a second
    // request with the key meanwhile is answered here from what this process knows is running.
    const running = `${keyed.callerId}\u0000${keyed.key}`;
    if (opened.kind === 'new') {
      const fingerprint = this.running.get(running);
      if (fingerprint !== undefined)
        opened = { kind: fingerprint === keyed.fingerprint ? 'in-progress' : 'reused' };
    }
    if (opened.kind !== 'new' && opened.kind !== 'started') return settledBefore(opened, claim.key);
    this.running.set(running, keyed.fingerprint);
    try {
      // Twice at most: a claim lost to a racing request is answered as if that key had been there all along.
      for (;;) {
        if (opened.kind !== 'new' && opened.kind !== 'started') return settledBefore(opened, claim.key);
        const takenOver = opened.kind === 'started' && opened.takenOver === true;
        const hold = new KeyHold(this.store, claim, opened.kind === 'new', takenOver);
        try {
          return await change(hold);
        } catch (error) {
          if (hold.lostClaim) {
            opened = await this.store.idempotency.begin(claim, true);
            continue;
          }
          await hold.releaseIfHeld();
          throw error;
        }
      }
    } finally {
      this.running.delete(running);
    }
  }
}

/** The answer to a key that another request already holds or answered. */
function settledBefore(result: Exclude<BeginResult, { kind: 'started' }>, key: string): Replay {
  switch (result.kind) {
    case 'replay':
      return { kind: 'replayed', status: result.status, body: result.body };
    case 'reused':
      throw new GatewayError(
        'IDEMPOTENCY_KEY_REUSED',
        `Idempotency-Key "${key}" was already used by this caller for a different request`,
      );
    case 'in-progress':
      throw new GatewayError(
        'IDEMPOTENCY_IN_PROGRESS',
        `A request with Idempotency-Key "${key}" is still running`,
      );
  }
}

/** The request's identity for idempotency: same method, provider, account and body (key order ignored). */
export function fingerprintOf(parts: unknown[]): string {
  return createHash('sha256').update(stableJson(parts)).digest('hex');
}

/**
 * A failure the caller could fix only by retrying (5xx, 429, anything retryable) releases the key;
 * a final refusal (unknown account, unsupported status …) is stored and replayed like a success.
 */
export function answerForFailure(error: unknown, requestId: string): KeyAnswer {
  const final = error instanceof GatewayError && !error.retryable && error.httpStatus < 500;
  if (!final) return null;
  const refusal: StoredRefusal = {
    code: error.code,
    detail: error.detail,
    requestId,
    provider: error.provider,
    errors: error.errors,
    extensions: error.extensions,
  };
  return { status: error.httpStatus, body: refusal, changeId: null };
}
