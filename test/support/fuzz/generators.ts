/** Security fuzzing: fast-check generators of hostile paths, bodies and headers. */
import fc from 'fast-check';
import { MAGIC, PROVIDERS, REASONS, STATUSES, enc, safeDecode } from './contract.js';
// ---------------------------------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------------------------------

export const HOSTILE_FRAGMENTS = [
  '..',
  '../',
  '..%2F',
  '%2e%2e',
  '%2E%2E%2F',
  '.',
  '/',
  '%2F',
  '%2f',
  '%252F',
  '%25',
  '%',
  '%zz',
  '%u002F',
  '%C0%AE',
  '%C0%AF',
  '%c0%2f',
  '?x=1',
  '?',
  '%3F',
  '#frag',
  '#',
  '%23',
  '%00',
  '\u0000',
  '\r\n',
  '%0d%0a',
  '%0D%0A',
  '\n',
  ';',
  ';x=1',
  '\\',
  '%5C',
  '\u2215',
  '\uff0f',
  '\u2024',
  '\u2025',
  '\uff0e',
  '%E2%88%95',
  '%EF%BC%8F',
  '%E2%80%A4',
  ' ',
  '%20',
  '+',
  '\t',
  '@',
  ':',
  '~',
  'http://evil.example/',
  '//evil.example',
  '\u202e',
  '\ufeff',
  '\u200b',
  '\u0085',
  '\u2028',
  '\u00e9',
  '%C3%A9',
  '\u{1f600}',
  '\ud800',
  '*',
  '&',
  '=',
  "'",
  '"',
  '<script>',
  '{',
  '|',
  '`',
  '[',
  ']',
  '__proto__',
  'constructor',
  'x'.repeat(129),
  'a'.repeat(2000),
  '',
];

export const validId = fc
  .stringMatching(/^[A-Za-z0-9][A-Za-z0-9._~:@+-]{0,30}$/)
  .filter((id) => !MAGIC.test(id));
export const edgeValidId = fc.constantFrom(
  'a',
  'A.',
  'a..',
  'a~b',
  'a:b',
  'a@b',
  'a+b',
  '0',
  `a${'b'.repeat(127)}`,
  'x-._~:@+',
);

/** A raw path segment: encoded or not, valid or hostile, or a mixture. */
export const accountSegment = fc.oneof(
  { weight: 3, arbitrary: fc.oneof(validId, edgeValidId).map(enc) },
  { weight: 1, arbitrary: fc.oneof(validId, edgeValidId) },
  {
    weight: 4,
    arbitrary: fc
      .array(
        fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_FRAGMENTS) },
          { weight: 1, arbitrary: validId },
          { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
          { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
          { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }) },
        ),
        { minLength: 1, maxLength: 5 },
      )
      .chain((parts) =>
        fc.constantFrom(
          parts.join(''),
          parts.map((p) => safeEncode(p) ?? p).join(''),
          parts.map((p, i) => (i % 2 === 0 ? p : (safeEncode(p) ?? p))).join(''),
        ),
      ),
  },
);

export function safeEncode(text: string): string | undefined {
  try {
    return enc(text);
  } catch {
    return undefined;
  }
}

export const providerSegment = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...PROVIDERS) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'SPIDR',
      'spidr ',
      'spid%72',
      'spidr%00',
      'spidr%2F..',
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'prototype',
      'spidr\u200b',
      '',
      '..',
      'acme',
      'pismo;x',
      'canopy%20',
      'cleargrid.',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);

/** A path segment anywhere in the API: its own words and routes, dot segments, ids, hostile account segments. */
export const apiSegment = fc.oneof(
  fc.constantFrom(
    'v1',
    'accounts',
    'providers',
    'health',
    'live',
    'ready',
    'metrics',
    'docs',
    'docs-json',
    'status',
    'history',
    ...PROVIDERS,
    '__sandbox',
    'calls',
    '..',
    '.',
    '%2e%2e',
    '%2F',
    '',
    'static',
    'index.html',
    'swagger-ui.css',
    '%00',
    '__proto__',
  ),
  validId,
  accountSegment,
);

export const junk = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  fc.object({ maxDepth: 2, maxKeys: 3 }),
  fc.constantFrom(
    'active',
    ' ACTIVE',
    'ACTIVE ',
    'ACTIVE\u0000',
    '\uff21CTIVE',
    '__proto__',
    'toString',
    'constructor',
    'hasOwnProperty',
    '',
    ['ACTIVE'],
    { status: 'ACTIVE' },
  ),
);

