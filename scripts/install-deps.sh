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
  libssl-dev libcurl4-openssl-dev libsystemd-dev
)
# Tests and benchmarks only: nginx (with auth_request) and caddy (forward_auth) in front of
# ratelimitd, promtool (in prometheus) on /metrics, python3-yaml for the Envoy and Traefik
# configurations, etcd (etcd-server) for the cluster's etcd client and haproxy for its generated
# config — without them those tests report "skipped"; clang-14 and its runtime for the
# sanitizer builds and the fuzzers; wrk for the soak; Google Benchmark for the micro-benchmarks;
# lintian and systemd (systemd-analyze) for the Debian package's test.
# RL_DEPS_NO_TEST_TOOLS=1 leaves them out (the Docker image's build stage, which only compiles).
[ "${RL_DEPS_NO_TEST_TOOLS:-0}" = 1 ] ||
  packages+=(nginx caddy prometheus python3-yaml clang-14 libclang-rt-14-dev wrk libbenchmark-dev
             lintian systemd etcd-server haproxy)

if [ "${1:-}" = --compose ]; then
  $sudo apt-get update -qq
  if apt-cache policy docker-compose-plugin 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    packages=(docker-compose-plugin)
  else
    packages=(docker-compose)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "install-deps: all ${#packages[@]} packages present"; exit 0; }

echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
