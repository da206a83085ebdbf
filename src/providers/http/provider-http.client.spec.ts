import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import axios, { AxiosError } from 'axios';
import { GatewayError } from '../../domain/index.js';
import { keepAliveAdapter } from './keep-alive.adapter.js';
import { ProviderHttpClient } from './provider-http.client.js';

/** These specs look at transport only; provider error bodies are read by each adapter's parser. */
const noParser = () => ({ code: '', message: '' });

/** A real HTTP server on loopback whose behaviour each test sets; it records what it received. */
interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: http.Server;
let base: string;
let connections = 0;
let received: Received[] = [];
let handler: (request: http.IncomingMessage, response: http.ServerResponse, body: string) => void;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      handler(request, response, body);
    });
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
  connections = 0;
  handler = (_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.setHeader('x-provider-trace', 'abc');
    response.end(JSON.stringify({ ok: true }));
  };
});

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof GatewayError)) throw new Error(`expected a GatewayError, got ${String(error)}`);
  return error;
}

describe('ProviderHttpClient (axios with the keep-alive adapter, against a real server)', () => {
  it('sends method, path, query, headers and the JSON body; returns status, headers and parsed body', async () => {
    handler = (_request, response) => {
      response.statusCode = 422;
      response.setHeader('content-type', 'application/json');
      response.setHeader('X-Provider-Trace', 'abc');
      response.end('{"error":"bad","n":1}');
    };
    const client = new ProviderHttpClient('spidr', 2000, noParser);
    const result = await client.send({
      method: 'PATCH',
      url: `${base}/v1/account/a-1?x=1&y=%C3%A9`,
      headers: { 'X-Api-Key': 'k-123' },
      body: { status: 'suspended', note: 'é' },
      context: {
        requestId: 'req-1',
        trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'a=b' },
      },
    });
    expect(result).toEqual({
      status: 422,
      headers: expect.objectContaining({ 'x-provider-trace': 'abc', 'content-type': 'application/json' }),
      body: { error: 'bad', n: 1 },
      malformed: false,
      rawBody: '{"error":"bad","n":1}',
    });
    expect(received).toHaveLength(1);
    const [sent] = received;
    expect(sent.method).toBe('PATCH');
    expect(sent.url).toBe('/v1/account/a-1?x=1&y=%C3%A9');
    expect(JSON.parse(sent.body)).toEqual({ status: 'suspended', note: 'é' });
    expect(sent.headers).toMatchObject({
      'x-api-key': 'k-123',
      accept: 'application/json',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(sent.body)),
      'x-request-id': 'req-1',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'a=b',
    });
  });

  it('sends no content type and no body when there is none', async () => {
    const client = new ProviderHttpClient('spidr', 2000, noParser);
    await client.send({ method: 'PUT', url: `${base}/v1/nothing` });
    expect(received[0].body).toBe('');
    expect(received[0].headers['content-type']).toBeUndefined();
  });

  it('reuses one kept-alive connection for calls made one after another', async () => {
    const client = new ProviderHttpClient('spidr', 2000, noParser);
    for (let i = 0; i < 5; i++) {
      const result = await client.send({ method: 'GET', url: `${base}/v1/account/${i}` });
      expect(result.status).toBe(200);
    }
    expect(received).toHaveLength(5);
    expect(connections).toBe(1);
  });

  it('treats an empty body as no body and a non-JSON one as malformed', async () => {
    const client = new ProviderHttpClient('spidr', 2000, noParser);
    handler = (_request, response) => response.end('');
    expect(await client.send({ method: 'GET', url: `${base}/empty` })).toMatchObject({
      body: undefined,
      malformed: false,
    });
    handler = (_request, response) => response.end('<html>gateway timeout</html>');
    expect(await client.send({ method: 'GET', url: `${base}/html` })).toMatchObject({
      body: undefined,
      malformed: true,
      rawBody: '<html>gateway timeout</html>',
    });
  });

  it('decodes a gzip answer a provider sent although none was asked for', async () => {
    handler = (_request, response) => {
      response.setHeader('content-encoding', 'gzip');
      response.end(gzipSync(JSON.stringify({ status: 'SUSPENDED' })));
    };
    const client = new ProviderHttpClient('spidr', 2000, noParser);
    const result = await client.send({ method: 'GET', url: `${base}/gz` });
    expect(result.body).toEqual({ status: 'SUSPENDED' });
    expect(received[0].headers['accept-encoding']).toBeUndefined();
  });

  it('keeps a hard deadline over the whole answer, even when the provider trickles bytes', async () => {
    const timers: NodeJS.Timeout[] = [];
    handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"a":');
      // A byte every 50 ms: the socket is never idle, so only a deadline on the whole call stops it.
      timers.push(setInterval(() => response.write(' '), 50));
    };
    const client = new ProviderHttpClient('spidr', 300, noParser);
    const started = Date.now();
    const error = await failure(client.send({ method: 'GET', url: `${base}/slow` }));
    timers.forEach(clearInterval);
    expect(error.code).toBe('PROVIDER_TIMEOUT');
    expect(error.message).toBe('spidr GET /slow: no answer within 300 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('times out a provider that never answers', async () => {
    handler = () => undefined;
    const client = new ProviderHttpClient('spidr', 200, noParser);
    const error = await failure(client.send({ method: 'POST', url: `${base}/hang`, body: {} }));
    expect(error.code).toBe('PROVIDER_TIMEOUT');
  });

  it('refuses an answer above 5 MB', async () => {
    handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      for (let i = 0; i < 6; i++) response.write(chunk);
      response.end();
    };
    const client = new ProviderHttpClient('spidr', 2000, noParser);
    const error = await failure(client.send({ method: 'GET', url: `${base}/huge` }));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.message).toBe('spidr GET /huge: ERR_BAD_RESPONSE');
  });

  it('refuses a compressed answer that would inflate above 5 MB', async () => {
    handler = (_request, response) => {
      response.setHeader('content-encoding', 'gzip');
      response.end(gzipSync(Buffer.alloc(6 * 1024 * 1024, 0x20)));
    };
    const client = new ProviderHttpClient('spidr', 2000, noParser);
    const error = await failure(client.send({ method: 'GET', url: `${base}/bomb` }));
    expect(error.message).toBe('spidr GET /bomb: ERR_BAD_RESPONSE');
  });

  it('reports a refused connection and one dropped mid-answer as the provider being unavailable', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = new ProviderHttpClient('pismo', 2000, noParser);
    const refused = await failure(client.send({ method: 'GET', url: `http://127.0.0.1:${port}/x` }));
    expect(refused.code).toBe('PROVIDER_UNAVAILABLE');
    expect(refused.message).toBe('pismo GET /x: ECONNREFUSED');

    handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      response.write('{"partial":');
      setTimeout(() => response.socket?.destroy(), 20);
    };
    const dropped = await failure(client.send({ method: 'GET', url: `${base}/drop` }));
    expect(dropped.code).toBe('PROVIDER_UNAVAILABLE');
    expect(dropped.message).toMatch(/^pismo GET \/drop: /);
  });
});

