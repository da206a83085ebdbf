import { randomUUID } from 'node:crypto';
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** What one request carries through the layers, and what its log line will say. */
export interface RequestContext {
  requestId: string;
  /** The API key id of the caller; `anonymous` when authentication is off. */
  callerId: string;
  /** The caller's scopes, set by the API key guard. */
  scopes: ReadonlySet<string>;
  startedAt: bigint;
  /** Fields for the one log line written when the response is sent. */
  log: {
    provider?: string;
    accountId?: string;
    status?: string;
    outcome?: string;
    providerHttpStatus?: number;
    errorCode?: string;
    dryRun?: boolean;
    /** Time spent in the provider call (all attempts), for the latency histogram; not logged. */
    providerSeconds?: number;
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestContext;
  }
}

const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/** The caller's X-Request-Id when it is a sane token (printable ASCII, ≤ 200 chars), else a new UUID. */
export function requestIdFrom(header: unknown): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

export const Ctx = createParamDecorator(
  (_data: unknown, execution: ExecutionContext): RequestContext =>
    execution.switchToHttp().getRequest<FastifyRequest>().ctx,
);
