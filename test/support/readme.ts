/**
 * The README's examples as data, read from README.md itself so the text people read is the text tested.
 *
 * An example is a `curl` command in a ```bash block (with `\` continuations), preceded by `#` comment
 * lines that say what it does, and followed by its expected answer:
 *   # → 200 {"outcome":"APPLIED","providerStatus":"suspended"}
 *   #   "more":"of the same JSON, continued on lines that start with '#   '"}
 * The status is required; the JSON, when given, is a subset of the answer: objects may leave out members,
 * arrays list every element (each a subset), and `…` inside a string stands for any text.
 */
import { readFileSync } from 'node:fs';

export interface ReadmeExample {
  /** The comment lines above the command, joined. */
  title: string;
  /** The command as written, continuation lines included. */
  command: string;
  status: number;
  /** The expected answer's subset, when the README shows one. */
  body?: unknown;
  line: number;
}

export function readmeText(path = 'README.md'): string {
  return readFileSync(path, 'utf8');
}

/** Every ```bash block with the line number of its first line. */
export function bashBlocks(text: string): Array<{ line: number; lines: string[] }> {
  const blocks: Array<{ line: number; lines: string[] }> = [];
  const all = text.split('\n');
  for (let i = 0; i < all.length; i++) {
    if (all[i].trim() !== '```bash') continue;
    const start = i + 1;
    let end = start;
    while (end < all.length && all[end].trim() !== '```') end++;
    blocks.push({ line: start + 1, lines: all.slice(start, end) });
    i = end;
  }
  return blocks;
}

export function readmeExamples(text: string): ReadmeExample[] {
  const examples: ReadmeExample[] = [];
  for (const block of bashBlocks(text)) {
    const { lines } = block;
    let comments: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (!/^curl\b/.test(line)) {
        if (line.startsWith('#')) comments.push(line.replace(/^#\s?/, ''));
        else comments = [];
        continue;
      }
      const at = block.line + i;
      const commandLines = [line];
      while (commandLines[commandLines.length - 1].endsWith('\\')) commandLines.push(lines[++i]);
      const expectation = /^# → (\d{3})(?: (.*))?$/.exec(lines[i + 1] ?? '');
      if (!expectation) {
        throw new Error(`README.md line ${at}: a curl example must be followed by "# → <status> [json]"`);
      }
      i++;
      let json = expectation[2] ?? '';
      while (json !== '' && /^# {3}/.test(lines[i + 1] ?? '')) json += lines[++i].slice(4);
      let body: unknown;
      if (json !== '') {
        try {
          body = JSON.parse(json);
        } catch (error) {
          throw new Error(`README.md line ${at}: the expected answer is not JSON: ${String(error)}\n${json}`);
        }
      }
      examples.push({
        title: comments.join(' '),
        command: commandLines.join('\n'),
        status: Number(expectation[1]),
        body,
        line: at,
      });
      comments = [];
    }
  }
  return examples;
}

/** Differences between an expected subset (as the README shows it) and an actual answer; empty when it matches. */
export function subsetMismatches(expected: unknown, actual: unknown, path = '$'): string[] {
  if (typeof expected === 'string' && expected.includes('…')) {
    const pattern = expected
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    return typeof actual === 'string' && new RegExp(`^${pattern}$`, 's').test(actual)
      ? []
      : [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      return [`${path}: expected ${expected.length} elements, got ${JSON.stringify(actual)}`];
    }
    return expected.flatMap((item, i) => subsetMismatches(item, actual[i], `${path}[${i}]`));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) {
      return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
    }
    return Object.entries(expected).flatMap(([key, value]) =>
      key in actual
        ? subsetMismatches(value, (actual as Record<string, unknown>)[key], `${path}.${key}`)
        : [`${path}.${key}: missing`],
    );
  }
  return Object.is(expected, actual)
    ? []
    : [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}
