import { REDACTED, redactText } from './redact-text.js';

describe(redactText.name, () => {
  it.each([
    ['SSN 900-41-7733 is invalid', `SSN ${REDACTED} is invalid`],
    ['document 11222333000181 rejected', `document ${REDACTED} rejected`],
    ['phone +1 (410) 555-6789 bad', `phone ${REDACTED} bad`],
    ['contact marissa@protonmail.com now', `contact ${REDACTED} now`],
    ['token Bearer eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl expired', `token ${REDACTED} expired`],
    ['jwt eyJhbGciOiJub25l.eyJleHAiOjE3MDB9.abcdEFGH leaked', `jwt ${REDACTED} leaked`],
    ['opaque cnp_8f3k2j4h5g6f7d8s9a0q1w2e3r4t here', `opaque ${REDACTED} here`],
  ])('should mask %j', (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });

  it.each([
    'Corporate account not found',
    'WCAC0012 Corporate account not found',
    'reason_external_id must be a maximum of 120 characters in length',
    'Invalid status value. Accepted values: 5, 6',
    'Account 550e8400-e29b-41d4-a716-446655440000 not found',
    'HTTP 429 Too Many Requests',
    'Account NOTFOUND-spidr-3634-21 not found',
    'Account ORD-2025-001 has been withdrawn',
  ])('should keep %j unchanged', (input) => {
    expect(redactText(input)).toBe(input);
  });

  it('should mask the given secrets wherever they appear', () => {
    expect(redactText('bad client secret sandbox-secret-8c1f0e given', ['sandbox-secret-8c1f0e'])).toBe(
      `bad client secret ${REDACTED} given`,
    );
  });
});
