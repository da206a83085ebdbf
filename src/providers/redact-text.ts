/**
 * Masks what must never travel on from a provider's free text (error messages): e-mail addresses, runs of
 * six or more digits (SSNs, document, phone and bank numbers, even with separators), bearer tokens, JWTs,
 * long opaque tokens, and the given secrets (the provider's own credentials). Codes such as WCAC0012 and
 * ordinary words pass unchanged. Personal names cannot be recognised by shape and are not masked.
 */
export const REDACTED = '[REDACTED]';

const PATTERNS: RegExp[] = [
  /\bBearer\s+[^\s"',;]+/gi,
  /\b[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\b/g,
  /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+\.[A-Za-z]{2,}/g,
  /(?=[A-Za-z0-9_]*\d)(?=[A-Za-z0-9_]*[A-Za-z])\b[A-Za-z0-9_]{24,}\b/g,
];
// A run glued to a word (`acc-3634-21`) is part of an identifier, not a number of its own.
const DIGIT_RUN = /(?<![A-Za-z0-9_-])\+?\d[\d\s().\-/]{4,}\d(?![A-Za-z0-9_])/g;
const UUID = /([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/;

export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  for (const pattern of PATTERNS) out = out.replace(pattern, REDACTED);
  // UUIDs (account and lender ids) are identifiers, not personal data: keep them whole.
  return out
    .split(UUID)
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part.replace(DIGIT_RUN, (run) => (run.replace(/\D/g, '').length >= 6 ? REDACTED : run)),
    )
    .join('');
}
