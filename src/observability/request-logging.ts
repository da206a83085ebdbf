import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { requestIdFrom, traceFrom, type RequestContext } from './request-context.js';

/**
 * Gives every request a context (request id taken from X-Request-Id or generated, echoed back) and
 * writes exactly one JSON line per request when the response has been sent.
 */
export function installRequestLogging(fastify: FastifyInstance, logger: Logger, metrics?: Metrics): void {
  fastify.decorateRequest('ctx', null as never);
  fastify.addHook('onRequest', (request, reply, done) => {
    const requestId = requestIdFrom(request.headers['x-request-id']);
    request.ctx = {
      requestId,
      callerId: 'anonymous',
      scopes: new Set(),
      startedAt: process.hrtime.bigint(),
      trace: traceFrom(request.headers.traceparent, request.headers.tracestate),
      log: {},
    };
    void reply.header('x-request-id', requestId);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const ctx = request.ctx;
    const latencyMs = Number(process.hrtime.bigint() - ctx.startedAt) / 1e6;
    const line = {
      requestId: ctx.requestId,
      ...(ctx.trace && { traceId: ctx.trace.traceparent.slice(3, 35) }),
      callerId: ctx.callerId,
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0],
      httpStatus: reply.statusCode,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      ...ctx.log,
    };
    if (metrics) record(metrics, request.method, line.route, reply.statusCode, ctx);
    if (reply.statusCode >= 500) logger.error(line, 'request');
    else logger.info(line, 'request');
    done();
  });
}

function record(
  metrics: Metrics,
  method: string,
  route: string,
  statusCode: number,
  ctx: RequestContext,
): void {
  const code = ctx.log.errorCode ?? '';
  metrics.requests.inc({ route, method, status_code: String(statusCode), code });
  if (method === 'PUT' && ctx.log.provider && ctx.log.status && !ctx.log.dryRun && ctx.log.outcome) {
    metrics.changes.inc({
      provider: ctx.log.provider,
      status: ctx.log.status,
      outcome: ctx.log.outcome,
      code,
    });
    if (ctx.log.providerSeconds !== undefined) {
      metrics.providerLatency.observe(
        { provider: ctx.log.provider, outcome: ctx.log.outcome },
        ctx.log.providerSeconds,
      );
    }
  }
}
