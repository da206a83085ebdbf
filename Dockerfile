# syntax=docker/dockerfile:1
# statusgate gateway image. Build: `docker build -t statusgate .` (or podman). See docs/deploying.md.
# Node 24 in both stages: the major of .nvmrc, which CI (.ci/run) and `npm test` run on.
#
# Stage 1 builds on the slim image: no compiler is needed, better-sqlite3 ships prebuilt N-API binaries
# (--ignore-scripts: `npm ci` would otherwise run node-gyp on its binding.gyp; nothing else needs a script).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
# `npm run build` compiles dist/ and bundles it into dist/bundle/main.mjs (esbuild; src/scripts/bundle.ts).
# The runtime gets the bundle and the only two packages it leaves out (BUNDLE_EXTERNAL), production
# installs only (npm ci --omit=dev), each cut to what the gateway reads:
# - better-sqlite3: its JavaScript and this platform's prebuilt addon (not the SQLite sources, ~26 MB);
# - swagger-ui-dist: the files Swagger UI at /docs serves (not the source maps and ES-module builds).
# The last lines fail the build if the addon or the bundle no longer loads from /out.
RUN npm run build \
 && mkdir -p /prod /out/dist/bundle /out/node_modules /out/data \
 && cp package.json package-lock.json /prod/ \
 && cd /prod && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && cp -r node_modules/better-sqlite3 node_modules/swagger-ui-dist /out/node_modules/ \
 && cd /out/node_modules/better-sqlite3 && rm -rf deps src binding.gyp node_modules \
 && find prebuilds -type f ! -name "$(node -p 'process.platform + "-" + process.arch').node" -delete \
 && cd /out/node_modules/swagger-ui-dist \
 && rm -f ./*.map swagger-ui-es-bundle*.js swagger-ui.js log.*.txt \
 && cp /app/dist/bundle/main.mjs /out/dist/bundle/ \
 && cd /out && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()" \
 && node dist/bundle/main.mjs --version

# Stage 2: distroless — Node 24 and the C/C++ runtime libraries, no shell, no npm, no package manager.
# Its entrypoint is /nodejs/bin/node, so CMD holds node's arguments only.
FROM gcr.io/distroless/nodejs24-debian12
# Production defaults: SANDBOX then defaults to false, so a provider runs only when its <PROVIDER>_BASE_URL
# and credentials are given. For a demo or smoke run on the built-in sandboxes pass -e SANDBOX=true.
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0
WORKDIR /app
# Code stays owned by root: the gateway (uid 1000) can read it but not change it.
COPY --from=build /out/node_modules ./node_modules
COPY --from=build /out/dist ./dist
# The embedded SQLite store (DATABASE_URL unset = sqlite:./data/gateway.sqlite) lives on this volume;
# with DATABASE_URL=postgres://… it stays empty.
COPY --from=build --chown=1000:1000 /out/data ./data
USER 1000:1000
VOLUME ["/app/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1 (the entrypoint is node itself): SIGTERM reaches the gateway, which drains for up to
# DRAIN_TIMEOUT_MS (default 25 s) and exits 0. The arguments are those of `npm start`: a young generation
# of 2 × 8 MB instead of V8's 2 × 16 MB (docs/performance.md: less memory, same throughput).
CMD ["--max-semi-space-size=8", "dist/bundle/main.mjs"]
