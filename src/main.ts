import { existsSync } from 'node:fs';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { createApp } from './app.factory.js';
import { runCommandLine } from './cli.js';
import type { Lifecycle } from './common/lifecycle.js';
import { ConfigError, type AppConfig } from './config/config.js';
import { loadConfig } from './runtime/config.js';

function configFromEnvironment(): AppConfig {
  // A .env file may hold the configuration too; real environment variables win over it.
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const exitCode = runCommandLine(process.argv.slice(2));
  if (exitCode !== undefined) process.exit(exitCode);
  const config = configFromEnvironment();
  const { app, logger, lifecycle } = await createApp(config);
  installDrain(app, logger, lifecycle, config.drainTimeoutMs);
  await app.listen({ port: config.port, host: config.host });
  const address = app.getHttpServer().address();
  const port = address !== null && typeof address === 'object' ? address.port : config.port;
  const modes = Object.values(config.providers)
    .map((p) => `${p.id}=${p.mode}`)
    .join(' ');
  logger.info(
    { port, host: config.host, auth: config.authEnabled ? 'on' : 'off' },
    `statusgate listening on http://${config.host}:${port} (docs at /docs; providers ${modes})`,
  );
}

/**
 * SIGTERM/SIGINT: report not-ready, stop accepting, let in-flight requests finish (Fastify closes the
 * server and waits for them; requests on kept-alive connections get 503), then close the sandboxes and
 * the database and exit 0. A drain that outlives DRAIN_TIMEOUT_MS exits 1 with calls still in flight.
 */
function installDrain(
  app: NestFastifyApplication,
  logger: Logger,
  lifecycle: Lifecycle,
  drainTimeoutMs: number,
): void {
  const stop = (signal: NodeJS.Signals) => {
    if (lifecycle.draining) return;
    lifecycle.draining = true;
    logger.info({ signal, drainTimeoutMs }, 'draining: no new requests; finishing those in flight');
    // Requests that finish during the drain close their connection, and idle kept-alive sockets are closed,
    // so clients do not hold the server open until their keep-alive runs out.
    const server = app.getHttpServer();
    const sweeper = setInterval(() => server.closeIdleConnections(), 50);
    sweeper.unref();
    setTimeout(() => {
      logger.error({ drainTimeoutMs }, 'drain timed out; exiting with requests still in flight');
      logger.flush(() => process.exit(1));
    }, drainTimeoutMs);
    // Kept referenced: it holds the process up until the drain ends in an explicit exit. Unreferenced, the
    // event loop could empty while closing (the store's checkpoint worker and timers are unreferenced),
    // and Node would exit 0 mid-close before "stopped cleanly" was written or the log buffer flushed.
    app.close().then(
      () => {
        logger.info('stopped cleanly');
        logger.flush(() => process.exit(0));
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        logger.flush(() => process.exit(1));
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `statusgate failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
