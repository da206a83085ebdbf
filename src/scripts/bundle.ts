/**
 * `npm run build` step 2: bundles the compiled gateway (dist/main.js, decorator metadata already emitted by
 * tsc, which esbuild cannot emit itself) into dist/bundle/main.mjs, the file the image and `npm start` run.
 * One minified module graph instead of ~1,000 files: a smaller image (no node_modules but the two packages
 * below) and less to read and compile at start (figures: docs/performance.md). What `import()` loads on
 * demand (the PostgreSQL driver, the provider sandboxes) is in the file but runs only when the configuration
 * uses it. Not code-split: esbuild's split chunks give an `import()` of a CommonJS package (Nest loads
 * class-transformer so) only a default export, and the validation pipe then finds no `plainToInstance`.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build, type Plugin } from 'esbuild';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

/** Not bundled, shipped in node_modules: a native addon, and files served from their package directory. */
export const BUNDLE_EXTERNAL = ['better-sqlite3', 'swagger-ui-dist'];

/**
 * Built-ins that ES modules in the bundle import (`import … from 'node:http'`) are loaded through `require`
 * instead. Node builds an ES module facade of a built-in by reading every export, and reading `node:http`'s
 * lazy `WebSocket`/`MessageEvent`/`CloseEvent` exports loads undici, zlib and web streams: 73 modules and
 * 14 MB of RSS that the gateway never uses (`node --input-type=module -e "import 'node:http'"`: 61 MB RSS
 * against 47 MB through require). `fs` and `util` have lazy exports too (`fs.promises`, `util.aborted` …).
 * The facade here exports the built-in's plain values only (what the bundle imports by name must be one,
 * or the build fails).
 */
const BUILTINS_THROUGH_REQUIRE = /^(node:)?(http|fs|util)$/;
const builtinsThroughRequire: Plugin = {
  name: 'builtins-through-require',
  setup(bundler) {
    bundler.onResolve({ filter: BUILTINS_THROUGH_REQUIRE }, ({ path, kind }) =>
      kind === 'import-statement'
        ? { path: path.replace(/^node:/, ''), namespace: 'require-builtin' }
        : undefined,
    );
    bundler.onLoad({ filter: /.*/, namespace: 'require-builtin' }, ({ path }) => {
      const exported = createRequire(import.meta.url)(path) as object;
      const names = Object.entries(Object.getOwnPropertyDescriptors(exported))
        .filter(([name, d]) => 'value' in d && /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default')
        .map(([name]) => name);
      return {
        contents: `const m = require('node:${path}');\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`,
        loader: 'js',
      };
    });
  },
};

/**
 * axios's own adapters are never used: the gateway's one axios instance always runs on its own adapter
 * (providers/http/keep-alive.adapter.ts). Yet they load at start: the fetch adapter probes the global
 * `Request`, `Response` and `ReadableStream` (and utils.js keeps the global `FormData` for an `instanceof`),
 * which loads Node's undici and web streams (about 70 modules and 14 MB of RSS in a bare process, 40 ms of
 * a start under --cpu-prof); the http adapter brings http2, follow-redirects and the proxy agents. In the
 * bundle both adapters are ones that are never available (an axios instance without an adapter of its
 * own would fail with axios's "adapter is not available" error), and `isFormData` keeps its other test,
 * the `[object FormData]` tag, which a native FormData carries too. The build fails if axios's line changed.
 */
const AXIOS_FORM_DATA = "const FormDataCtor = typeof G.FormData !== 'undefined' ? G.FormData : undefined;";
const axiosWithoutItsAdapters: Plugin = {
  name: 'axios-without-its-adapters',
  setup(bundler) {
    bundler.onLoad({ filter: /[\\/]axios[\\/]lib[\\/]adapters[\\/](fetch|http)\.js$/ }, () => ({
      contents: 'export const getFetch = () => false;\nexport default false;\n',
      loader: 'js',
    }));
    bundler.onLoad({ filter: /[\\/]axios[\\/]lib[\\/]utils\.js$/ }, ({ path }) => {
      const source = readFileSync(path, 'utf8');
      if (!source.includes(AXIOS_FORM_DATA)) throw new Error(`${path} no longer reads FormData so: review`);
      return { contents: source.replace(AXIOS_FORM_DATA, 'const FormDataCtor = undefined;'), loader: 'js' };
    });
  },
};

/**
 * class-validator loads libphonenumber-js's full metadata at start for its `IsPhoneNumber`, which no DTO
 * here uses: in the bundle that import is a function that refuses, and a DTO that starts using it fails
 * its first validation instead of validating wrongly.
 */
const withoutPhoneNumbers: Plugin = {
  name: 'without-phone-numbers',
  setup(bundler) {
    bundler.onResolve({ filter: /^libphonenumber-js\/max$/ }, () => ({
      path: 'max',
      namespace: 'no-phone-numbers',
    }));
    bundler.onLoad({ filter: /.*/, namespace: 'no-phone-numbers' }, () => ({
      contents:
        "export function parsePhoneNumber() { throw new Error('libphonenumber-js is left out of the bundle (src/scripts/bundle.ts)'); }\n",
      loader: 'js',
    }));
  },
};

await build({
  plugins: [builtinsThroughRequire, axiosWithoutItsAdapters, withoutPhoneNumbers],
  entryPoints: ['dist/main.js'],
  outfile: 'dist/bundle/gateway.mjs',
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

/**
 * dist/bundle/main.mjs, the file `npm start` and the image run, turns on V8's compile cache for the bundle
 * before loading it. Compiling the 3 MB bundle was 40 % of the start (--cpu-prof), and the compiler's
 * scratch memory stayed in malloc's heap: with the cache, start to ready and idle RSS both drop (figures:
 * docs/performance.md). The cache sits beside the bundle, keyed by paths relative to it (`portable`, so it
 * can be built in one directory and run from another), by Node's version, V8's flags and the user id; the
 * image builds it as the user and with the flags it runs with (Dockerfile) and ships it read-only; where
 * the directory is writable, the first start writes it. NODE_COMPILE_CACHE (another directory) and
 * NODE_DISABLE_COMPILE_CACHE=1 keep their meaning: Node applies them first.
 */
export const COMPILE_CACHE_DIR = 'compile-cache';
rmSync(`dist/bundle/${COMPILE_CACHE_DIR}`, { recursive: true, force: true });
writeFileSync(
  'dist/bundle/main.mjs',
  `// Written by src/scripts/bundle.ts: the compile cache first, then the gateway.
import { enableCompileCache } from 'node:module';
import { fileURLToPath } from 'node:url';
enableCompileCache({ directory: fileURLToPath(new URL('${COMPILE_CACHE_DIR}/', import.meta.url)), portable: true });
await import('./gateway.mjs');
`,
);
