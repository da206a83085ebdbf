import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { map, type Observable } from 'rxjs';
import type { BatchAnswer } from '../services/batch.service.js';

/**
 * Turns a batch request's answer into HTTP (CONTRACT §6): 202 with `Location` while it runs, 200 with
 * `Preference-Applied: wait=N` when `Prefer: wait` saw it end, `Idempotent-Replayed: true` on a replay.
 */
@Injectable()
export class BatchAnswerInterceptor implements NestInterceptor<BatchAnswer, unknown> {
  intercept(context: ExecutionContext, next: CallHandler<BatchAnswer>): Observable<unknown> {
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    return next.handle().pipe(
      map((answer) => {
        void reply.code(answer.status).header('location', `/v1/batches/${answer.summary.batchId}`);
        if (answer.replayed) void reply.header('idempotent-replayed', 'true');
        if (answer.waitApplied !== undefined)
          void reply.header('preference-applied', `wait=${answer.waitApplied}`);
        return answer.summary;
      }),
    );
  }
}
