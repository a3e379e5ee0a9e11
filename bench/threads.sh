#!/usr/bin/env bash
# What --threads costs and buys on this machine: ratelimitd --threads 1, 2, ... under the spread
# load of `make bench` (100,000 users, wrk -t1 -c64 rotating over their keys), runs interleaved.
#
#   BUILD=build-rel THREADS="1 2" ROUNDS=3 DURATION=5 bench/threads.sh
#
# Nothing is pinned: with N threads the server may use every core, and wrk shares them. On a
# machine with fewer than N + 1 cores the rows show what threads cost per request (CPU µs per
# request: locks, the shared io_context, cache traffic between cores), not what they carry. It
# prints numbers and asserts nothing about them.
set -euo pipefail

BUILD=${BUILD:-build-rel}
THREADS=${THREADS:-"1 2"}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
USERS=100000

cd "$(dirname "$0")/.."
. scripts/lib.sh # free_port
for b in "$BUILD/ratelimitd" "$BUILD/rlctl"; do
  [ -x "$b" ] || { echo "bench: $b is missing; run 'make bench' first (it builds $BUILD)"; exit 1; }
done
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rl-threads.XXXXXX")
rl_pid=""
cleanup() {
  [ -n "$rl_pid" ] && { kill -TERM "$rl_pid" 2>/dev/null || true; wait "$rl_pid" 2>/dev/null || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { # utime + stime of all the process's threads, in clock ticks
  local stat
  stat=$(<"/proc/$1/stat")
  stat=${stat##*) }
  awk '{ print $12 + $13 }' <<<"$stat"
}
clk_tck=$(getconf CLK_TCK)

echo "== ratelimitd --threads: THREADS=\"$THREADS\" ROUNDS=$ROUNDS DURATION=$DURATION BUILD=$BUILD"
echo "machine : nproc=$(nproc), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
echo "commit  : $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (+ uncommitted changes)')"
awk -v n="$USERS" 'BEGIN { for (i = 1; i <= n; i++) printf "u%06d,bk_%06d\n", i, i }' >"$tmp/keys.csv"
"$BUILD/rlctl" --data-dir "$tmp/seed" import "$tmp/keys.csv" >/dev/null

results=$tmp/results
: >"$results"
printf "%-7s %5s %10s %9s %12s\n" threads round req/s "p99 ms" "CPU us/req"
for round in $(seq "$ROUNDS"); do
  for t in $THREADS; do
    rm -rf "$tmp/data"
    cp -a "$tmp/seed" "$tmp/data" # the same imported users every run, no usage yet
    port=$(free_port)
    admin_port=$(free_port)
    "$BUILD/ratelimitd" --threads "$t" --data-dir "$tmp/data" --listen "127.0.0.1:$port" \
      --admin-listen "127.0.0.1:$admin_port" >"$tmp/ratelimitd.log" 2>&1 &
    rl_pid=$!
    for _ in $(seq 3000); do
      curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && break
      kill -0 "$rl_pid" 2>/dev/null || { echo "bench: ratelimitd exited:"; tail "$tmp/ratelimitd.log"; exit 1; }
      sleep 0.01
    done
    wrk -t1 -c64 -d1s -s bench/rotate_keys.lua "http://127.0.0.1:$port/limit" -- "$USERS" >/dev/null
    before=$(cpu_ticks "$rl_pid")
    wrk -t1 -c64 -d"${DURATION}s" -s bench/rotate_keys.lua "http://127.0.0.1:$port/limit" -- \
      "$USERS" >"$tmp/wrk.out"
    after=$(cpu_ticks "$rl_pid")
    kill -TERM "$rl_pid"
    wait "$rl_pid" 2>/dev/null || true
    rl_pid=""
    line=$(grep '^BENCH ' "$tmp/wrk.out") || { echo "bench: wrk printed no result"; cat "$tmp/wrk.out"; exit 1; }
    awk -v t="$t" -v r="$round" -v d="$DURATION" -v c="$((after - before))" -v hz="$clk_tck" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%-7s %5s %10.0f %9.2f %12.2f\n", t, r, v["requests"] / d, v["p99_us"] / 1000,
               c / hz * 1e6 / v["requests"] }' <<<"$line" | tee -a "$results"
  done
done

echo
echo "== medians over $ROUNDS rounds"
for t in $THREADS; do
  awk -v t="$t" '$1 == t' "$results" | sort -k3n | awk -v t="$t" '{ rps[NR] = $3 } END { m = int((NR + 1) / 2); printf "threads %s: req/s %.0f", t, rps[m] }'
  awk -v t="$t" '$1 == t' "$results" | sort -k4n | awk '{ p[NR] = $4 } END { printf ", p99 %.2f ms", p[int((NR + 1) / 2)] }'
  awk -v t="$t" '$1 == t' "$results" | sort -k5n | awk '{ c[NR] = $5 } END { printf ", CPU %.2f us/req\n", c[int((NR + 1) / 2)] }'
done
