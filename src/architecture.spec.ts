/**
 * The import graph flows api → services → providers | persistence → domain, with no arrow back up
 * (STYLE.md, "A layout that absorbs them"). Every import between top-level folders of src/ is read from
 * the sources and checked against what each folder may import; a new arrow fails here with its file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = dirname(fileURLToPath(import.meta.url));
/** The files at the top of src/ (main.ts, app.module.ts …) are the composition root: they may import anything. */
const ROOT = '.';

/** What each folder may import besides itself: only folders below it. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  domain: [],
  events: ['domain'],
  observability: ['domain'],
  config: ['domain', 'events'],
  providers: ['domain'],
  persistence: ['domain', 'events'],
  resilience: ['domain', 'providers'],
  runtime: ['domain', 'config', 'providers', 'resilience'],
  services: ['domain', 'config', 'events', 'observability', 'providers', 'persistence'],
  // common/ is the HTTP edge: it turns the services' outcomes and errors into HTTP.
  common: ['domain', 'observability', 'services'],
  api: ['domain', 'config', 'events', 'observability', 'persistence', 'services', 'common'],
};

/** Leaf helpers that import nothing from src/, so any folder may use them without an arrow back up. */
const LEAVES = new Set(['common/ids.ts', 'common/stable-json.ts']);

/**
 * Known arrows back up, each with why it is still there. The batch work keeps a failed item's problem
 * body as common/ renders it (its owner is moving that rendering; remove the entry with the import).
 */
const KNOWN: ReadonlyMap<string, string> = new Map([
  ['services/batch.service.ts → common/problem.filter.ts', 'batch items store problem bodies'],
  ['services/batch-item-runner.ts → common/problem.filter.ts', 'batch items store problem bodies'],
  ['services/batch-recovery.ts → common/problem.filter.ts', 'batch items store problem bodies'],
]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    const isSpec = /\.spec(-[\w-]+)?\.ts$/.test(entry.name);
    return entry.name.endsWith('.ts') && !isSpec ? [path] : [];
  });
}

/** The relative imports of a file (static, re-exports, type-only and dynamic), as paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((s) => relative(SRC, resolve(dirname(file), s)).replace(/\.js$/, '.ts'));
}

function folderOf(path: string): string {
  return path.includes('/') ? path.split('/')[0] : ROOT;
}

function arrows(): { from: string; to: string }[] {
  return sources(SRC).flatMap((file) => {
    const from = relative(SRC, file);
    return importsOf(file).map((to) => ({ from, to }));
  });
}

/** The arrows that point up (or into a folder MAY_IMPORT does not know), as `from → to`. */
function backArrows(found: readonly { from: string; to: string }[]): string[] {
  return found
    .filter(({ from, to }) => {
      const [source, target] = [folderOf(from), folderOf(to)];
      if (source === ROOT || source === 'scripts' || source === target || LEAVES.has(to)) return false;
      const allowed = MAY_IMPORT[source];
      if (!allowed) return true; // a new folder: place it in MAY_IMPORT
      return !allowed.includes(target) && !KNOWN.has(`${from} → ${to}`);
    })
    .map(({ from, to }) => `${from} → ${to}`);
}

describe('the import graph', () => {
  const all = arrows();

  it('should read the imports of every folder', () => {
    const folders = new Set(all.map((a) => folderOf(a.from)));
    for (const folder of Object.keys(MAY_IMPORT).filter((f) => f !== 'domain')) {
      expect(folders).toContain(folder);
    }
  });

  it('should have no arrow back up (api → services → providers | persistence → domain)', () => {
    expect(backArrows(all)).toEqual([]);
  });

  it('should keep every known exception real (remove an entry once its import is gone)', () => {
    const present = new Set(all.map(({ from, to }) => `${from} → ${to}`));
    expect([...KNOWN.keys()].filter((arrow) => !present.has(arrow))).toEqual([]);
  });

  it('should keep the leaves leaves (they import nothing from src/)', () => {
    expect(all.filter(({ from }) => LEAVES.has(from))).toEqual([]);
  });

  it('should keep adapters apart: a provider folder imports no other provider folder', () => {
    const crossing = all.filter(({ from, to }) => {
      const [a, b] = [from.split('/'), to.split('/')];
      const isProviderFolder = (parts: string[]) =>
        parts[0] === 'providers' && parts.length > 2 && !['http', 'auth', 'sandbox'].includes(parts[1]);
      return isProviderFolder(a) && isProviderFolder(b) && a[1] !== b[1];
    });
    expect(crossing).toEqual([]);
  });

  it.each([
    ['services/a.ts', 'api/b.ts'],
    ['services/a.ts', 'common/problem.filter.ts'],
    ['providers/x/x.adapter.ts', 'resilience/retry-policy.ts'],
    ['providers/x/x.adapter.ts', 'persistence/store.ts'],
    ['config/config.ts', 'providers/provider-adapter.ts'],
    ['domain/errors.ts', 'services/a.ts'],
    ['brand-new/a.ts', 'domain/errors.ts'],
  ])('should report %s → %s as an arrow back up (the check can fail)', (from, to) => {
    expect(backArrows([{ from, to }])).toEqual([`${from} → ${to}`]);
  });
});