export const statusValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...STATUSES) },
  { weight: 1, arbitrary: junk },
);
export const reasonValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...REASONS) },
  { weight: 1, arbitrary: junk },
);
export const customerValue = fc.oneof(
  { weight: 4, arbitrary: validId },
  { weight: 2, arbitrary: accountSegment },
  { weight: 1, arbitrary: junk },
);
export const noteValue = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 495, max: 520 }).map((n) => 'n'.repeat(n)) },
  { weight: 1, arbitrary: junk },
);
export const optionsValue = fc.oneof(
  fc.record(
    {
      updateChildren: fc.oneof(fc.boolean(), junk),
      reasonExternalId: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('r'.repeat(121)), junk),
      metadata: fc.oneof(fc.object({ maxDepth: 2 }), junk),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    { ztmSessionKey: fc.oneof(fc.string({ maxLength: 20 }), junk), bypassZtm: fc.oneof(fc.boolean(), junk) },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'prototype', 'x', 'toString'), junk, {
    maxKeys: 2,
  }),
  junk,
);

/** JSON object text from entries, so that `__proto__`/`constructor` can be own keys of the text. */
export function objectText(entries: Array<[string, unknown]>): string {
  return `{${entries
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`)
    .join(',')}}`;
}

export const structuredBody = fc
  .tuple(
    fc.option(statusValue, { nil: undefined, freq: 8 }),
    fc.option(reasonValue, { nil: undefined, freq: 2 }),
    fc.option(customerValue, { nil: undefined, freq: 2 }),
    fc.option(noteValue, { nil: undefined, freq: 2 }),
    fc.option(optionsValue, { nil: undefined, freq: 1 }),
    fc.array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(
            '__proto__',
            'constructor',
            'prototype',
            'colour',
            'Status',
            'status ',
            'toString',
            '',
          ),
          fc.string({ maxLength: 6 }),
        ),
        junk,
      ),
      { maxLength: 2 },
    ),
    fc.boolean(),
  )
  .map(([status, reason, customerId, note, providerOptions, extra, withExtra]) => {
    const entries: Array<[string, unknown]> = [
      ['status', status],
      ['reason', reason],
      ['customerId', customerId],
      ['note', note],
      ['providerOptions', providerOptions],
    ];
    return objectText(withExtra ? [...entries, ...extra] : entries);
  });

export const deepBody = fc
  // Up to 800 levels: deeper nesting overflows the stack today (500), pinned by "deeply nested JSON …".
  .tuple(
    fc.integer({ min: 20, max: 800 }),
    fc.constantFrom('top-array', 'top-object', 'metadata', 'note', 'status', 'options'),
  )
  .map(([depth, where]) => {
    const nest = (d: number) => '{"a":'.repeat(d) + '1' + '}'.repeat(d);
    switch (where) {
      case 'top-array':
        return '['.repeat(depth) + ']'.repeat(depth);
      case 'top-object':
        return nest(depth);
      case 'metadata':
        return `{"status":"SUSPENDED","providerOptions":{"metadata":${nest(depth)}}}`;
      case 'note':
        return `{"status":"ACTIVE","note":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      case 'status':
        return `{"status":${nest(depth)}}`;
      default:
        return `{"status":"ACTIVE","providerOptions":${nest(depth)}}`;
    }
  });

export const hugeBody = fc.oneof(
  fc.integer({ min: 16_000, max: 40_000 }).map((n) =>
    objectText([
      ['status', 'ACTIVE'],
      ['note', 'x'.repeat(n)],
    ]),
  ),
  fc.integer({ min: 16_300, max: 16_500 }).map((n) => `{"status":"ACTIVE"}${' '.repeat(n)}`),
  fc
    .integer({ min: 100, max: 3000 })
    .map((n) =>
      objectText([
        ['status', 'ACTIVE'],
        ...Array.from({ length: n }, (_, i): [string, unknown] => [`k${i}`, i]),
      ]),
    ),
  fc.constant(`{"status":"ACTIVE","note":"${'\\u0041'.repeat(3000)}"}`),
);

export const invalidJson = fc.oneof(
  fc.string({ maxLength: 30 }),
  structuredBody.chain((t) =>
    fc.integer({ min: 0, max: Math.max(0, t.length - 1) }).map((n) => t.slice(0, n)),
  ),
  fc.constantFrom(
    '{"status":"ACTIVE",}',
    "{'status':'ACTIVE'}",
    'NaN',
    '[',
    '{"status":"ACTIVE"}{"status":"CLOSED"}',
    '\ufeff{"status":"ACTIVE"}',
    '{"status":"ACTIVE","status":"CLOSED"}',
    '{"status":"\\ud800"}',
    '{"status":"ACTIVE","note":"\u0000"}',
    '{"__proto__":{"status":"ACTIVE"},"status":"ACTIVE"}',
    '{"constructor":{"prototype":{"x":1}},"status":"ACTIVE"}',
    '{"status":"ACTIVE","providerOptions":{"__proto__":{"bypassZtm":true}}}',
    'null',
    'true',
    '0',
    '"ACTIVE"',
    '[]',
    '{}',
    '',
    'status=ACTIVE',
  ),
);

