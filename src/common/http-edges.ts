/**
 * The edges of HTTP itself, answered like every API error (application/problem+json with a requestId):
 * requests Node's parser refuses before Fastify sees them (431, 408, malformed → 400), methods a path does not
 * take (405 + Allow), and bodies that are not UTF-8 JSON (415). Fastify has no built-in 405 and answers parser
 * errors with its own `{error, statusCode}` body, hence these few hand-written pieces.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { GatewayError, type FieldError } from '../domain/index.js';
import { requestIdFrom } from '../observability/request-context.js';
import { PROBLEM_CONTENT_TYPE, problemOf, sendProblem } from './problem.filter.js';

/** The default time a client has to send a whole request (headers and body) before it is answered 408. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Node's HTTP server with request timeouts that end in 408 rather than hold a socket open. */
export function serverFactory(requestTimeoutMs: number) {
  return (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
    const server = createServer(
      {
        requestTimeout: requestTimeoutMs,
        headersTimeout: requestTimeoutMs,
        // Timeouts are only noticed on this tick; a quarter of the timeout keeps the overshoot small.
        connectionsCheckingInterval: Math.max(250, Math.min(30_000, requestTimeoutMs / 4)),
      },
      handler,
    );
    server.keepAliveTimeout = 72_000; // Fastify's own default, which a server factory would otherwise lose
    return server;
  };
}

/**
 * Node's `clientError`: a request the parser refused, answered as problem+json, then the connection closed.
 */
export function clientErrorHandler(logger: Logger) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    // A request before the bad bytes is still being answered: an answer now would overtake it on the wire, so
    // that answer goes out first and the connection closes after it (what follows it cannot be read anyway).
    const inflight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (inflight && !inflight.writableFinished) {
      inflight.once('finish', () => socket.end());
      return;
    }
    const gatewayError =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? new GatewayError('HEADERS_TOO_LARGE', 'The request headers are larger than 16 KiB')
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? new GatewayError('REQUEST_TIMEOUT', 'The request was not received in time')
          : GatewayError.validation([{ field: 'request', message: 'The request is not valid HTTP/1.1' }]);
    const requestId = requestIdFrom(undefined);
    // No request line was understood, so there is no path to name: the instance is this request itself.
    const body = JSON.stringify(problemOf(gatewayError, `urn:request:${requestId}`, requestId));
    logger.info({ requestId, parserError: error.code, errorCode: gatewayError.code }, 'HTTP request refused');
    socket.end(
      `HTTP/1.1 ${gatewayError.httpStatus} ${STATUS_CODES[gatewayError.httpStatus]}\r\n` +
        `content-type: ${PROBLEM_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
  };
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

/** JSON in UTF-8 is the only body the API takes: every other content type or charset is a 415. */
export function acceptOnlyJson(
  fastify: FastifyInstance,
  bodyLimit: number,
  refuse: (text: string) => FieldError[] = () => [],
): void {
  const json = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit },
    (request, body, done) => {
      const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase();
      if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
        const error = Object.assign(
          new Error(`The body must be UTF-8 JSON; charset=${charset} is not taken`),
          {
            statusCode: 415,
          },
        );
        done(error, undefined);
        return;
      }
      void json(request, body as string, (error, value) => {
        if (error) return done(error, undefined);
        const problems = refuse(body as string);
        if (problems.length > 0) return done(GatewayError.validation(problems), undefined);
        done(null, value);
      });
    },
  );
}

/**
 * 405 with `Allow` for a path that exists under other methods (Fastify would answer 404). Routes are recorded as
 * they are registered; the check runs only on requests no route matched.
 */
export function answerMethodNotAllowed(fastify: FastifyInstance, logger: Logger): void {
  const routes = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  fastify.addHook('onRoute', (route) => {
    const entry = routes.get(route.url) ?? { pattern: patternOf(route.url), methods: new Set<string>() };
    for (const method of [route.method].flat()) entry.methods.add(method);
    routes.set(route.url, entry);
  });
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.is404) return;
    const path = request.url.split('?')[0] ?? request.url;
    const allowed = new Set<string>();
    for (const { pattern, methods } of routes.values()) {
      if (pattern.test(path)) for (const method of methods) allowed.add(method);
    }
    if (allowed.size === 0 || allowed.has(request.method)) return;
    const allow = [...allowed].sort().join(', ');
    void reply.header('allow', allow);
    sendProblem(reply, request, new GatewayError('METHOD_NOT_ALLOWED', `${path} takes ${allow}`), logger);
    return reply;
  });
}

/** A Fastify route path (`/v1/accounts/:provider/status`, `/docs/*`) as a regular expression. */
function patternOf(url: string): RegExp {
  const source = url
    .split('/')
    .map((part) =>
      part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}
