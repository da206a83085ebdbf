import { loadConfig } from '../../src/runtime/config.js';

/** The variables loadConfig reads with no configuration (sandbox mode), each once, in the order read. */
export function configVariablesRead(): string[] {
  const read = new Set<string>();
  loadConfig(
    new Proxy(
      {},
      {
        get: (_, name) => {
          if (typeof name === 'string') read.add(name);
          return undefined;
        },
      },
    ),
  );
  return [...read];
}
