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

/**
 * Caches tokens per key (one key per credential scope: the lender, the client, one Pismo account)
 * and makes concurrent callers that need a new token share one mint. A token is reused until
 * `skewMs` before it expires.
 */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly skewMs = 30_000,
    private readonly now: () => number = Date.now,
    private readonly onMint?: TokenMintListener,
  ) {}

  async get(key: string, mint: () => Promise<MintedToken>): Promise<string> {
    const entry = this.entries.get(key) ?? {};
    this.entries.set(key, entry);
    if (entry.token && entry.token.expiresAt - this.skewMs > this.now()) return entry.token.value;
    if (!entry.pending) {
      const reason: TokenMintReason = entry.token ? 'expiring' : entry.rejected ? 'rejected' : 'initial';
      entry.pending = mint()
        .then(
          (token) => {
            entry.token = token;
            entry.rejected = false;
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
    const entry = this.entries.get(key);
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

  clear(): void {
    this.entries.clear();
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
