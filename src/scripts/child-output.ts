import type { ChildProcess } from 'node:child_process';

/**
 * Resolves with the first match of `pattern` in a child's standard output (e.g. its "listening" line);
 * rejects with what it printed if it exits first. The pipe keeps being drained afterwards (a gateway logs
 * a line per request), without keeping the text.
 */
export function waitForOutput(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let output = '';
    let found = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      if (found) return;
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match) {
        found = true;
        resolve(match);
      }
    });
    child.on('exit', () => {
      if (!found) reject(new Error(`${what} exited:\n${output}`));
    });
  });
}
