#!/usr/bin/env bash
# `make soak`: SOAK_SECONDS (default 60) of mixed load on a Release ratelimitd while an admin loop
# changes it underneath: 2,000 users with limits from 5 to 100 provisioned by `rlctl import`,
# wrk rotating over their keys plus keys that are unknown, about to be created or revoked, an
# exactness probe on ten users nothing else touches, and rlctl importing keys, revoking them,
# changing limits and creating users the whole time.
# Fails on any 5xx, any socket error, any admin command that fails, any proven excess over a
# limit, an RSS above SOAK_MAX_RSS_MB (default 256), or a stop that is not clean.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh  # free_port
BUILD=${BUILD:-build-soak}
SOAK_SECONDS=${SOAK_SECONDS:-60}
SOAK_MAX_RSS_MB=${SOAK_MAX_RSS_MB:-256}
USERS=${SOAK_USERS:-2000}
SAMPLED=10
ratelimitd=$BUILD/ratelimitd
sampler=$BUILD/tests/soak_sampler
for tool in wrk "$ratelimitd" "$sampler" "$BUILD/rlctl"; do
    command -v "$tool" >/dev/null || { echo "soak: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d /tmp/ratelimitd-soak.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    jobs -p | xargs -r kill 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

say() { echo "soak: $*"; }

# ---- provisioning: users 0..9 are the probe's, the rest take wrk's load and the admin churn.
limits=(5 10 20 50 100)
{
    for ((u = 0; u < USERS; u++)); do echo "soak$u,soakkey_$u,${limits[u % 5]}"; done
} >"$work/users.csv"
for ((u = 0; u < SAMPLED; u++)); do echo "soakkey_$u,${limits[u % 5]}"; done >"$work/sampled"
{
    for ((u = SAMPLED; u < USERS; u++)); do echo "soakkey_$u"; done
    for ((u = 0; u < 200; u++)); do echo "soakunknown_$u"; done        # never exist: 401
    for ((u = 0; u < 500; u++)); do echo "soaknew_$u"; done            # imported during the run
} >"$work/wrk-keys"
start=$SECONDS
"$BUILD/rlctl" --data-dir "$work/data" import "$work/users.csv" >/dev/null
say "provisioned $USERS users in $((SECONDS - start)) s"

port=$(free_port)
admin_port=$(free_port)
"$ratelimitd" --data-dir "$work/data" --listen "127.0.0.1:$port" \
    --admin-listen "127.0.0.1:$admin_port" 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && break
    sleep 0.1
done
curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" || { cat "$work/server.log"; exit 1; }
rlctl=("$BUILD/rlctl" --server "http://127.0.0.1:$admin_port" --token "$(cat "$work/data/admin.token")")

# ---- memory: sampled every second.
(
    max=0
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ "${rss:-0}" -gt "$max" ] && max=$rss && echo "$max" >"$work/max-rss"
        sleep 1
    done
) &
rss_start=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")

# ---- admin churn: until the load ends.
admin_loop() {
    local i=0 ok=0 failed=0 u id
    local -a imported=()
    while [ ! -e "$work/stop" ]; do
        u=$((SAMPLED + i % (USERS - SAMPLED)))
        if "${rlctl[@]}" user update "soak$u" --limit $((1 + i % 200)) >/dev/null; then
            ok=$((ok + 1)); else failed=$((failed + 1)); fi
        if [ "$i" -lt 500 ]; then
            id=$("${rlctl[@]}" --json key import "soak$u" --key "soaknew_$i" |
                sed -n 's/.*"key_id": *"\([0-9a-f]*\)".*/\1/p') || true
            if [ -n "$id" ]; then imported+=("$id"); ok=$((ok + 1)); else failed=$((failed + 1)); fi
        fi
        # Keys live about 20 rounds, then go; so do some of the original keys.
        if [ ${#imported[@]} -gt 20 ]; then
            if "${rlctl[@]}" key revoke "${imported[0]}" >/dev/null; then
                ok=$((ok + 1)); else failed=$((failed + 1)); fi
            imported=("${imported[@]:1}")
        fi
        if [ $((i % 10)) -eq 0 ]; then
            if "${rlctl[@]}" user create "soakextra$i" --limit 7 >/dev/null &&
                "${rlctl[@]}" key create "soakextra$i" >/dev/null; then
                ok=$((ok + 2)); else failed=$((failed + 1)); fi
        fi
        i=$((i + 1))
    done
    echo "$ok $failed" >"$work/admin"
}
admin_loop &
admin_pid=$!

say "load for $SOAK_SECONDS s: wrk (2 threads, 32 connections) over $(wc -l <"$work/wrk-keys") keys," \
    "the probe on $SAMPLED users, admin changes meanwhile"
"$sampler" "http://127.0.0.1:$port" "$SOAK_SECONDS" "$work/sampled" >"$work/sampler.out" &
sampler_pid=$!
wrk -t2 -c32 -d"${SOAK_SECONDS}s" --timeout 10s -s tests/soak/soak.lua \
    "http://127.0.0.1:$port/limit" -- "$work/wrk-keys" >"$work/wrk.out"
sampler_ok=0
wait "$sampler_pid" || sampler_ok=$?
touch "$work/stop"
wait "$admin_pid"

# ---- stop: SIGTERM must be clean.
rss_end=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"
stop_code=0
wait "$pid" || stop_code=$?
pid=""

# ---- figures and verdict.
line=$(grep '^WRK ' "$work/wrk.out") || { cat "$work/wrk.out"; exit 1; }
get() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
requests=$(get requests)
seconds=$(awk -v us="$(get duration_us)" 'BEGIN {printf "%.1f", us / 1e6}')
read -r admin_ok admin_failed <"$work/admin"
max_rss_kb=$(cat "$work/max-rss")
say "wrk: $requests requests in $seconds s ($(awk -v r="$requests" -v s="$seconds" 'BEGIN {printf "%.0f", r / s}') req/s)," \
    "200: $(get ok), 401: $(get unauthorized), 403: $(get forbidden), 429: $(get limited)," \
    "other 4xx: $(get other4xx), 5xx: $(get server), socket errors: $(get socket_errors)," \
    "p50 $(get p50_us) us, p99 $(get p99_us) us"
say "probe: $(sed 's/^SAMPLER //' "$work/sampler.out")"
say "admin: $admin_ok changes applied, $admin_failed failed"
say "RSS: $((rss_start / 1024)) MB after start, $((max_rss_kb / 1024)) MB at most, $((rss_end / 1024)) MB at the end (bound $SOAK_MAX_RSS_MB MB)"
say "SIGTERM: exit $stop_code"

failures=()
[ "$(get server)" -eq 0 ] || failures+=("5xx answers")
[ "$(get socket_errors)" -eq 0 ] || failures+=("socket errors")
[ "$(get other4xx)" -eq 0 ] || failures+=("unexpected 4xx")
[ "$sampler_ok" -eq 0 ] || failures+=("the probe saw an excess or an unexpected answer")
[ "$admin_failed" -eq 0 ] || failures+=("admin commands failed")
[ "$max_rss_kb" -le $((SOAK_MAX_RSS_MB * 1024)) ] || failures+=("RSS above $SOAK_MAX_RSS_MB MB")
[ "$stop_code" -eq 0 ] || failures+=("SIGTERM exit $stop_code")
if [ ${#failures[@]} -gt 0 ]; then
    say "FAILED: $(IFS=';'; echo "${failures[*]}")"
    tail -n 20 "$work/server.log"
    exit 1
fi
say "passed"
