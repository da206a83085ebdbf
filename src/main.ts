import { existsSync } from 'node:fs';
import { createApp } from './app.factory.js';
import { ConfigError, loadConfig, type AppConfig } from './config/config.js';

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
  const config = configFromEnvironment();
  const { app, logger } = await createApp(config);
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

main().catch((error: unknown) => {
  process.stderr.write(
    `statusgate failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
