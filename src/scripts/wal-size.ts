import { statSync } from 'node:fs';

/** Samples the size of a SQLite database's WAL file while a run goes on; `stop` answers the largest seen. */
export function sampleWal(databaseFile: string, everyMs = 100): { stop(): number } {
  let largest = 0;
  const timer = setInterval(() => {
    try {
      largest = Math.max(largest, statSync(`${databaseFile}-wal`).size);
    } catch {
      // no WAL yet, or already removed at close
    }
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return largest;
    },
  };
}

export const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
