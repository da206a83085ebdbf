import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { map, type Observable } from 'rxjs';
import { GatewayError, changeHttpStatus } from '../domain/index.js';
import type { ChangeOutcome } from '../services/change-status.service.js';
import type { StoredRefusal } from '../services/idempotency.service.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from './problem.filter.js';

/**
 * Turns a change's outcome into HTTP: 200/202 for a change, 200 for a dry run, and for a replay the first
 * answer again with `Idempotent-Replayed: true` — a stored refusal rendered as problem+json, like the
 * first time (with the first request's id).
 */
@Injectable()
export class ChangeOutcomeInterceptor implements NestInterceptor<ChangeOutcome, unknown> {
  intercept(context: ExecutionContext, next: CallHandler<ChangeOutcome>): Observable<unknown> {
    const http = context.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    return next.handle().pipe(map((outcome) => answer(outcome, reply, request)));
  }
}

function answer(outcome: ChangeOutcome, reply: FastifyReply, request: FastifyRequest): unknown {
  switch (outcome.kind) {
    case 'dry-run':
      return outcome.response;
    case 'changed':
      void reply.code(changeHttpStatus(outcome.response));
      if (changeHttpStatus(outcome.response) === 202) locate(reply, outcome.response.changeId);
      return outcome.response;
    case 'replayed': {
      void reply.header('idempotent-replayed', 'true').code(outcome.status);
      if (outcome.status === 202) locate(reply, (outcome.body as { changeId?: unknown }).changeId);
      if (outcome.status < 400) return outcome.body;
      void reply.header('content-type', PROBLEM_CONTENT_TYPE);
      return storedProblem(outcome.body, request);
    }
  }
}

/** A 202 change answer links to the change's record (CONTRACT §7). */
function locate(reply: FastifyReply, changeId: unknown): void {
  if (typeof changeId === 'string') void reply.header('location', `/v1/changes/${changeId}`);
}

/** A stored refusal as problem+json; keys stored before refusals were kept as facts hold the body itself. */
function storedProblem(body: unknown, request: FastifyRequest): unknown {
  if (typeof body !== 'object' || body === null || 'type' in body) return body;
  const refusal = body as StoredRefusal;
  const error = new GatewayError(refusal.code, refusal.detail, {
    provider: refusal.provider,
    errors: refusal.errors,
    extensions: refusal.extensions,
  });
  return problemOf(error, request.url.split('?')[0] ?? request.url, refusal.requestId);
}
