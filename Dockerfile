# syntax=docker/dockerfile:1
# statusgate gateway image. Build: `docker build -t statusgate .` (or podman). See docs/deploying.md.
#
# Stage 1 compiles on the full Debian image: better-sqlite3 has no reachable prebuilt binary, so its
# install step builds the native addon with node-gyp (python3, make, g++ are part of node:22-bookworm).
FROM node:22-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
# Build, drop dev dependencies, then what the running gateway never reads (about 100 MB):
# - better-sqlite3's SQLite sources (deps/, src/) and object files: only build/Release/better_sqlite3.node
#   is loaded;
# - typescript, which @nestjs/swagger depends on for its build-time CLI plugin only;
# - type declarations and source maps of dependencies (the gateway's own maps in dist/ stay);
# - dist/scripts (bench, soak, OpenAPI writer: development tools).
# The last line fails the build if the addon or any module of the app no longer loads.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && cd node_modules/better-sqlite3 \
 && find build -mindepth 1 ! -path build/Release ! -path build/Release/better_sqlite3.node -delete \
 && rm -rf deps src binding.gyp \
 && cd /app \
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver dist/scripts \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()" \
 && node --input-type=module -e "await import('/app/dist/app.module.js')"

# Stage 2: the slim runtime; production dependencies and the compiled JavaScript only.
FROM node:22-bookworm-slim
# Production defaults: SANDBOX then defaults to false, so a provider runs only when its <PROVIDER>_BASE_URL
# and credentials are given. For a demo or smoke run on the built-in sandboxes pass -e SANDBOX=true.
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0
WORKDIR /app
# Code stays owned by root: the gateway (user node) can read it but not change it.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The embedded SQLite store (DATABASE_URL unset = sqlite:./data/gateway.sqlite) lives on this volume;
# with DATABASE_URL=postgres://… it stays empty.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node itself is PID 1 (the base image's entrypoint execs it): SIGTERM reaches the gateway, which drains
# for up to DRAIN_TIMEOUT_MS (default 25 s) and exits 0. The flags are those of `npm start`: a young
# generation of 2 × 8 MB instead of V8's 2 × 16 MB (docs/performance.md: less memory, same throughput).
CMD ["node", "--enable-source-maps", "--max-semi-space-size=8", "dist/main.js"]
