/**
 * Checks the transformers specs of every provider share. Not part of the build (`*.spec-*.ts`).
 */
import type { CanonicalReason, CanonicalStatus } from '../domain/index.js';
import type { Translation } from './provider-adapter.js';

/** A refused translation, whose reason names the provider, the status and (when given) the reason. */
export function expectRefusalNaming(
  translation: Translation,
  provider: string,
  status: CanonicalStatus,
  reason?: CanonicalReason,
): void {
  expect(translation.supported).toBe(false);
  if (translation.supported) return;
  expect(translation.why).toContain(provider);
  expect(translation.why).toContain(status);
  if (reason) expect(translation.why).toContain(reason);
}

/** CLOSED is the only terminal status (nothing can follow it at the provider). */
export function expectOnlyClosedTerminal(isTerminal: (status: CanonicalStatus) => boolean): void {
  expect(isTerminal('CLOSED')).toBe(true);
  for (const status of ['ACTIVE', 'SUSPENDED', 'DELINQUENT', 'DISPUTED', 'DO_NOT_CONTACT'] as const) {
    expect(isTerminal(status)).toBe(false);
  }
}
