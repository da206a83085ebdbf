/** Security fuzzing: sending requests as-is (node:http, or a raw socket for what it refuses) and parsing the answers. */
import { Agent, request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
/** Where the raw requests go (set by the spec once its gateway listens). */
export const rawTarget = { port: 0 };

// ---------------------------------------------------------------------------------------------------
// Raw HTTP: node:http for whatever it sends as-is, a socket for the rest.
// ---------------------------------------------------------------------------------------------------

export interface FuzzRequest {
  method: string;
  /** Sent as-is; a Buffer is written byte for byte on a raw socket. */
  path: string | Buffer;
  headers: Array<[string, string]>;
  body?: string;
}

export interface FuzzResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface FuzzResult {
  via: 'http' | 'raw';
  responses: FuzzResponse[];
}

/** What the runs met, printed at the end (for the report). */
export const stats = {
  requests: 0,
  raw: 0,
  parserRefusals: 0,
  closedWithoutAnswer: 0,
  fastifyRouterErrors: 0,
  bodiesWithDroppedKeys: 0,
  sandbox414: 0,
  byStatus: {} as Record<number, number>,
  providerWrites: 0,
};
export const agent = new Agent({ keepAlive: true, maxSockets: 4 });

export async function send(req: FuzzRequest): Promise<FuzzResult> {
  if (typeof req.path === 'string') {
    const attempt = viaHttp(req);
    if (attempt) {
      try {
        return { via: 'http', responses: [await attempt] };
      } catch (error) {
        // node:http cannot read some parser-level refusals (e.g. Fastify's clientError answer carries a
        // body even for HEAD): read the same request's answer off a raw socket instead.
        if (!(error as NodeJS.ErrnoException).code?.startsWith('HPE_')) throw error;
      }
    }
  }
  return { via: 'raw', responses: await viaRaw(req) };
}

/** undefined when node:http refuses the request synchronously (invalid characters): use a raw socket. */
export function viaHttp(req: FuzzRequest): Promise<FuzzResponse> | undefined {
  if (req.method === 'CONNECT') return undefined; // node:http wants a tunnel for CONNECT
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of req.headers) {
    const existing = headers[name];
    headers[name] = existing === undefined ? value : [...[existing].flat().map(String), value];
  }
  let clientRequest: ReturnType<typeof httpRequest>;
  try {
    clientRequest = httpRequest({
      host: '127.0.0.1',
      port: rawTarget.port,
      method: req.method,
      path: req.path as string,
      headers,
      agent,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (['ERR_UNESCAPED_CHARACTERS', 'ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN'].includes(code))
      return undefined;
    throw error;
  }
  return new Promise<FuzzResponse>((resolve, reject) => {
    clientRequest.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers))
          flat[k] = Array.isArray(v) ? v.join(', ') : String(v);
        resolve({ status: res.statusCode ?? 0, headers: flat, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    clientRequest.setTimeout(15_000, () => clientRequest.destroy(new Error('no answer within 15 s')));
    clientRequest.on('error', reject);
    clientRequest.end(req.body);
  });
}

/**
 * Writes the request line and headers byte for byte (with `Connection: close`) and reads every answer until
 * the server closes. No half-close: Node aborts a request whose client half-closed, losing its answer. A
 * server still waiting for bytes after 3 s counts as a closed connection.
 */
export function viaRaw(req: FuzzRequest): Promise<FuzzResponse[]> {
  const body = req.body === undefined ? Buffer.alloc(0) : Buffer.from(req.body, 'utf8');
  // node:http writes a path of characters up to U+00FF as latin1 bytes; beyond that there is only UTF-8.
  const path =
    typeof req.path !== 'string'
      ? req.path
      : Buffer.from(req.path, [...req.path].every((c) => c.charCodeAt(0) <= 0xff) ? 'latin1' : 'utf8');
  const hasLength = req.headers.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n));
  const head = Buffer.concat([
    Buffer.from(`${req.method} `, 'utf8'),
    path,
    Buffer.from(
      ` HTTP/1.1\r\nHost: 127.0.0.1:${rawTarget.port}\r\n` +
        req.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('') +
        (hasLength || (body.length === 0 && req.method === 'GET')
          ? ''
          : `Content-Length: ${body.length}\r\n`) +
        'Connection: close\r\n\r\n',
      'utf8',
    ),
  ]);
  return new Promise((resolve, reject) => {
    const socket = connect(rawTarget.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 3_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined); // a reset is a close
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseResponses(Buffer.concat(chunks), req.method === 'HEAD'));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.write(Buffer.concat([head, body]));
  });
}

export function parseResponses(data: Buffer, head: boolean): FuzzResponse[] {
  const responses: FuzzResponse[] = [];
  let rest = data;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0)
      throw new Error(`unparsable answer: ${JSON.stringify(rest.toString('latin1').slice(0, 300))}`);
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
    const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!statusMatch) throw new Error(`not an HTTP answer: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      const name = line.slice(0, i).trim().toLowerCase();
      headers[name] = headers[name]
        ? `${headers[name]}, ${line.slice(i + 1).trim()}`
        : line.slice(i + 1).trim();
    }
    rest = rest.subarray(end + 4);
    let bodyBytes: Buffer;
    const bodyless =
      statusMatch[1] === '204' ||
      statusMatch[1] === '304' ||
      // HEAD answers have Content-Length but no body; a parser-level refusal of a HEAD request has both.
      (head && (rest.length === 0 || rest.subarray(0, 7).toString('latin1') === 'HTTP/1.'));
    if (bodyless) {
      bodyBytes = Buffer.alloc(0);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      bodyBytes = rest.subarray(0, length);
      rest = rest.subarray(length);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
        rest = rest.subarray(lineEnd + 2);
        if (!size) {
          rest = rest.subarray(rest.indexOf('\r\n') + 2);
          break;
        }
        parts.push(rest.subarray(0, size));
        rest = rest.subarray(size + 2);
      }
      bodyBytes = Buffer.concat(parts);
    } else {
      bodyBytes = rest;
      rest = Buffer.alloc(0);
    }
    responses.push({ status: Number(statusMatch[1]), headers, text: bodyBytes.toString('utf8') });
  }
  return responses;
}
