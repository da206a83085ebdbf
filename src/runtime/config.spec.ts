import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../config/config.js';
import { loadConfig } from './config.js';

/** The ConfigError loading `env` stops with; fails the test when it loads or throws something else. */
function configErrorOf(env: Record<string, string | undefined>): ConfigError {
  let error: unknown;
  try {
    loadConfig(env);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe(loadConfig.name, () => {
  const live = {
    SPIDR_BASE_URL: 'https://api.sb.spidrsrv.com/',
    SPIDR_API_KEY: 'live-key',
    API_KEYS: JSON.stringify([{ id: 'svc', key: 'a-very-long-secret-key', scopes: ['status:read'] }]),
  };

  it('should default to port 3000, SQLite under ./data and every provider on its sandbox', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, host: '0.0.0.0', logLevel: 'info', rateLimitPerMinute: 6000 });
    expect(config.databaseUrl).toBe('sqlite:./data/gateway.sqlite');
    expect(Object.values(config.providers).map((p) => p.mode)).toEqual([
      'sandbox',
      'sandbox',
      'sandbox',
      'sandbox',
    ]);
    expect(config.authEnabled).toBe(false);
    expect(config.warnings.join()).toMatch(/authentication is off/);
  });

  it('should watch for drift every minute by default, 60 reads per provider per minute, 30 days back', () => {
    expect(loadConfig({}).reconcile).toEqual({ intervalMs: 60_000, windowDays: 30, readsPerMinute: 60 });
    expect(
      loadConfig({ RECONCILE_INTERVAL_MS: '0', RECONCILE_WINDOW_DAYS: '7', RECONCILE_READS_PER_MINUTE: '3' })
        .reconcile,
    ).toEqual({ intervalMs: 0, windowDays: 7, readsPerMinute: 3 });
  });

  it('should disable providers without a base URL when SANDBOX=false or NODE_ENV=production', () => {
    expect(loadConfig({ SANDBOX: 'false' }).providers.canopy.mode).toBe('disabled');
    expect(loadConfig({ NODE_ENV: 'production' }).providers.canopy.mode).toBe('disabled');
    expect(loadConfig({ NODE_ENV: 'production', SANDBOX: 'true' }).providers.canopy.mode).toBe('sandbox');
  });

  it('should run a provider live with its credentials when its base URL is set', () => {
    const config = loadConfig(live);
    expect(config.providers.spidr).toMatchObject({
      mode: 'live',
      baseUrl: 'https://api.sb.spidrsrv.com',
      settings: { apiKey: 'live-key' },
      timeoutMs: 10_000,
    });
    expect(config.providers.pismo.mode).toBe('sandbox');
    expect(config.authEnabled).toBe(true);
  });

  it('should hash plain keys and keep sha256 entries as given', () => {
    const sha = createHash('sha256').update('another-long-secret').digest('hex');
    const config = loadConfig({
      API_KEYS: JSON.stringify([
        { id: 'a', key: 'a-very-long-secret-key', scopes: ['status:read'] },
        { id: 'b', sha256: sha, scopes: ['status:write', 'status:close'] },
      ]),
    });
    expect(config.apiKeys).toEqual([
      {
        id: 'a',
        sha256: createHash('sha256').update('a-very-long-secret-key').digest('hex'),
        scopes: ['status:read'],
      },
      { id: 'b', sha256: sha, scopes: ['status:write', 'status:close'] },
    ]);
    expect(JSON.stringify(config)).not.toContain('a-very-long-secret-key');
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ SANDBOX: 'maybe' }, 'SANDBOX'],
    [{ AUTH_DISABLED: 'yes please' }, 'AUTH_DISABLED'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'sqlite::memory:' }, 'DATABASE_URL'],
    [{ PISMO_ACCOUNT_API: 'savings' }, 'PISMO_ACCOUNT_API'],
    [{ CANOPY_TIMEOUT_MS: '0' }, 'CANOPY_TIMEOUT_MS'],
    [{ RATE_LIMIT_PER_MINUTE: '-1' }, 'RATE_LIMIT_PER_MINUTE'],
    [{ RECONCILE_INTERVAL_MS: 'soon' }, 'RECONCILE_INTERVAL_MS'],
    [{ RECONCILE_INTERVAL_MS: '50' }, 'RECONCILE_INTERVAL_MS'],
    [{ RECONCILE_INTERVAL_MS: '-1' }, 'RECONCILE_INTERVAL_MS'],
    [{ RECONCILE_WINDOW_DAYS: '0' }, 'RECONCILE_WINDOW_DAYS'],
    [{ RECONCILE_WINDOW_DAYS: '1.5' }, 'RECONCILE_WINDOW_DAYS'],
    [{ RECONCILE_READS_PER_MINUTE: '0' }, 'RECONCILE_READS_PER_MINUTE'],
    [{ RECONCILE_READS_PER_MINUTE: 'lots' }, 'RECONCILE_READS_PER_MINUTE'],
    [{ ...live, SPIDR_BASE_URL: 'not a url' }, 'SPIDR_BASE_URL'],
    [{ ...live, SPIDR_BASE_URL: 'ftp://x.example' }, 'SPIDR_BASE_URL'],
    [{ ...live, SPIDR_API_KEY: '' }, 'SPIDR_API_KEY'],
    [{ CLEARGRID_BASE_URL: 'https://v3-api.cleargrid.ai', AUTH_DISABLED: 'true' }, 'CLEARGRID_LENDER'],
    [{ API_KEYS: 'not json' }, 'API_KEYS'],
    [{ API_KEYS: '[{"id":"a","key":"short","scopes":["status:read"]}]' }, 'API_KEYS'],
    [{ API_KEYS: '[{"id":"a","key":"a-very-long-secret-key","scopes":["status:delete"]}]' }, 'API_KEYS'],
    [{ API_KEYS: '[{"id":"a","sha256":"ABC","scopes":["status:read"]}]' }, 'API_KEYS'],
  ])('should stop with one line naming the variable for %j', (env, variable) => {
    const error = configErrorOf(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
    expect(error.message).not.toContain('\n');
  });

  describe('Pismo OpenID settings (issue 15)', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const dir = mkdtempSync(join(tmpdir(), 'statusgate-pismo-key-'));
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, rsa);
    const pismo = { PISMO_BASE_URL: 'https://sandbox.pismolabs.io', AUTH_DISABLED: 'true' };
    const openid = { ...pismo, PISMO_TENANT_ID: 'TN-1', PISMO_PRIVATE_KEY: rsa };

    it.each([
      ['openid without a tenant id', { ...pismo, PISMO_PRIVATE_KEY: rsa }, 'PISMO_TENANT_ID'],
      ['openid without a key', { ...pismo, PISMO_TENANT_ID: 'TN-1' }, 'PISMO_PRIVATE_KEY'],
      [
        'an unreadable key file',
        { ...openid, PISMO_PRIVATE_KEY: `@${join(dir, 'missing.pem')}` },
        'PISMO_PRIVATE_KEY',
      ],
      ['a key that is not PEM', { ...openid, PISMO_PRIVATE_KEY: 'not a key' }, 'PISMO_PRIVATE_KEY'],
      ['a key that is not RSA', { ...openid, PISMO_PRIVATE_KEY: ec }, 'PISMO_PRIVATE_KEY'],
      [
        's2s without a server key',
        { ...pismo, PISMO_AUTH: 's2s', PISMO_SERVER_SECRET: 's' },
        'PISMO_SERVER_KEY',
      ],
      ['an unknown flow', { ...openid, PISMO_AUTH: 'oauth' }, 'PISMO_AUTH'],
    ])(
      'should refuse %s with one line naming the variable, never quoting the key',
      (_what, env, variable) => {
        const error = configErrorOf(env);
        expect(error.variable).toBe(variable);
        expect(error.message).not.toContain('\n');
        expect(error.message).not.toContain('PRIVATE KEY-----');
      },
    );

    it('should read the key from PEM text or @path, default to openid with the corporate API and s2s with accounts', () => {
      expect(loadConfig(openid).providers.pismo.settings).toMatchObject({
        accountApi: 'corporate',
        auth: 'openid',
        tenantId: 'TN-1',
        privateKey: rsa.trim(), // values are trimmed
      });
      expect(
        loadConfig({ ...openid, PISMO_PRIVATE_KEY: `@${keyFile}` }).providers.pismo.settings,
      ).toMatchObject({ privateKey: rsa });
      const s2s = {
        ...pismo,
        PISMO_ACCOUNT_API: 'accounts',
        PISMO_SERVER_KEY: 'k',
        PISMO_SERVER_SECRET: 's',
      };
      expect(loadConfig(s2s).providers.pismo.settings).toMatchObject({
        accountApi: 'accounts',
        serverKey: 'k',
      });
    });
  });

  it('should refuse to start with a live provider and no API_KEYS unless AUTH_DISABLED=true', () => {
    const { API_KEYS: _omitted, ...noKeys } = live;
    expect(() => loadConfig(noKeys)).toThrow(/API_KEYS is required/);
    const config = loadConfig({ ...noKeys, AUTH_DISABLED: 'true' });
    expect(config.authEnabled).toBe(false);
    expect(config.warnings.join()).toMatch(/AUTH_DISABLED/);
  });

  it('should return a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.providers.spidr)).toBe(true);
  });
});
