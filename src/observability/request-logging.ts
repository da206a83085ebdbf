import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { requestIdFrom } from './request-context.js';

/**
 * Gives every request a context (request id taken from X-Request-Id or generated, echoed back) and
 * writes exactly one JSON line per request when the response has been sent.
 */
export function installRequestLogging(fastify: FastifyInstance, logger: Logger): void {
  fastify.decorateRequest('ctx', null as never);
  fastify.addHook('onRequest', (request, reply, done) => {
    const requestId = requestIdFrom(request.headers['x-request-id']);
    request.ctx = {
      requestId,
      callerId: 'anonymous',
      scopes: new Set(),
      startedAt: process.hrtime.bigint(),
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
      callerId: ctx.callerId,
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0],
      httpStatus: reply.statusCode,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      ...ctx.log,
    };
    if (reply.statusCode >= 500) logger.error(line, 'request');
    else logger.info(line, 'request');
    done();
  });
}