export const anyBody = fc.oneof(
  { weight: 8, arbitrary: structuredBody },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }).map((v) => safeStringify(v)) },
  { weight: 2, arbitrary: invalidJson },
  { weight: 1, arbitrary: deepBody },
  { weight: 1, arbitrary: hugeBody },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

export function safeStringify(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

export const contentType = fc.oneof(
  { weight: 10, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=utf-16',
      'APPLICATION/JSON',
      'application/problem+json',
      'application/merge-patch+json',
      'application/jsonx',
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/octet-stream',
      'application/json, text/plain',
      '*/*',
      '',
      'application/json\u0000',
      'application/json\r\nX-Fuzz-Injected: 1',
      'application/json; charset=\u00e9',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

export const printable = (min: number, max: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    minLength: min,
    maxLength: max,
  });

/** The last resorts of a header value: one of the `odd` values (empty, controls, injections …) or raw bytes. */
const oddOrBinary = (...odd: string[]) => [
  { weight: 1, arbitrary: fc.constantFrom(...odd) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }) },
];

export const idempotencyKey = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: printable(1, 40) },
  { weight: 1, arbitrary: fc.constantFrom(255, 256, 300, 1000).map((n) => 'k'.repeat(n)) },
  { weight: 1, arbitrary: printable(256, 400) },
  ...oddOrBinary(
    '',
    ' ',
    '\t',
    'a\u0000b',
    'a\u007fb',
    'a\u001bb',
    '\u00e9t\u00e9',
    '\u2603',
    'a\r\nX-Fuzz-Injected: 1',
  ),
);

export const requestIdHeader = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: printable(1, 60) },
  { weight: 1, arbitrary: fc.constantFrom(200, 201, 5000).map((n) => 'r'.repeat(n)) },
  ...oddOrBinary(
    '',
    '../../etc/passwd',
    '${jndi:ldap://x}',
    '{"json":true}',
    '<script>alert(1)</script>',
    'a\r\nX-Fuzz-Injected: 1',
    'a\nX-Fuzz-Injected: 1',
    '\u00e9',
    '\u2603',
    'a\u0000b',
    '%0d%0aX-Fuzz-Injected:%201',
  ),
);

export const query = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  { weight: 2, arbitrary: fc.constant('?dryRun=true') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '?dryRun=false',
      '?dryRun=yes',
      '?dryRun=TRUE',
      '?dryRun=',
      '?dryRun',
      '?dryRun=true&dryRun=false',
      '?dryRun[]=true',
      '?dryRun=true&x=1',
      '?x=1',
      '?__proto__[dryRun]=true',
      '?constructor[prototype][dryRun]=true',
      '?dryRun=%74rue',
      '?dryRun=true%00',
      '?dryRun=true#x',
      '?&&&',
      '?=',
      '?%',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map((s) => `?${s}`) },
);

export function headersOf(parts: {
  contentType?: string;
  idempotencyKey?: string;
  requestId?: string;
  extra?: Array<[string, string]>;
}): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  if (parts.contentType !== undefined) headers.push(['content-type', parts.contentType]);
  if (parts.idempotencyKey !== undefined) headers.push(['idempotency-key', parts.idempotencyKey]);
  if (parts.requestId !== undefined) headers.push(['x-request-id', parts.requestId]);
  return [...headers, ...(parts.extra ?? [])];
}

/** Skips a sample whose path or customer id decodes to a magic sandbox id (a provider failure on purpose). */
export function ordinary(path: string, body?: string): boolean {
  const segment = path.split('/')[4];
  const decoded = segment === undefined ? undefined : safeDecode(segment.split('?')[0]);
  if (decoded !== undefined && MAGIC.test(decoded)) return false;
  return !(
    body !== undefined &&
    /"customerId":"(NOTFOUND|CLOSED|ERROR500|SLOW|AUTHEXPIRED|RATELIMIT|REJECT|FORBIDDEN)/.test(body)
  );
}

// Each property stops adding runs after its time limit (a pass with fewer runs), so the file stays < 60 s.
export const options = (numRuns: number, seconds: number) => ({
  numRuns,
  interruptAfterTimeLimit: seconds * 1000,
  markInterruptAsFailure: false,
});
