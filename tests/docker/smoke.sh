#!/usr/bin/env bash
# Smoke test of the Docker image (`make docker-test`): builds it with `make build`, checks its
# revision and labels, runs it with a read-only root filesystem on a fresh named volume,
# provisions a user and a key with rlctl inside the container, checks /limit and the
# HEALTHCHECK, checks that `docker stop` is quick and clean, and that a new container on the same
# volume still knows the key. Then the Compose path a new user takes: `make init` (which installs
# Compose where it is missing) on its own project, volume and port, the curl line it prints, and
# `make down`. Cleans up its containers, project and volumes on exit. Exit status: 0 when every
# check passed.
#
# Environment: DOCKER (client, default docker), IMAGE (tag to build, default ratelimitd:latest),
# SKIP_BUILD=1 (use IMAGE as it is; `make init` still runs `make build`, which the layer cache
# makes quick for an image built from this tree), DOCKER_LOCAL (run when no daemon answers;
# default ../shared/tools/docker-local.sh relative to the repository root), MAX_STOP_SECONDS
# (default 5).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. scripts/lib.sh

DOCKER=${DOCKER:-docker}
IMAGE=${IMAGE:-ratelimitd:latest}
DOCKER_LOCAL=${DOCKER_LOCAL:-../shared/tools/docker-local.sh}
MAX_STOP_SECONDS=${MAX_STOP_SECONDS:-5}

suffix="$$-$RANDOM"
volume="rl-smoke-$suffix"
# `make init`'s Compose project, its volume and host port: none of the user's own.
export COMPOSE_PROJECT_NAME="rl-smoke-$suffix" RL_VOLUME="rl-smoke-$suffix-compose"
compose_up=0
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
  [ "$compose_up" = 0 ] || make_docker down >/dev/null 2>&1 || true
  $DOCKER volume rm -f "$volume" "$RL_VOLUME" >/dev/null 2>&1 || true
  [ ${#containers[@]} -eq 0 ] || say "removed containers ${containers[*]}, volumes $volume and $RL_VOLUME"
  printf 'smoke: %d passed, %d failed\n' "$passed" "$failed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

make_docker() { make -C "$root" DOCKER="$DOCKER" DOCKER_LOCAL="$DOCKER_LOCAL" IMAGE="$IMAGE" "$@"; }

# Starts a container of IMAGE on the volume with 8080 published on a free loopback port, its root
# filesystem read-only; sets $container and $port.
start_container() {
  container="rl-smoke-$suffix-$1"
  $DOCKER run -d --read-only --name "$container" -v "$volume:/var/lib/ratelimitd" \
    -p 127.0.0.1::8080 "$IMAGE" >/dev/null
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
  ok "$container is ready (read-only root filesystem): /readyz 200 on 127.0.0.1:$port"
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
  say "building $IMAGE with make build (compiles the project the first time: several minutes)"
  build_log=$(mktemp)
  if ! make_docker build >"$build_log" 2>&1; then
    tail -30 "$build_log"; rm -f "$build_log"; fail "make build failed"
  fi
  rm -f "$build_log"
  ok "built $IMAGE"
fi
say "image $IMAGE: $($DOCKER image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f MB", $1 / 1e6}'), user $($DOCKER image inspect -f '{{.Config.User}}' "$IMAGE")"

# The revision the build was given, in --version and in the labels; no curl in the image.
label() { $DOCKER image inspect -f "{{index .Config.Labels \"org.opencontainers.image.$1\"}}" "$IMAGE"; }
revision=$(label revision)
version_line=$($DOCKER run --rm "$IMAGE" ratelimitd --version | head -1)
case "$revision" in ''|unknown) fail "label org.opencontainers.image.revision is '$revision'" ;; esac
[ "$version_line" = "ratelimitd $(label version) (git $revision)" ] \
  || fail "--version says '$version_line'; the labels say version $(label version), revision $revision"
if [ "${SKIP_BUILD:-0}" != 1 ] && git -C "$root" rev-parse >/dev/null 2>&1; then
  [ "$revision" = "$(git -C "$root" describe --always --dirty)" ] \
    || fail "the image's revision $revision is not this tree's $(git -C "$root" describe --always --dirty)"
fi
ok "--version in the image: $version_line (the OCI labels agree)"
for l in title description version revision licenses; do
  [ -n "$(label "$l")" ] || fail "label org.opencontainers.image.$l is empty"
done
ok "OCI labels: title, description, version, revision, licenses$([ -n "$(label source)" ] && echo ", source")"
! $DOCKER run --rm "$IMAGE" sh -c 'command -v curl' >/dev/null 2>&1 || fail "curl is in the image"
ok "no curl in the image (the HEALTHCHECK is ratelimitd healthcheck)"

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
ok "HEALTHCHECK (ratelimitd healthcheck) reports healthy"
[ "$($DOCKER inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$container")" = true ] || fail "the root filesystem is writable"
! $DOCKER exec "$container" sh -c 'echo x > /tmp/x' 2>/dev/null || fail "/tmp is writable in a --read-only container"
ok "the root filesystem is read-only (/tmp too); only the volume is written"

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
$DOCKER rm -f "$container" >/dev/null

# ---- make init: Compose (installed if missing), the demo key, make down -------------------------
if $DOCKER compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; then
  say "Compose is installed: make init will use it"
else
  say "no Compose here: make init must install it"
fi
RL_PORT=$(free_port)
export RL_PORT
init_log=$(mktemp)
compose_up=1
if ! make_docker init >"$init_log" 2>&1; then
  tail -30 "$init_log"; rm -f "$init_log"; fail "make init failed"
fi
$DOCKER compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 \
  || fail "make init succeeded, yet no Compose is installed"
init_key=$(sed -n 's/^ *\(rl_[A-Za-z0-9_]*\)$/\1/p' "$init_log" | head -1)
curl_line=$(grep -o 'curl -i -H "X-API-KEY: rl_[^"]*" http://127.0.0.1:[0-9]*/limit' "$init_log" | head -1)
rm -f "$init_log"
[ -n "$init_key" ] && [ -n "$curl_line" ] || fail "make init printed no key and curl line"
expect_status 200 "make init's curl line ($curl_line)" "http://127.0.0.1:$RL_PORT/limit" -H "X-API-KEY: $init_key"
compose_container=$($DOCKER ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")
[ -n "$compose_container" ] || fail "no container of the Compose project $COMPOSE_PROJECT_NAME runs"
[ "$($DOCKER inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$compose_container")" = true ] \
  || fail "the Compose service's root filesystem is writable (read_only: true missing?)"
compose_version=$($DOCKER compose version --short 2>/dev/null || docker-compose version --short)
ok "make init: Compose $compose_version, the service read-only, its demo key admitted"
make_docker down >/dev/null 2>&1 || fail "make down failed"
compose_up=0
[ -z "$($DOCKER ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")" ] \
  || fail "make down left the service running"
$DOCKER volume inspect "$RL_VOLUME" >/dev/null 2>&1 || fail "make down removed the volume $RL_VOLUME"
ok "make down stopped the service and kept the volume"

say "all checks passed"