describe('ProviderHttpClient.call (the one "not 2xx → canonical failure" path of every adapter)', () => {
  const parse = (_status: number, body: unknown) => {
    const error = (body as { error?: { code?: string; message?: string } }).error ?? {};
    return { code: error.code ?? '', message: error.message ?? '' };
  };
  const answer = (status: number) => {
    handler = (_request, response) => {
      response.statusCode = status;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ error: { code: 'invalid_client', message: 'Invalid client' } }));
    };
  };
  // A new client per call, as each test had its own.
  const client = () => new ProviderHttpClient('canopy', 2000, parse);
  const authenticate = () =>
    failure(
      client().call('authenticate', { method: 'POST', url: `${base}/auth/token` }, { tokenEndpoint: true }),
    );

  it('should return a 2xx answer as it is', async () => {
    const response = await client().call('read status', { method: 'GET', url: `${base}/ok` });
    expect(response.body).toEqual({ ok: true });
  });

  it.each([
    [404, 'ACCOUNT_NOT_FOUND'],
    [422, 'PROVIDER_REJECTED'],
    [429, 'RATE_LIMITED'],
    [503, 'PROVIDER_ERROR'],
  ])('should turn %s into %s with the provider code and message kept', async (status, code) => {
    answer(status);
    const error = await failure(client().call('read status', { method: 'GET', url: `${base}/x` }));
    expect(error.code).toBe(code);
    expect(error.provider).toMatchObject({
      id: 'canopy',
      httpStatus: status,
      code: 'invalid_client',
      message: 'Invalid client',
    });
  });

  it('should judge an answer got through send the same way (expectSuccess, after a token retry)', async () => {
    const http = client();
    const ok = await http.send({ method: 'GET', url: `${base}/ok` });
    expect(http.expectSuccess('read status', ok)).toBe(ok);
    answer(404);
    const refused = await http.send({ method: 'GET', url: `${base}/x` });
    const error = await failure(Promise.resolve().then(() => http.expectSuccess('read status', refused)));
    expect(error.code).toBe('ACCOUNT_NOT_FOUND');
    expect(error.provider).toMatchObject({ id: 'canopy', httpStatus: 404, code: 'invalid_client' });
  });

  it.each([400, 401, 403, 404])(
    'should make a token endpoint %s PROVIDER_AUTH_FAILED, keeping the code',
    async (status) => {
      answer(status);
      const error = await authenticate();
      expect(error.code).toBe('PROVIDER_AUTH_FAILED');
      expect(error.provider).toMatchObject({ code: 'invalid_client', message: 'Invalid client' });
    },
  );

  it.each([
    [429, 'RATE_LIMITED'],
    [500, 'PROVIDER_ERROR'],
    [503, 'PROVIDER_ERROR'],
  ])('should leave a token endpoint %s to the HTTP status', async (status, code) => {
    answer(status);
    const error = await authenticate();
    expect(error.code).toBe(code);
  });
});

