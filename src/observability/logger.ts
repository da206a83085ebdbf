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

/**
 * The gateway's logger: JSON lines, secrets redacted, written asynchronously so logging never blocks
 * the request path. `destination` lets tests capture the output.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { service: 'statusgate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return pino(options, destination ?? pino.destination({ sync: false }));
}
