/**
 * Issue 14 item 6: the edges of HTTP itself answer like the API does — application/problem+json with a requestId —
 * and with the status HTTP defines for them: 431, 408, 400 for malformed requests, 405 with Allow, 413, 415; and a
 * request carrying two different API keys is refused rather than one silently winning.
 */
import { call, expectProblem, useGateway } from './support/gateway.js';
import { rawRequest, type RawAnswer } from './support/raw-http.js';

const KEY = { id: 'edges', key: 'edges-key-4b1d9e27c5a8f063', scopes: ['status:read', 'status:write'] };
const OTHER = { id: 'edges-other', key: 'edges-other-9c3e5a7b1d2f4068', scopes: ['status:read'] };
const STATUS = '/v1/accounts/spidr/acc-1001/status';

function expectRawProblem(answer: RawAnswer | undefined, status: number, code: string): void {
  expect(answer).toBeDefined();
  expect({ status: answer?.status, code: answer?.json?.code }).toEqual({ status, code });
  expect(answer?.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(answer?.json).toMatchObject({ type: `urn:problem:${code}`, status, code });
  expect(typeof answer?.json?.requestId).toBe('string');
  expect(answer?.headers['x-request-id']).toBe(answer?.json?.requestId);
}

describe('HTTP edges in problem+json', () => {
  const gw = useGateway({ API_KEYS: JSON.stringify([KEY, OTHER]) }, { requestTimeoutMs: 1_000 });
  const head = (lines: string[]): string => `${lines.join('\r\n')}\r\n\r\n`;
  const host = () => `Host: ${new URL(gw.url).host}`;

  it('should answer headers over the limit with 431 problem+json', async () => {
    const answer = await rawRequest(
      gw.url,
      head([`GET ${STATUS} HTTP/1.1`, host(), `X-Long: ${'h'.repeat(20_000)}`]),
    );
    expectRawProblem(answer, 431, 'HEADERS_TOO_LARGE');
  });

  it('should answer a client that stalls mid-headers with 408 problem+json', async () => {
    const answer = await rawRequest(gw.url, `GET ${STATUS} HTTP/1.1\r\n${host()}\r\nX-Partial: 1`, {
      timeoutMs: 8_000,
    });
    expectRawProblem(answer, 408, 'REQUEST_TIMEOUT');
  }, 15_000);

  it.each([
    ['a bare LF in a header', `GET ${STATUS} HTTP/1.1\r\nHost: x\r\nX-A: a\nb\r\n\r\n`],
    ['a bare CR in a header', `GET ${STATUS} HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n`],
    ['a NUL in a header', `GET ${STATUS} HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n`],
    ['a folded header', `GET ${STATUS} HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n`],
    ['a request line that is not HTTP', `GET ${STATUS} NOPE\r\n\r\n`],
  ])('should answer %s with 400 problem+json', async (_name, bytes) => {
    expectRawProblem(await rawRequest(gw.url, bytes), 400, 'VALIDATION_FAILED');
  });

  it('should answer an unsupported method on an existing path with 405 and Allow', async () => {
    for (const [method, path, allow] of [
      ['DELETE', STATUS, 'GET, HEAD, PUT'],
      ['POST', '/v1/providers', 'GET, HEAD'],
      ['PATCH', '/v1/accounts/pismo/EXT-1/history', 'GET, HEAD'],
      ['DELETE', '/health/live', 'GET, HEAD'],
    ] as const) {
      const response = await call(method, `${gw.url}${path}`, { headers: { 'x-api-key': KEY.key } });
      expectProblem(response, 405, 'METHOD_NOT_ALLOWED');
      expect(response.headers.get('allow')).toBe(allow);
    }
    expectProblem(await call('DELETE', `${gw.url}/v1/nowhere`), 404, 'NOT_FOUND');
  });

  it('should answer a 2 MB body with 413', async () => {
    const response = await call('PUT', `${gw.url}${STATUS}`, {
      rawBody: JSON.stringify({ status: 'SUSPENDED', note: 'n'.repeat(2 * 1024 * 1024) }),
      headers: { 'x-api-key': KEY.key },
    });
    expectProblem(response, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('should refuse a form-encoded body with 415 and apply nothing', async () => {
    const response = await call('PUT', `${gw.url}${STATUS}`, {
      rawBody: 'status=ACTIVE',
      headers: { 'x-api-key': KEY.key, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectProblem(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const history = await call('GET', `${gw.url}/v1/accounts/spidr/acc-1001/history`, {
      headers: { 'x-api-key': KEY.key },
    });
    expect(history.body.items).toEqual([]);
  });

  it.each(['text/plain', 'application/json; charset=utf-16', 'application/json; charset=latin1'])(
    'should refuse content-type %s with 415',
    async (contentType) => {
      const response = await call('PUT', `${gw.url}${STATUS}`, {
        rawBody: '{"status":"ACTIVE"}',
        headers: { 'x-api-key': KEY.key, 'content-type': contentType },
      });
      expectProblem(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
    },
  );

  it('should still take application/json with and without charset=utf-8', async () => {
    for (const contentType of [
      'application/json',
      'application/json; charset=utf-8',
      'application/json;charset=UTF-8',
    ]) {
      const response = await call('PUT', `${gw.url}${STATUS}?dryRun=true`, {
        rawBody: '{"status":"ACTIVE"}',
        headers: { 'x-api-key': KEY.key, 'content-type': contentType },
      });
      expect(response.status).toBe(200);
    }
  });

  it('should refuse X-API-Key and Authorization: Bearer carrying different keys with 401', async () => {
    const response = await call('GET', `${gw.url}${STATUS}`, {
      headers: { 'x-api-key': KEY.key, authorization: `Bearer ${OTHER.key}` },
    });
    expectProblem(response, 401, 'UNAUTHENTICATED');
    const same = await call('GET', `${gw.url}${STATUS}`, {
      headers: { 'x-api-key': KEY.key, authorization: `Bearer ${KEY.key}` },
    });
    expect(same.status).toBe(200);
  });
});
