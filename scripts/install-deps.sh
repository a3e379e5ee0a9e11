#!/usr/bin/env bash
# Installs the Debian packages ratelimitd builds and tests with, skipping those already present.
# Idempotent; uses sudo when not run as root.
#   --compose  only Docker Compose, for `make init`: docker-compose-plugin where an apt source
#              has it (Docker's own repository), else Debian's docker-compose.
set -euo pipefail

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

packages=(
  build-essential cmake pkg-config curl ca-certificates
  librestinio-dev libasio-dev libhttp-parser-dev libfmt-dev
  librocksdb-dev libcli11-dev catch2 nlohmann-json3-dev
  libssl-dev libcurl4-openssl-dev libsystemd-dev libjemalloc-dev
)
# Tests and benchmarks only: nginx (with auth_request) and caddy (forward_auth) in front of
# ratelimitd, promtool (in prometheus) on /metrics, python3-yaml for the Envoy and Traefik
# configurations, etcd (etcd-server) for the cluster's etcd client and haproxy for its generated
# config — without them those tests report "skipped"; clang-14 and its runtime for the
# sanitizer builds and the fuzzers; wrk for the soak; Google Benchmark for the micro-benchmarks;
# lintian and systemd (systemd-analyze) for the Debian package's test. Node.js and npm (Debian's
# npm, unless a Node.js is already installed) for the RFC 8941 parser that checks the RateLimit
# fields: npm's structured-headers, pinned in tests/sf/package-lock.json. hey, h2load (in
# nghttp2-client), ab (in apache2-utils) and python3-requests as real HTTP clients of /limit.
# RL_DEPS_NO_TEST_TOOLS=1 leaves them out (the Docker image's build stage, which only compiles).
[ "${RL_DEPS_NO_TEST_TOOLS:-0}" = 1 ] ||
  packages+=(nginx caddy prometheus python3-yaml clang-14 libclang-rt-14-dev wrk libbenchmark-dev
             lintian systemd etcd-server haproxy hey nghttp2-client apache2-utils
             python3-requests)

if [ "${1:-}" = --compose ]; then
  $sudo apt-get update -qq
  if apt-cache policy docker-compose-plugin 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    packages=(docker-compose-plugin)
  else
    packages=(docker-compose)
  fi
fi

# The structured-field parser for the header tests, from the npm registry, at the version the
# lock file pins. A failure leaves those tests skipped, never the build broken.
npm_tools() {
  [ "${RL_DEPS_NO_TEST_TOOLS:-0}" = 1 ] && return 0
  [ "${1:-}" = --compose ] && return 0
  local here
  here=$(cd "$(dirname "$0")/.." && pwd)
  [ -d "$here/tests/sf/node_modules/structured-headers" ] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm \
      >/dev/null 2>&1 || true
    command -v npm >/dev/null 2>&1 || return 0
  fi
  echo "install-deps: npm ci in tests/sf (structured-headers)"
  (cd "$here/tests/sf" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    echo "install-deps: npm ci failed; the RateLimit field parser test will be skipped"
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  npm_tools "$@"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
npm_tools "$@"
echo "install-deps: done"
