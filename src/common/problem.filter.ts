import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ERROR_CATALOG, GatewayError, type ErrorCode } from '../domain/index.js';
import { requestIdFrom } from '../observability/request-context.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The RFC 9457 body of CONTRACT.md section 4. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ErrorCode;
  retryable: boolean;
  requestId: string;
  [extension: string]: unknown;
}

export function problemOf(error: GatewayError, instance: string, requestId: string): ProblemBody {
  const entry = ERROR_CATALOG[error.code];
  return {
    type: `urn:problem:${error.code}`,
    title: entry.title,
    status: entry.status,
    detail: error.detail,
    instance,
    code: error.code,
    retryable: entry.retryable,
    requestId,
    ...error.extensions,
    ...(error.provider ? { provider: error.provider } : {}),
    ...(error.errors ? { errors: error.errors } : {}),
  };
}

/** Maps framework errors (unknown route, body too large, unparsable JSON …) onto canonical codes. */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const status = httpStatusOf(error);
  const message = error instanceof Error ? error.message : 'Unexpected error';
  if (status === 404) return new GatewayError('NOT_FOUND', 'No such route');
  if (status === 405) return new GatewayError('METHOD_NOT_ALLOWED', 'Method not allowed on this route');
  if (status === 413) return new GatewayError('PAYLOAD_TOO_LARGE', 'The request body is larger than allowed');
  if (status === 415) {
    return new GatewayError('UNSUPPORTED_MEDIA_TYPE', sanitize(message));
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return GatewayError.validation([{ field: 'body', message: sanitize(message) }]);
  }
  return new GatewayError('INTERNAL', 'The gateway failed unexpectedly; the error has been logged', {
    cause: error,
  });
}

function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof HttpException) return error.getStatus();
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

/** Framework messages can echo input; keep them short and single-line. */
function sanitize(message: string): string {
  const line = message.replace(/[\r\n]+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** Writes a problem+json response; the only place errors become HTTP. */
export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  error: unknown,
  logger: Logger,
): FastifyReply {
  const gatewayError = toGatewayError(error);
  // Errors raised before the request hooks ran (router failures) have no context yet: take or make the id.
  const requestId = request.ctx?.requestId ?? requestIdFrom(request.headers['x-request-id']);
  if (!request.ctx) void reply.header('x-request-id', requestId);
  if (gatewayError.code === 'INTERNAL') {
    logger.error({ err: error, requestId }, 'unhandled error');
  }
  if (request.ctx) request.ctx.log.errorCode = gatewayError.code;
  const instance = request.url.split('?')[0] ?? request.url;
  // RATE_LIMITED always tells the caller when to come back: the provider's Retry-After, else 1 s.
  const retryAfter = gatewayError.retryAfter ?? (gatewayError.code === 'RATE_LIMITED' ? 1 : undefined);
  if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
  if (gatewayError.code === 'UNAUTHENTICATED') {
    void reply.header(
      'www-authenticate',
      'Bearer realm="statusgate", ApiKey realm="statusgate" header="X-API-Key"',
    );
  }
  return reply
    .code(gatewayError.httpStatus)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .send(problemOf(gatewayError, instance, requestId));
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendProblem(http.getResponse<FastifyReply>(), http.getRequest<FastifyRequest>(), error, this.logger);
  }
}