describe('keepAliveAdapter, as an axios adapter', () => {
  const agents = { httpAgent: new http.Agent({ keepAlive: true }), httpsAgent: undefined as never };
  const client = axios.create({ adapter: keepAliveAdapter(agents), validateStatus: () => true });

  afterAll(() => agents.httpAgent.destroy());

  it('joins a relative URL to baseURL and returns a Buffer for arraybuffer', async () => {
    const response = await client.get<Buffer>('/v1/x', { baseURL: base, responseType: 'arraybuffer' });
    expect(received[0].url).toBe('/v1/x');
    expect(Buffer.isBuffer(response.data)).toBe(true);
    expect(JSON.parse(response.data.toString('utf8'))).toEqual({ ok: true });
  });

  it('cancels on an aborted signal without calling the server', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await client.get(`${base}/x`, { signal: controller.signal }).catch((e: unknown) => e);
    expect(axios.isCancel(error) || (error instanceof AxiosError && error.code === 'ERR_CANCELED')).toBe(
      true,
    );
    expect(received).toHaveLength(0);
  });

  it('refuses what it does not support rather than ignoring it', async () => {
    const withParams = await client.get(`${base}/x`, { params: { a: 1 } }).catch((e: unknown) => e);
    expect(withParams).toBeInstanceOf(AxiosError);
    expect((withParams as AxiosError).code).toBe('ERR_BAD_OPTION');
    const ftp = await client.get('ftp://127.0.0.1/x').catch((e: unknown) => e);
    expect((ftp as AxiosError).code).toBe('ERR_BAD_REQUEST');
    expect(received).toHaveLength(0);
  });
});
