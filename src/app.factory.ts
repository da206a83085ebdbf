import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LoggerService } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { widenBatchBodyLimit } from './api/batches.controller.js';
import { setupSwagger } from './api/openapi.js';
import { AppModule } from './app.module.js';
import { Lifecycle } from './common/lifecycle.js';
import { Metrics } from './observability/metrics.js';
import { ProblemFilter, sendProblem } from './common/problem.filter.js';
import { GatewayError } from './domain/index.js';
import { createValidationPipe } from './common/validation.js';
import {
  REQUEST_TIMEOUT_MS,
  acceptOnlyJson,
  answerMethodNotAllowed,
  clientErrorHandler,
  serverFactory,
} from './common/http-edges.js';
import type { AppConfig } from './config/config.js';
import { createLoggers } from './observability/logger.js';
import { installRequestLogging } from './observability/request-logging.js';
import { ProviderRuntime } from './runtime/provider-runtime.js';
import { Store } from './persistence/store.js';
import { unfaithfulNumbersIn } from './api/json-body.js';

/** Request bodies larger than this are refused with PAYLOAD_TOO_LARGE (a status change is tiny). */
export const BODY_LIMIT_BYTES = 16 * 1024;

export interface CreateAppOptions {
  /** Where log lines go (tests capture them); defaults to asynchronous stdout. */
  logDestination?: NodeJS.WritableStream;
  /** How long a client may take to send a whole request before it is answered 408 (tests shorten it). */
  requestTimeoutMs?: number;
  /** The clock of the drift watch's read budget (tests pass a minute without waiting for one). */
  driftClock?: () => number;
  /** The clock webhook deliveries are scheduled by (tests pass the 24 hours of retries without waiting). */
  webhookClock?: () => number;
}

export interface GatewayApp {
  app: NestFastifyApplication;
  logger: Logger;
  runtime: ProviderRuntime;
  store: Store;
  lifecycle: Lifecycle;
  metrics: Metrics;
}

/** Builds the whole gateway (sandboxes started, routes ready) without listening. */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<GatewayApp> {
  const { logger, requestLogger } = createLoggers(config.logLevel, options.logDestination);
  const lifecycle = new Lifecycle();
  const metrics = new Metrics();
  const store = await Store.open(config.databaseUrl, logger);
  let runtime: ProviderRuntime;
  try {
    runtime = await ProviderRuntime.start(config, {
      retry: (event) => {
        metrics.retries.inc({ provider: event.provider, operation: event.operation, code: event.code });
        logger.warn(event, 'retrying provider call');
      },
      circuit: (provider, circuit) => {
        metrics.setCircuit(provider, circuit);
        logger.warn({ provider, circuit }, 'provider circuit changed');
      },
      tokenMinted: ({ provider, reason, ok }) => {
        metrics.tokenRefreshes.inc({ provider, reason, result: ok ? 'ok' : 'failed' });
      },
      unmappedError: (provider, error) => {
        metrics.countUnmapped(provider, error.provider?.httpStatus, error.provider?.code);
        logger.warn(
          { provider, providerHttpStatus: error.provider?.httpStatus, providerCode: error.provider?.code },
          'provider error not recognised by any rule: answered PROVIDER_REJECTED',
        );
      },
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
    return503OnClosing: true,
    serverFactory: serverFactory(options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS),
    clientErrorHandler: clientErrorHandler(logger),
    // Above the API's own id limit (128), so over-long ids get VALIDATION_FAILED naming the field, not a 414.
    // Above anything a request line can carry (Node refuses headers over 16 KiB), so an over-long id always
    // reaches the API's own validation (128 characters) and is answered VALIDATION_FAILED naming the field.
    routerOptions: { maxParamLength: 65_536 },
    // No route carries a Fastify schema (Nest validates with class-validator and answers with
    // JSON.stringify), so Fastify's ajv and fast-json-stringify compilers, which it would otherwise load at
    // start, are replaced by builders that refuse: a route that ever declares a schema fails at start.
    schemaController: {
      compilersFactory: { buildValidator: noRouteSchemas, buildSerializer: noRouteSchemas },
    },
    // Malformed percent-encoding and similar router failures become problem+json like every other error.
    frameworkErrors: (_error: Error, request: FastifyRequest, reply: FastifyReply) => {
      sendProblem(
        reply,
        request,
        GatewayError.validation([{ field: 'url', message: 'The URL is malformed' }]),
        logger,
      );
    },
  });
  answerMethodNotAllowed(adapter.getInstance(), logger);
  acceptOnlyJson(adapter.getInstance(), BODY_LIMIT_BYTES, unfaithfulNumbersIn);
  adapter.getInstance().addHook('onRoute', widenBatchBodyLimit);
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, runtime, store, logger, lifecycle, metrics, options),
    adapter,
    {
      logger: nestLogger(logger),
      abortOnError: false,
      bodyParser: false, // acceptOnlyJson above: no form bodies, no other charsets
    },
  );
  const fastify = app.getHttpAdapter().getInstance();
  installRequestLogging(fastify, requestLogger, metrics);
  fastify.addHook('onSend', (request, reply, payload, done) => {
    securityHeaders(request.url, reply);
    if (lifecycle.draining) void reply.header('connection', 'close');
    done(null, payload);
  });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemFilter(logger));
  setupSwagger(app);
  await app.init();
  for (const warning of config.warnings) logger.warn(warning);
  for (const entry of runtime.registry.list()) {
    if (entry.mode === 'sandbox')
      logger.info({ provider: entry.id, baseUrl: entry.baseUrl }, 'provider sandbox listening');
  }
  for (const entry of runtime.registry.list())
    if (entry.circuit) metrics.setCircuit(entry.id, entry.circuit());
  return { app, logger, runtime, store, lifecycle, metrics };
}

const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
// Swagger UI: its scripts and assets come from /docs itself; it uses inline styles and data: images.
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Headers on every response: no sniffing, no framing, no referrer, no caching of account data. */
function securityHeaders(url: string, reply: FastifyReply): void {
  void reply.header('x-content-type-options', 'nosniff');
  void reply.header('x-frame-options', 'DENY');
  void reply.header('referrer-policy', 'no-referrer');
  void reply.header('cross-origin-resource-policy', 'same-origin');
  void reply.header('content-security-policy', url.startsWith('/docs') ? DOCS_CSP : API_CSP);
  if (url.startsWith('/v1/') || url.startsWith('/health/')) void reply.header('cache-control', 'no-store');
}

/** Nest's own messages (start-up, route mapping) as pino lines, so stdout stays one JSON line each. */
function nestLogger(logger: Logger): LoggerService {
  return {
    log: (message: unknown, context?: unknown) => logger.debug({ context }, String(message)),
    error: (message: unknown, trace?: unknown, context?: unknown) =>
      logger.error({ context, trace }, String(message)),
    warn: (message: unknown, context?: unknown) => logger.warn({ context }, String(message)),
    debug: (message: unknown, context?: unknown) => logger.debug({ context }, String(message)),
    verbose: (message: unknown, context?: unknown) => logger.trace({ context }, String(message)),
  };
}

function noRouteSchemas(): never {
  throw new Error('Fastify route schemas are not used here (app.factory.ts): validate with class-validator');
}
