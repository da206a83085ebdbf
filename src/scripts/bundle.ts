/**
 * `npm run build` step 2: bundles the compiled gateway (dist/main.js, decorator metadata already emitted by
 * tsc, which esbuild cannot emit itself) into dist/bundle/main.mjs, the file the image and `npm start` run.
 * One minified module graph instead of ~1,000 files: a smaller image (no node_modules but the two packages
 * below) and less to read and compile at start (figures: docs/performance.md). What `import()` loads on
 * demand (the PostgreSQL driver, the provider sandboxes) is in the file but runs only when the configuration
 * uses it. Not code-split: esbuild's split chunks give an `import()` of a CommonJS package (Nest loads
 * class-transformer so) only a default export, and the validation pipe then finds no `plainToInstance`.
 */
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

/** Not bundled, shipped in node_modules: a native addon, and files served from their package directory. */
export const BUNDLE_EXTERNAL = ['better-sqlite3', 'swagger-ui-dist'];

await build({
  entryPoints: ['dist/main.js'],
  outfile: 'dist/bundle/main.mjs',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minify: true,
  // Nest names providers and logs by class name; keep them (stack traces keep method names too).
  keepNames: true,
  // No source map: node --enable-source-maps parses the whole map at start (about 100 MB of RSS for this
  // bundle); class and method names in stack traces are kept, and dist/ keeps the mapped build.
  sourcemap: false,
  external: [
    ...BUNDLE_EXTERNAL,
    // Optional packages Nest, Fastify and pg try to load only when they are installed (never here).
    '@nestjs/microservices',
    '@nestjs/microservices/*',
    '@nestjs/websockets',
    '@nestjs/websockets/*',
    '@nestjs/platform-express',
    '@fastify/view',
    '@fastify/multipart',
    'pg-native',
  ],
  // CommonJS packages inside an ES module bundle still call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __sgRequire } from 'node:module'; const require = __sgRequire(import.meta.url);",
  },
  define: { STATUSGATE_VERSION: JSON.stringify(version) },
  logLevel: 'warning',
});
