/**
 * Command-line arguments of the built server (`node dist/main.js`). It is configured by environment
 * variables only, so the only arguments are `--help` and `--version`; anything else is refused rather
 * than silently ignored (a `--port 8080` that did nothing would be worse than an error).
 */
import { readFileSync } from 'node:fs';

const USAGE = `statusgate — one account-status API over ClearGrid, Canopy, Pismo and Spidr

Usage: node dist/main.js            start the gateway (npm start builds first, then does this)
       node dist/main.js --help     print this text
       node dist/main.js --version  print the version

Configuration is environment variables only (a .env file in the working directory is read too; real
variables win). A bad value stops the start with one line naming the variable.

  PORT, HOST                 listen address (3000, 0.0.0.0)
  LOG_LEVEL                  fatal error warn info debug trace silent (info)
  NODE_ENV                   production makes SANDBOX default to false
  DATABASE_URL               sqlite:<path> or postgres://user:pass@host:port/db (sqlite:./data/gateway.sqlite)
  API_KEYS                   JSON array [{"id","key" or "sha256","scopes":[...]}] (unset: auth off on sandboxes)
  AUTH_DISABLED              true turns caller authentication off (false)
  SANDBOX                    true: providers without a base URL run on their built-in sandbox (true)
  CLEARGRID_*, CANOPY_*,     a provider's live base URL and credentials, e.g. PISMO_BASE_URL,
  PISMO_*, SPIDR_*           PISMO_SERVER_KEY, PISMO_SERVER_SECRET; <PROVIDER>_TIMEOUT_MS (10000)
  PROVIDER_MAX_ATTEMPTS, PROVIDER_RETRY_BUDGET_MS                retries toward providers (3, 30000)
  CIRCUIT_FAILURE_THRESHOLD, CIRCUIT_HALF_OPEN_AFTER_MS          circuit breaker (5, 10000)
  PROVIDER_MAX_CONCURRENCY, PROVIDER_MAX_QUEUE                   bulkhead per provider (64, 256)
  DRAIN_TIMEOUT_MS           how long SIGTERM waits for requests in flight (25000)
  RATE_LIMIT_PER_MINUTE      requests per minute per caller key; 0 = off (6000)
  RECONCILE_INTERVAL_MS, RECONCILE_WINDOW_DAYS, RECONCILE_READS_PER_MINUTE
                             drift watch: how often (0 = off), how far back, reads per provider (60000, 30, 60)
  WEBHOOKS                   JSON array [{"id","url","secret":"whsec_...","types":[...]?}] (unset)
  EVENT_RETENTION_DAYS       how long events stay in the feed (30)

Every variable, its meaning and its default: README.md, section "Configuration".
`;

/** Set by the bundler (src/scripts/bundle.ts): the bundle does not sit where package.json can be found. */
declare const STATUSGATE_VERSION: string | undefined;

function version(): string {
  if (typeof STATUSGATE_VERSION === 'string') return STATUSGATE_VERSION;
  // dist/cli.js and src/cli.ts both sit one level below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * Handles `--help`/`-h` and `--version`/`-v`: prints and answers the exit code the process should end
 * with, or undefined when there are no arguments and the server should start.
 */
export function runCommandLine(args: readonly string[]): number | undefined {
  if (args.length === 0) return undefined;
  const [first] = args;
  if (args.length === 1 && (first === '--help' || first === '-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.length === 1 && (first === '--version' || first === '-v')) {
    process.stdout.write(`statusgate ${version()}\n`);
    return 0;
  }
  process.stderr.write(
    `statusgate: unknown argument ${JSON.stringify(first)}; configuration is environment variables only (see --help)\n`,
  );
  return 2;
}
