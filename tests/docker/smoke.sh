#!/usr/bin/env bash
# Smoke test of the Docker image (`make docker-test`): builds it, runs it on a fresh named volume,
# provisions a user and a key with rlctl inside the container, checks /limit, checks that
# `docker stop` is quick and clean, and that a new container on the same volume still knows the key.
# Cleans up its containers and volume on exit. Exit status: 0 when every check passed.
#
# Environment: DOCKER (client, default docker), IMAGE (tag to build, default ratelimitd:latest),
# SKIP_BUILD=1 (use IMAGE as it is), DOCKER_LOCAL (run when no daemon answers; default
# ../shared/tools/docker-local.sh relative to the repository root), MAX_STOP_SECONDS (default 5).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

DOCKER=${DOCKER:-docker}
IMAGE=${IMAGE:-ratelimitd:latest}
DOCKER_LOCAL=${DOCKER_LOCAL:-../shared/tools/docker-local.sh}
MAX_STOP_SECONDS=${MAX_STOP_SECONDS:-5}

suffix="$$-$RANDOM"
volume="rl-smoke-$suffix"
containers=()
passed=0
failed=0

say() { printf 'smoke: %s\n' "$*"; }
ok() { passed=$((passed + 1)); printf 'ok   - %s\n' "$*"; }
fail() {
  failed=$((failed + 1))
  printf 'FAIL - %s\n' "$*"
  for c in ${containers[@]+"${containers[@]}"}; do
    printf -- '--- last log lines of %s:\n' "$c"
    $DOCKER logs --tail 20 "$c" 2>&1 || true
  done
  exit 1
}
cleanup() {
  local rc=$?
  [ "$rc" = 0 ] || [ "$failed" -gt 0 ] || { failed=1; printf 'FAIL - a command failed (exit %s)\n' "$rc"; }
  for c in ${containers[@]+"${containers[@]}"}; do $DOCKER rm -f "$c" >/dev/null 2>&1 || true; done
  $DOCKER volume rm -f "$volume" >/dev/null 2>&1 || true
  [ ${#containers[@]} -eq 0 ] || say "removed containers ${containers[*]} and volume $volume"
  printf 'smoke: %d passed, %d failed\n' "$passed" "$failed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a container of IMAGE on the volume with 8080 published on a free loopback port;
# sets $container and $port.
start_container() {
  container="rl-smoke-$suffix-$1"
  $DOCKER run -d --name "$container" -v "$volume:/var/lib/ratelimitd" -p 127.0.0.1::8080 "$IMAGE" >/dev/null
  containers+=("$container")
  port=$($DOCKER port "$container" 8080/tcp | head -1)
  port=${port##*:}
  [ -n "$port" ] || fail "$container: port 8080 is not published"
  for _ in $(seq 100); do
    [ "$(http_status "http://127.0.0.1:$port/readyz")" = 200 ] && break
    [ "$($DOCKER inspect -f '{{.State.Running}}' "$container")" = true ] || fail "$container exited during startup"
    sleep 0.1
  done
  [ "$(http_status "http://127.0.0.1:$port/readyz")" = 200 ] || fail "$container: /readyz is not 200 after 10 s"
  ok "$container is ready: /readyz 200 on 127.0.0.1:$port"
}

http_status() { curl -s -o /dev/null -w '%{http_code}' "${@:2}" "$1" || true; }

expect_status() { # expect_status WANT WHAT URL [curl args...]
  local want=$1 what=$2 got
  got=$(http_status "${@:3}")
  [ "$got" = "$want" ] || fail "$what: want $want, got $got"
  ok "$what: $got"
}

# ---- engine and image --------------------------------------------------------------------------
if ! $DOCKER info >/dev/null 2>&1; then
  [ -f "$DOCKER_LOCAL" ] || fail "no Docker daemon answers and $DOCKER_LOCAL does not exist (set DOCKER_LOCAL)"
  say "no Docker daemon answers: running $DOCKER_LOCAL"
  bash "$DOCKER_LOCAL" || fail "$DOCKER_LOCAL failed"
  $DOCKER info >/dev/null 2>&1 || fail "'$DOCKER info' still fails after $DOCKER_LOCAL"
fi
ok "Docker engine $($DOCKER version --format '{{.Server.Version}}') answers"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building $IMAGE (compiles the project the first time: several minutes)"
  build_log=$(mktemp)
  if ! $DOCKER build -t "$IMAGE" . >"$build_log" 2>&1; then
    tail -30 "$build_log"; rm -f "$build_log"; fail "docker build failed"
  fi
  rm -f "$build_log"
  ok "built $IMAGE"
fi
say "image $IMAGE: $($DOCKER image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f MB", $1 / 1e6}'), user $($DOCKER image inspect -f '{{.Config.User}}' "$IMAGE")"

$DOCKER volume create "$volume" >/dev/null
say "fresh volume $volume"

# ---- first container: provision, /limit -------------------------------------------------------
start_container 1
base="http://127.0.0.1:$port"

uid=$($DOCKER exec "$container" id -u)
[ "$uid" != 0 ] || fail "the server runs as root"
ok "the server runs as uid $uid ($($DOCKER exec "$container" id -un)), not root"

published=$($DOCKER port "$container" | wc -l)
[ "$published" = 1 ] || fail "only 8080 should be published, got: $($DOCKER port "$container")"
ok "only 8080 is published (the admin API stays inside the container)"

$DOCKER exec "$container" rlctl user create smoke --limit 5 >/dev/null || fail "rlctl user create smoke"
ok "docker exec rlctl user create smoke --limit 5"
key=$($DOCKER exec "$container" rlctl --json key create smoke --label smoke \
  | sed -n 's/^ *"key": *"\(rl_[^"]*\)".*/\1/p') || true
[ -n "$key" ] || fail "rlctl --json key create printed no key"
ok "docker exec rlctl --json key create smoke: got a key (rl_...)"

expect_status 401 "/limit without X-API-KEY" "$base/limit"
expect_status 200 "/limit with the key" "$base/limit" -H "X-API-KEY: $key"

health=""
for _ in $(seq 60); do
  health=$($DOCKER inspect -f '{{.State.Health.Status}}' "$container")
  [ "$health" = healthy ] && break
  sleep 0.5
done
[ "$health" = healthy ] || fail "HEALTHCHECK status is '$health' after 30 s"
ok "HEALTHCHECK reports healthy"

# ---- docker stop: SIGTERM to PID 1, clean exit -------------------------------------------------
t0=$(date +%s.%N)
stop_rc=0
$DOCKER stop "$container" >/dev/null || stop_rc=$?
t1=$(date +%s.%N)
seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
[ "$stop_rc" = 0 ] || fail "docker stop exited $stop_rc"
exit_code=$($DOCKER inspect -f '{{.State.ExitCode}}' "$container")
[ "$exit_code" = 0 ] || fail "ratelimitd exited $exit_code on SIGTERM"
awk -v s="$seconds" -v m="$MAX_STOP_SECONDS" 'BEGIN { exit !(s <= m) }' \
  || fail "docker stop took $seconds s (more than $MAX_STOP_SECONDS s: SIGTERM not handled?)"
ok "docker stop took $seconds s, docker stop exit 0, container exit code 0"
$DOCKER logs --tail 3 "$container" 2>&1 | sed 's/^/       log: /'

# ---- second container on the same volume: state survived ---------------------------------------
start_container 2
base="http://127.0.0.1:$port"
expect_status 200 "/limit with the same key after a restart on the volume" "$base/limit" -H "X-API-KEY: $key"
users=$($DOCKER exec "$container" rlctl user list) || fail "docker exec rlctl user list failed"
grep -q '^smoke ' <<<"$users" || fail "rlctl user list does not show smoke: $users"
ok "docker exec rlctl user list shows smoke"

say "all checks passed"
