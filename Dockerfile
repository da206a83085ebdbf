# syntax=docker/dockerfile:1
# statusgate gateway image. Build: `docker build -t statusgate .` (or podman). See docs/deploying.md.
# Node 24, the major of .nvmrc, which CI (.ci/run) and `npm test` run on.
#
# Stage 1 builds on the official slim image: no compiler is needed, better-sqlite3 ships prebuilt N-API
# binaries (--ignore-scripts: `npm ci` would otherwise run node-gyp on its binding.gyp; nothing else needs one).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
# `npm run build` compiles dist/ and bundles it into dist/bundle/main.mjs (esbuild; src/scripts/bundle.ts).
# /out/app gets the bundle and the only two packages it leaves out (BUNDLE_EXTERNAL), production installs
# only (npm ci --omit=dev), each cut to what the gateway reads:
# - better-sqlite3: its JavaScript and this platform's prebuilt addon (not the SQLite sources, ~26 MB);
# - swagger-ui-dist: the files Swagger UI at /docs serves (not the source maps and ES-module builds).
# Then V8's compile cache of the bundle (less start time and memory, src/scripts/bundle.ts): written by a
# run of the bundle as the user (uid 1000) and with the node flags of CMD below, since Node keys the cache
# by both; shipped read-only.
RUN npm run build \
 && mkdir -p /prod /out/app/dist/bundle /out/app/node_modules /out/app/data \
 && cp package.json package-lock.json /prod/ \
 && cd /prod && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && cp -r node_modules/better-sqlite3 node_modules/swagger-ui-dist /out/app/node_modules/ \
 && cd /out/app/node_modules/better-sqlite3 && rm -rf deps src binding.gyp node_modules \
 && find prebuilds -type f ! -name "$(node -p 'process.platform + "-" + process.arch').node" -delete \
 && cd /out/app/node_modules/swagger-ui-dist \
 && rm -f ./*.map swagger-ui-es-bundle*.js swagger-ui.js log.*.txt \
 && cp /app/dist/bundle/main.mjs /app/dist/bundle/gateway.mjs /out/app/dist/bundle/ \
 && install -d -o 1000 -g 1000 /out/app/dist/bundle/compile-cache \
 && cd /out/app && setpriv --reuid=1000 --regid=1000 --clear-groups \
      node --max-semi-space-size=8 --max-old-space-size=96 dist/bundle/main.mjs --version \
 && chown -R root:root /out/app/dist/bundle/compile-cache
# /out/root: what distroless's Node image holds, taken from this official image, so the runtime stage can
# start FROM scratch (a distroless base measured 213 MB here, most of it a Debian base the gateway never
# uses): this same Node binary (unstripped, the one `npm test` runs on), the shared libraries it and the
# SQLite addon link (ldd: glibc, libstdc++, libgcc), their dpkg records (so image scanners still see those
# packages and versions, as in distroless), the users, /tmp, and name lookup through /etc/hosts first.
RUN mkdir -p /out/root/nodejs/bin /out/root/etc /out/root/var/lib/dpkg/status.d \
 && install -d -m 1777 /out/root/tmp \
 && cp /usr/local/bin/node /out/root/nodejs/bin/node \
 && for file in /usr/local/bin/node /out/app/node_modules/better-sqlite3/prebuilds/*.node; do \
      ldd "$file" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'; \
    done | sort -u | xargs -I{} cp -L --parents {} /out/root \
 && for lib in /out/root/lib*/*/* /out/root/lib64/* /out/root/usr/lib*/*/*; do \
      [ -f "$lib" ] && dpkg -S "${lib#/out/root}" 2>/dev/null || true; \
    done | cut -d: -f1 | sort -u | while read -r pkg; do \
      dpkg-query -s "$pkg" > "/out/root/var/lib/dpkg/status.d/$pkg"; \
    done \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\ngateway:x:1000:1000:statusgate:/app:/sbin/nologin\n' > /out/root/etc/passwd \
 && printf 'root:x:0:\ngateway:x:1000:\n' > /out/root/etc/group \
 && printf 'hosts: files dns\n' > /out/root/etc/nsswitch.conf

# Stage 2 smoke-tests the runtime tree alone (chroot-like: only /out/root and /out/app), so a missing
# library or a bad cut fails the build, not the first start.
FROM scratch AS check
COPY --from=build /out/root/ /
COPY --from=build /out/app /app
WORKDIR /app
USER 1000:1000
RUN ["/nodejs/bin/node", "-e", "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"]
RUN ["/nodejs/bin/node", "--max-semi-space-size=8", "--max-old-space-size=96", "dist/bundle/main.mjs", "--version"]

# Stage 3: Node 24 and the C/C++ runtime libraries, no shell, no npm, no package manager.
FROM scratch
COPY --from=build /out/root/ /
# Production defaults: SANDBOX then defaults to false, so a provider runs only when its <PROVIDER>_BASE_URL
# and credentials are given. For a demo or smoke run on the built-in sandboxes pass -e SANDBOX=true.
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0
WORKDIR /app
# Code stays owned by root: the gateway (uid 1000) can read it but not change it.
COPY --from=check /app/node_modules ./node_modules
COPY --from=check /app/dist ./dist
# The embedded SQLite store (DATABASE_URL unset = sqlite:./data/gateway.sqlite) lives on this volume;
# with DATABASE_URL=postgres://… it stays empty.
COPY --from=build --chown=1000:1000 /out/app/data ./data
USER 1000:1000
VOLUME ["/app/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1: SIGTERM reaches the gateway, which drains for up to DRAIN_TIMEOUT_MS (default 25 s) and
# exits 0. CMD holds the arguments of `npm start` (docs/performance.md explains the flags).
ENTRYPOINT ["/nodejs/bin/node"]
CMD ["--max-semi-space-size=8", "--max-old-space-size=96", "dist/bundle/main.mjs"]
