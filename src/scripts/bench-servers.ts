/**
 * Helper processes for the benchmark (run as `node dist/scripts/bench-servers.js stub|forwarder <port> [target]`):
 * - stub: a provider that answers every request at once with a small Spidr-shaped JSON body;
 * - forwarder: the floor for any Node proxy — a minimal node:http server that sends each request on to
 *   the stub over a keep-alive agent and relays the answer;
 * - hog `<dir>`: a disk hog for `bench:stall` — 8 MiB writes with O_DIRECT (past the page cache, so it
 *   takes the disk and little CPU), each followed by `fdatasync`, into a file in `<dir>` (the data
 *   directory's disk) that restarts at 256 MiB, until killed;
 * - lock `<sqlite file>`: takes the database's write lock for 50 ms every 250 ms, as a TRUNCATE checkpoint
 *   or another writer does, until killed.
 * Each prints `listening <port>` (the hog: `hogging <dir>`, the lock holder: `locking <file>`) when ready.
 */
import { closeSync, constants, fdatasyncSync, ftruncateSync, openSync, rmSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import { join } from 'node:path';

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
} else if (mode === 'hog') {
  const file = join(portArg ?? '.', `statusgate-bench-hog-${process.pid}`);
  // O_DIRECT wants page-aligned memory; a WebAssembly memory is (128 pages of 64 KiB: 8 MiB).
  const { Memory } = (
    globalThis as unknown as {
      WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } };
    }
  ).WebAssembly;
  const chunk = Buffer.from(new Memory({ initial: 128 }).buffer).fill(7);
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DIRECT);
  const end = () => {
    closeSync(fd);
    rmSync(file, { force: true });
    process.exit(0);
  };
  process.once('SIGTERM', end);
  process.stdout.write(`hogging ${portArg}\n`);
  let offset = 0;
  // Synchronous bursts, yielding between them so SIGTERM is heard.
  const burst = () => {
    for (let i = 0; i < 4; i++) {
      if (offset >= 256 * 1024 * 1024) {
        ftruncateSync(fd, 0);
        offset = 0;
      }
      offset += writeSync(fd, chunk, 0, chunk.length, offset);
      fdatasyncSync(fd);
    }
    setImmediate(burst);
  };
  burst();
} else if (mode === 'lock') {
  const file = portArg ?? '';
  const db = new (createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3'))(file);
  db.pragma('busy_timeout = 5000');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  process.once('SIGTERM', () => {
    db.close();
    process.exit(0);
  });
  process.stdout.write(`locking ${file}\n`);
  setInterval(() => {
    db.prepare('begin immediate').run();
    Atomics.wait(pause, 0, 0, 50); // holds the write lock, as a checkpoint's TRUNCATE holds writers out
    db.prepare('commit').run();
  }, 250);
} else {
  process.stderr.write('usage: bench-servers stub|forwarder <port> [target] | hog <dir> | lock <file>\n');
  process.exit(2);
}
