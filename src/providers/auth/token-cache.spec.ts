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
});
