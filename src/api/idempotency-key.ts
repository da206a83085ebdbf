import { GatewayError } from '../domain/index.js';

/** `Idempotency-Key`: optional; when present 1–255 printable ASCII characters. */
export function idempotencyKeyFrom(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[\x20-\x7e]{1,255}$/.test(value)) {
    throw GatewayError.validation([
      { field: 'Idempotency-Key', message: 'Idempotency-Key must be 1-255 printable ASCII characters' },
    ]);
  }
  return value;
}
