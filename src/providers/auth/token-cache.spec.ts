import { TokenCache, type MintedToken, type TokenMintReason } from './token-cache.js';

describe('TokenCache', () => {
  let now = 1_000_000;
  const clock = () => now;
  let mints: Array<[TokenMintReason, boolean]>;
  let cache: TokenCache;
  let counter: number;
  /** A minter that counts its calls; each call mints the next token t1, t2, … */
  const mint = (lifetimeMs = 60_000) => {
    const minter = Object.assign(
      (): Promise<MintedToken> => {
        minter.calls += 1;
        return Promise.resolve({ value: `t${++counter}`, expiresAt: now + lifetimeMs });
      },
      { calls: 0 },
    );
    return minter;
  };

  beforeEach(() => {
    now = 1_000_000;
    counter = 0;
    mints = [];
    cache = new TokenCache(10_000, clock, (reason, ok) => mints.push([reason, ok]));
  });

  it('should mint once for concurrent callers and report one initial mint', async () => {
    const minter = mint();
    const tokens = await Promise.all([
      cache.get('k', minter),
      cache.get('k', minter),
      cache.get('k', minter),
    ]);
    expect(new Set(tokens)).toEqual(new Set(['t1']));
    expect(minter.calls).toBe(1);
    expect(mints).toEqual([['initial', true]]);
  });

  it('should reuse a token until the skew before expiry, then report an "expiring" mint', async () => {
    const minter = mint(60_000);
    await cache.get('k', minter);
    now += 49_000; // 11 s left > 10 s skew
    expect(await cache.get('k', minter)).toBe('t1');
    now += 2_000; // 9 s left
    expect(await cache.get('k', minter)).toBe('t2');
    expect(mints).toEqual([
      ['initial', true],
      ['expiring', true],
    ]);
  });

  it('should report a "rejected" mint after invalidate, and ignore an invalidate of an older token', async () => {
    const minter = mint();
    await cache.get('k', minter);
    cache.invalidate('k', 't1');
    expect(await cache.get('k', minter)).toBe('t2');
    cache.invalidate('k', 't1'); // stale: t2 is kept
    expect(await cache.get('k', minter)).toBe('t2');
    expect(mints).toEqual([
      ['initial', true],
      ['rejected', true],
    ]);
  });

  it('should report a failed mint and let the next caller try again', async () => {
    const failing = (): Promise<MintedToken> => Promise.reject(new Error('down'));
    await expect(cache.get('k', failing)).rejects.toThrow('down');
    expect(await cache.get('k', mint())).toBe('t1');
    expect(mints).toEqual([
      ['initial', false],
      ['initial', true],
    ]);
  });

  it('should keep keys apart', async () => {
    expect(await cache.get('a', mint())).toBe('t1');
    expect(await cache.get('b', mint())).toBe('t2');
    expect(await cache.get('a', mint())).toBe('t1');
  });

  describe('memory bound (issue 13 item 6: 40,000 Pismo accounts kept 40,003 tokens)', () => {
    it('should keep at most maxEntries tokens, dropping the least recently used', async () => {
      const bounded = new TokenCache(10_000, clock, undefined, { maxEntries: 1_000 });
      const minter = mint();
      await bounded.get('first', minter);
      for (let i = 0; i < 40_000; i++) {
        await bounded.get(`acc-${i}`, minter);
        if (i % 100 === 0) await bounded.get('first', minter); // kept warm: recently used
      }
      expect(bounded.size).toBeLessThanOrEqual(1_000);
      expect(await bounded.get('first', minter)).toBe('t1');
      expect(minter.calls).toBe(40_001);
    });

    it('should drop expired tokens, not only the least recently used', async () => {
      const bounded = new TokenCache(10_000, clock, undefined, { maxEntries: 100_000 });
      const minter = mint(60_000);
      for (let i = 0; i < 5_000; i++) await bounded.get(`acc-${i}`, minter);
      expect(bounded.size).toBe(5_000);
      now += 61_000; // every token has expired
      await bounded.get('late', minter);
      expect(bounded.size).toBe(1);
    });

    it('should bound by default, without options', async () => {
      const unbounded = new TokenCache(10_000, clock);
      const minter = mint();
      for (let i = 0; i < 40_000; i++) await unbounded.get(`acc-${i}`, minter);
      expect(unbounded.size).toBeLessThanOrEqual(TokenCache.DEFAULT_MAX_ENTRIES);
      expect(TokenCache.DEFAULT_MAX_ENTRIES).toBeLessThan(40_000);
    });
  });
});
