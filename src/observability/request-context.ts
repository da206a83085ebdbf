import { randomUUID } from 'node:crypto';
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { CallContext, TraceHeaders } from '../domain/index.js';

/** What one request carries through the layers, and what its log line will say. */
export interface RequestContext {
  requestId: string;
  /** The API key id of the caller; `anonymous` when authentication is off. */
  callerId: string;
  /** The caller's scopes, set by the API key guard. */
  scopes: ReadonlySet<string>;
  startedAt: bigint;
  /** The caller's valid W3C traceparent (and tracestate), kept as sent and passed on to providers. */
  trace?: TraceHeaders;
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

// W3C Trace Context level 1: version 00 is exactly this; a later version may append "-…" fields.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const TRACESTATE = /^[\x20-\x7e]{0,512}$/;

/**
 * The caller's trace context when its traceparent is valid (W3C Trace Context §3.2: version ff, an
 * all-zero trace or parent id, or extra fields on version 00 make it invalid); undefined otherwise, so
 * an invalid one is dropped rather than forwarded. tracestate is passed only with a valid traceparent.
 */
export function traceFrom(traceparent: unknown, tracestate: unknown): TraceHeaders | undefined {
  if (typeof traceparent !== 'string' || traceparent.length > 512) return undefined;
  const match = TRACEPARENT.exec(traceparent);
  if (!match) return undefined;
  const [, version, traceId, parentId, , rest] = match;
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  const state =
    typeof tracestate === 'string' && tracestate !== '' && TRACESTATE.test(tracestate)
      ? tracestate
      : undefined;
  return state ? { traceparent, tracestate: state } : { traceparent };
}

/** The part of a request's context that travels to the provider. */
export function callContextOf(ctx: RequestContext): CallContext {
  return ctx.trace ? { requestId: ctx.requestId, trace: ctx.trace } : { requestId: ctx.requestId };
}

export const Ctx = createParamDecorator(
  (_data: unknown, execution: ExecutionContext): RequestContext =>
    execution.switchToHttp().getRequest<FastifyRequest>().ctx,
);
