import { LRUCache } from 'lru-cache';

/** A minted credential and the moment it stops being usable (epoch ms). */
export interface MintedToken {
  value: string;
  expiresAt: number;
}

/** Why a new token is minted: none yet, the cached one is about to expire, or the provider rejected it. */
export type TokenMintReason = 'initial' | 'expiring' | 'rejected';

/** Told of every mint (one per shared mint, not per waiting caller), for the token-refresh metric. */
export type TokenMintListener = (reason: TokenMintReason, ok: boolean) => void;

interface Entry {
  token?: MintedToken;
  pending?: Promise<MintedToken>;
  /** The last token was dropped because the provider rejected it. */
  rejected?: boolean;
}

export interface TokenCacheOptions {
  /** Keys kept at most; the least recently used goes first (default DEFAULT_MAX_ENTRIES). */
  maxEntries?: number;
}

/**
 * Caches tokens per key (one key per credential scope: the lender, the client, one Pismo account)
 * and makes concurrent callers that need a new token share one mint. A token is reused until
 * `skewMs` before it expires.
 *
 * Memory is bounded for any number of keys (Pismo mints one token per account): at most `maxEntries`
 * keys, least recently used dropped first (lru-cache), and a token is dropped once it has expired —
 * read lazily, and swept at most once per PURGE_INTERVAL_MS when a key is added.
 */
export class TokenCache {
  static readonly DEFAULT_MAX_ENTRIES = 10_000;
  private static readonly PURGE_INTERVAL_MS = 60_000;

  private readonly entries: LRUCache<string, Entry>;
  private lastPurge: number;

  constructor(
    private readonly skewMs = 30_000,
    private readonly now: () => number = Date.now,
    private readonly onMint?: TokenMintListener,
    options: TokenCacheOptions = {},
  ) {
    this.entries = new LRUCache<string, Entry>({
      max: options.maxEntries ?? TokenCache.DEFAULT_MAX_ENTRIES,
      // Expiry on the cache's own clock (injectable in tests), checked exactly.
      perf: { now: () => this.now() },
      ttlResolution: 0,
    });
    this.lastPurge = now();
  }

  async get(key: string, mint: () => Promise<MintedToken>): Promise<string> {
    let entry = this.entries.get(key);
    if (!entry) {
      this.purgeExpired();
      entry = {};
      this.entries.set(key, entry);
    }
    if (entry.token && entry.token.expiresAt - this.skewMs > this.now()) return entry.token.value;
    if (!entry.pending) {
      const reason: TokenMintReason = entry.token ? 'expiring' : entry.rejected ? 'rejected' : 'initial';
      entry.pending = mint()
        .then(
          (token) => {
            entry.token = token;
            entry.rejected = false;
            // The entry lives as long as its token (unless evicted meanwhile: then it is not brought back).
            const ttl = Math.max(1, token.expiresAt - this.now());
            if (this.entries.peek(key) === entry) this.entries.set(key, entry, { ttl });
            this.onMint?.(reason, true);
            return token;
          },
          (error: unknown) => {
            this.onMint?.(reason, false);
            throw error;
          },
        )
        .finally(() => {
          entry.pending = undefined;
        });
    }
    return (await entry.pending).value;
  }

  /**
   * Drops the token a call was rejected with. When another caller already replaced it, the newer
   * token is kept, so a burst of 401s causes one new mint, not one per call.
   */
  invalidate(key: string, rejectedValue: string): void {
    const entry = this.entries.peek(key);
    if (entry?.token?.value === rejectedValue) {
      entry.token = undefined;
      entry.rejected = true;
    }
  }

  /**
   * The one "re-authenticate once" rule: runs `send` with the cached token for `key`; when
   * `rejected(answer)` says the provider refused that token, drops exactly that token, gets a new one
   * (one shared mint for a burst) and sends once more (`retried` true). The second answer is returned
   * as it is, for the adapter's error parser to read.
   */
  async withToken<Answer>(
    key: string,
    mint: () => Promise<MintedToken>,
    send: (token: string, retried: boolean) => Promise<Answer>,
    rejected: (answer: Answer) => boolean,
  ): Promise<Answer> {
    const token = await this.get(key, mint);
    const first = await send(token, false);
    if (!rejected(first)) return first;
    this.invalidate(key, token);
    return send(await this.get(key, mint), true);
  }

  /** How many keys the cache holds (tokens, mints in flight). */
  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  private purgeExpired(): void {
    if (this.now() - this.lastPurge < TokenCache.PURGE_INTERVAL_MS) return;
    this.lastPurge = this.now();
    this.entries.purgeStale();
  }
}

/** Reads the `exp` claim (seconds) of a JWT without verifying it; undefined when absent or unreadable. */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
