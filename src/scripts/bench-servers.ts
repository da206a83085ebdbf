/**
 * Helper processes for the benchmark (run as `node dist/scripts/bench-servers.js stub|forwarder <port> [target]`):
 * - stub: a provider that answers every request at once with a small Spidr-shaped JSON body;
 * - forwarder: the floor for any Node proxy — a minimal node:http server that sends each request on to
 *   the stub over a keep-alive agent and relays the answer.
 * Each prints `listening <port>` when ready.
 */
import http from 'node:http';

const [mode, portArg, target] = process.argv.slice(2);
const port = Number(portArg ?? 0);

function ready(server: http.Server): void {
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : port}\n`);
  });
}

if (mode === 'stub') {
  const body = JSON.stringify({ id: 'acc', status: 'suspended', statusReason: null });
  ready(
    http.createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        });
        response.end(body);
      });
    }),
  );
} else if (mode === 'forwarder') {
  const upstream = new URL(target ?? 'http://127.0.0.1:1');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  ready(
    http.createServer((request, response) => {
      const outbound = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: request.method,
          path: request.url,
          headers: request.headers,
          agent,
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      outbound.on('error', () => {
        response.writeHead(502);
        response.end();
      });
      request.pipe(outbound);
    }),
  );
} else {
  process.stderr.write('usage: bench-servers stub|forwarder <port> [target]\n');
  process.exit(2);
}
