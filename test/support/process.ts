/** Runs the built gateway (dist/main.js) as a real child process, for crash and shutdown tests. */
import { spawn, type ChildProcess } from 'node:child_process';

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | string>;
}

export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['dist/main.js'], {
    // RECONCILE_INTERVAL_MS: the drift watch's own reads stay out of suites that count provider calls.
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      RECONCILE_INTERVAL_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const match = /listening on http:\/\/[^:]+:(\d+)/.exec(output);
    if (match) return { url: `http://127.0.0.1:${match[1]}`, child, output: () => output, exited };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`gateway did not start:\n${output}`);
}
