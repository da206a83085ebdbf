import { pino, type Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log object: credentials, tokens, keys, personal data. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.password',
  '*.token',
  '*.refreshToken',
  '*.access_token',
  '*.apiKey',
  '*.clientSecret',
  '*.client_secret',
  '*.serverSecret',
  '*.server_secret',
  // Personal data a provider answer may carry, should one ever be logged as an object.
  '*.ssn',
  '*.email',
  '*.phone_number',
  '*.phone',
  '*.bank_account_number',
  '*.bank_routing_number',
  '*.address_line_one',
  '*.address_line_two',
  '*.name_first',
  '*.name_last',
  '*.date_of_birth',
];

/** Standard output is written in chunks of this many bytes, or at least every LOG_FLUSH_MS. */
export const LOG_BUFFER_BYTES = 4096;
export const LOG_FLUSH_MS = 250;

/**
 * The gateway's logger (JSON lines, secrets redacted) and a twin without redaction for the one line per
 * request: that line is built by the gateway from known fields only (ids, route, status, codes, timings),
 * never from headers or bodies, so walking the redaction paths over it on every request (about 4 % of
 * the gateway's CPU under load) buys nothing. Both write to the same destination.
 *
 * Standard output is written asynchronously (never blocking the request path) and in chunks: one write
 * per line cost a thread-pool round trip and a wake-up of the event loop per request (about 100 µs of
 * CPU per request at 1,000 req/s, measured with `npm run bench`). A line waits at most LOG_FLUSH_MS;
 * shutdown and fatal errors flush what is buffered (main.ts). `destination` lets tests capture output.
 */
export function createLoggers(
  level: string,
  destination?: NodeJS.WritableStream,
): { logger: Logger; requestLogger: Logger } {
  const options = {
    level,
    base: { service: 'statusgate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const stream = destination ?? bufferedDestination(1);
  return {
    logger: pino({ ...options, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } }, stream),
    requestLogger: pino(options, stream),
  };
}

/** An asynchronous destination on a file descriptor, written in chunks or at least every LOG_FLUSH_MS. */
export function bufferedDestination(fd: number): ReturnType<typeof pino.destination> {
  const stream = pino.destination({ dest: fd, sync: false, minLength: LOG_BUFFER_BYTES });
  const timer = setInterval(() => {
    try {
      stream.flush();
    } catch {
      clearInterval(timer); // destroyed: nothing more will be written
    }
  }, LOG_FLUSH_MS);
  timer.unref();
  stream.on('close', () => clearInterval(timer));
  return stream;
}
