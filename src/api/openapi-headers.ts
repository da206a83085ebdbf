/** Response headers the gateway sets, as OpenAPI header objects (one definition each, used by every operation). */
type HeaderObject = { description: string; schema: { type: 'string'; enum?: string[] } };

export const RESPONSE_HEADERS = {
  'X-Request-Id': {
    description:
      "The request id: the caller's X-Request-Id echoed back, or the one generated; also in the logs",
    schema: { type: 'string' },
  },
  'Idempotent-Replayed': {
    description: 'Present (true) when this is the stored first answer to the same Idempotency-Key, replayed',
    schema: { type: 'string', enum: ['true'] },
  },
  Location: {
    description:
      'Where the created resource can be read: /v1/changes/{changeId} on a 202 change answer, /v1/batches/{batchId} for a batch',
    schema: { type: 'string' },
  },
  'Preference-Applied': {
    description: 'wait=N when the Prefer: wait=N of the request was honoured (the answer is final)',
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'string' } },
  'WWW-Authenticate': {
    description: 'Bearer realm="statusgate", ApiKey realm="statusgate" header="X-API-Key"',
    schema: { type: 'string' },
  },
} satisfies Record<string, HeaderObject>;

export type ResponseHeaderName = keyof typeof RESPONSE_HEADERS;

export function responseHeaders(...names: ResponseHeaderName[]): Record<string, HeaderObject> {
  return Object.fromEntries(
    ['X-Request-Id' as const, ...names].map((name) => [name, RESPONSE_HEADERS[name]]),
  );
}
