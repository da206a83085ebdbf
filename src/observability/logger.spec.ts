import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOG_BUFFER_BYTES, LOG_FLUSH_MS, bufferedDestination } from './logger.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('bufferedDestination (the gateway’s standard output)', () => {
  let dir: string;
  let file: string;
  let fd: number;
  let stream: ReturnType<typeof bufferedDestination> | undefined;
  const written = () => readFileSync(file, 'utf8');
  const open = () => (stream = bufferedDestination(fd));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'statusgate-log-'));
    file = join(dir, 'out.log');
    fd = openSync(file, 'w');
  });
  afterEach(async () => {
    // Ending the stream stops its flush timer and closes the descriptor.
    const opened = stream;
    if (opened) await new Promise((resolve) => opened.once('close', resolve).end());
    else closeSync(fd);
    stream = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('should hold a short line back, then write it within the flush interval', async () => {
    const stream = open();
    stream.write('{"msg":"one"}\n');
    await sleep(20);
    expect(written()).toBe(''); // buffered: no write per line
    await sleep(LOG_FLUSH_MS * 2 + 100);
    expect(written()).toBe('{"msg":"one"}\n');
  });

  it('should write at once when a chunk fills, in order, losing nothing', async () => {
    const stream = open();
    const line = (i: number) => `${JSON.stringify({ i, pad: 'x'.repeat(100) })}\n`;
    const count = Math.ceil((3 * LOG_BUFFER_BYTES) / line(0).length);
    for (let i = 0; i < count; i++) stream.write(line(i));
    await sleep(30);
    expect(written().length).toBeGreaterThanOrEqual(LOG_BUFFER_BYTES); // did not wait for the timer
    await new Promise<void>((resolve) => stream.flush(() => resolve()));
    const lines = written().trimEnd().split('\n');
    expect(lines).toHaveLength(count);
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual(
      Array.from({ length: count }, (_, i) => i),
    );
  });
});
