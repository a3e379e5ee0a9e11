#!/usr/bin/env bash
# Side-by-side benchmark: ratelimitd vs nginx limit_req under the same wrk load.
#
#   make bench                                  (builds build-rel first, then runs this)
#   ROUNDS=3 DURATION=10 SCENARIOS="spread hot" SYSCALL_SECONDS=3 bench/run.sh
#
# Both servers get one core (core 0, one thread / one worker); wrk gets another (core 1), so the
# load generator never competes with the server it measures. Runs are interleaved
# (ratelimitd, nginx, ratelimitd, nginx, ...) so slow drift of the machine hits both alike.
# It prints numbers and asserts nothing about them.
#
# Scenarios (keys bk_000001..bk_N, each of its own user with the default limit of 10/s):
#   spread  N = 100000: each key comes round only every few seconds, so nearly all pass
#   hot     N = 100:    each key is hit hundreds of times a second, so nearly all get 429
#   plan    ratelimitd against itself: the spread keys (one 1-s limit each) and as many keys
#           pk_000001..pk_N whose users follow a three-limit plan (1s:10, 1m:300, day:10000),
#           runs interleaved; what several windows per user cost over one
#   ceiling what answering costs with no limiting at all: bench/bare_responder (restinio alone:
#           default settings and timers, one header check, a fixed 200; the floor of the HTTP
#           library), ratelimitd's /healthz (its restinio responder, no key, no limiter, no
#           usage write) and nginx serving the same static file without limit_req.
#
# Then syscalls per request of every responder (bare, nginx static, nginx limit_req spread/hot,
# ratelimitd /healthz, /limit spread/hot): one wrk run of SYSCALL_SECONDS each, counted with
# perf's syscall tracepoints (strace -c -f where perf cannot count them; strace slows the server,
# so its counts of failed speculative reads are less faithful). SYSCALL_SECONDS=0 skips them.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
SCENARIOS=${SCENARIOS:-"spread hot ceiling"}
SYSCALL_SECONDS=${SYSCALL_SECONDS:-3}
BUILD=${BUILD:-build-rel}              # the Release build dir that `make bench` fills
CONNECTIONS=64
USERS_SPREAD=100000                    # also the number of users provisioned
USERS_HOT=100
SERVER_CORE=0
WRK_CORE=1

cd "$(dirname "$0")/.."   # paths below are relative to the repo root
. scripts/lib.sh  # free_port

# ---- dependencies --------------------------------------------------------------------------
# nginx-light, wrk and perf/strace (syscall counts) from Debian, installed only if missing (same
# pattern as install-deps.sh).
missing=()
for p in nginx-light wrk linux-perf strace; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "bench: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for b in "$BUILD/ratelimitd" "$BUILD/rlctl" "$BUILD/bare_responder"; do
  [ -x "$b" ] || { echo "bench: $b is missing; run 'make bench' (it builds $BUILD first)"; exit 1; }
done
[ "$(nproc)" -ge 2 ] || echo "bench: WARNING: fewer than 2 cores; wrk and the server share core 0"

# ---- cleanup: only what this script started -----------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rl-bench.XXXXXX")
rl_pid=""
nginx_pid=""
bare_pid=""
wrk_pid=""
counter_pid=""
cleanup() {
  # Other servers may share the host: stop our own pids only, never anything by name.
  for pid in $wrk_pid $counter_pid $rl_pid $nginx_pid $bare_pid; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in $wrk_pid $counter_pid $rl_pid $nginx_pid $bare_pid; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # run the EXIT trap on Ctrl-C too

# ---- helpers -------------------------------------------------------------------------------
now() { date +%s.%N; }
elapsed_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

# utime + stime of a process (all its threads), in clock ticks. Field 2 (comm) may contain
# spaces, so count the fields after its closing parenthesis: utime and stime are fields 14, 15.
cpu_ticks() {
  local stat
  stat=$(<"/proc/$1/stat")
  stat=${stat##*) }
  awk '{ print $12 + $13 }' <<<"$stat"
}
clk_tck=$(getconf CLK_TCK)

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Polls URL until it answers 200; prints nothing, returns 1 if PID died or 30 s passed. Further
# arguments go to curl.
wait_200() {
  local url=$1 pid=$2 _
  shift 2
  for _ in $(seq 3000); do
    curl -fs -o /dev/null "$@" "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}

# ---- header --------------------------------------------------------------------------------
echo "== ratelimitd vs nginx limit_req benchmark"
echo "command : ROUNDS=$ROUNDS DURATION=$DURATION SCENARIOS=\"$SCENARIOS\" BUILD=$BUILD bench/run.sh${*:+ $*}"
echo "machine : nproc=$(nproc), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
echo "commit  : $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (+ uncommitted changes)')"
echo "nginx   : $(nginx -v 2>&1 | sed 's/^nginx version: //'), wrk: $(wrk -v 2>&1 | head -1 | awk '{ print $2 }')"
echo "pinning : servers on core $SERVER_CORE, wrk on core $WRK_CORE; temp dir $tmp"
echo

# ---- provisioning (offline) and startup ----------------------------------------------------
# One user per key so every key has its own limit, as limit_req has one state per header value.
csv=$tmp/keys.csv
awk -v n="$USERS_SPREAD" 'BEGIN { for (i = 1; i <= n; i++) printf "u%06d,bk_%06d\n", i, i }' >"$csv"
data=$tmp/rl-data
mkdir -p "$data"
if [[ " $SCENARIOS " == *" plan "* ]]; then
  "$BUILD/rlctl" --data-dir "$data" plan create three --limit 1s:10 --limit 1m:300 \
    --limit day:10000 >/dev/null
  awk -v n="$USERS_SPREAD" 'BEGIN { for (i = 1; i <= n; i++) printf "p%06d,pk_%06d,,three\n", i, i }' >>"$csv"
fi
t0=$(now)
"$BUILD/rlctl" --data-dir "$data" import "$csv" >"$tmp/import.log" 2>&1 \
  || { echo "bench: rlctl import failed:"; cat "$tmp/import.log"; exit 1; }
t1=$(now)
echo "offline import of $USERS_SPREAD users/keys (rlctl import): $(elapsed_ms "$t0" "$t1") ms"
echo "  $(tail -1 "$tmp/import.log" | tr -d '\r')"

rl_port=$(free_port)
rl_admin_port=$(free_port)
t0=$(now)
taskset -c "$SERVER_CORE" "$BUILD/ratelimitd" --threads 1 --data-dir "$data" \
  --listen "127.0.0.1:$rl_port" --admin-listen "127.0.0.1:$rl_admin_port" >"$tmp/ratelimitd.log" 2>&1 &
rl_pid=$!   # taskset execs ratelimitd, so this is the server's own pid
wait_200 "http://127.0.0.1:$rl_port/readyz" "$rl_pid" \
  || { echo "bench: ratelimitd did not become ready:"; tail -20 "$tmp/ratelimitd.log"; exit 1; }
t1=$(now)
echo "ratelimitd start to /readyz 200 with $USERS_SPREAD keys: $(elapsed_ms "$t0" "$t1") ms (polled every 10 ms)," \
  "RSS $(rss_kb "$rl_pid") kB"

# nginx from a temp prefix: config, pid, logs, temp paths and the static file all live there.
ngx=$tmp/nginx
mkdir -p "$ngx/html"
chmod 755 "$tmp" "$ngx" "$ngx/html"   # a root master runs its worker as nobody, which must read html/
printf 'ok\n' >"$ngx/html/limit"
printf 'ok\n' >"$ngx/html/plain"
chmod 644 "$ngx/html/limit" "$ngx/html/plain"
ngx_port=$(free_port)
sed -e "s|@PREFIX@|$ngx|g" -e "s|@PORT@|$ngx_port|g" bench/nginx.conf.template >"$ngx/nginx.conf"
# -e: the compiled-in error log (/var/log/nginx) may not be writable; use ours from the start.
taskset -c "$SERVER_CORE" nginx -c "$ngx/nginx.conf" -p "$ngx" -e "$ngx/error.log" >"$tmp/nginx.out" 2>&1 &
nginx_pid=$!   # the master (daemon off, taskset execs it)
wait_200 "http://127.0.0.1:$ngx_port/limit" "$nginx_pid" \
  || { echo "bench: nginx did not come up:"; cat "$tmp/nginx.out" "$ngx/error.log" 2>/dev/null | tail -20; exit 1; }
# The worker is the master's only child; its CPU is what serves requests.
nginx_worker=$(ps -o pid= --ppid "$nginx_pid" | awk 'NR == 1 { print $1 }')
[ -n "$nginx_worker" ] || { echo "bench: no nginx worker process under $nginx_pid"; exit 1; }

bare_port=$(free_port)
taskset -c "$SERVER_CORE" "$BUILD/bare_responder" "$bare_port" >"$tmp/bare.log" 2>&1 &
bare_pid=$!
wait_200 "http://127.0.0.1:$bare_port/" "$bare_pid" -H 'X-API-KEY: bk_000001' \
  || { echo "bench: bare_responder did not come up:"; tail -20 "$tmp/bare.log"; exit 1; }

# Not a timing check: a wrong key or config would make every number below meaningless.
rl_status=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-API-KEY: bk_000002' "http://127.0.0.1:$rl_port/limit")
ngx_status=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-API-KEY: bk_000002' "http://127.0.0.1:$ngx_port/limit")
echo "sanity  : one request with bk_000002 -> ratelimitd $rl_status, nginx $ngx_status" \
  "(ratelimitd pid $rl_pid, nginx master $nginx_pid worker $nginx_worker, bare_responder pid $bare_pid)"
if [ "$rl_status" != 200 ] || [ "$ngx_status" != 200 ]; then echo "bench: expected 200 from both"; exit 1; fi
echo

# ---- runs ----------------------------------------------------------------------------------
results=$tmp/results.tsv   # scenario round server rps p50_us p99_us cpu_us_per_req rss_kb non2xx_pct
: >"$results"

# run_one SCENARIO ROUND NAME URL PID N [PREFIX]: one wrk run with keys PREFIX_000001.. (bk),
# CPU and RSS of PID around it, one row out.
run_one() {
  local scenario=$1 round=$2 name=$3 url=$4 pid=$5 n=$6 prefix=${7:-bk} before after out line
  before=$(cpu_ticks "$pid")
  # In the background + wait, so that Ctrl-C / TERM runs the cleanup at once, not after wrk ends.
  taskset -c "$WRK_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/rotate_keys.lua --latency "$url" -- "$n" "$prefix" \
    >"$tmp/wrk.out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || { echo "bench: wrk failed:"; cat "$tmp/wrk.out"; exit 1; }
  wrk_pid=""
  after=$(cpu_ticks "$pid")
  out=$(<"$tmp/wrk.out")
  line=$(grep '^BENCH ' <<<"$out") || { echo "bench: wrk printed no BENCH line:"; echo "$out"; exit 1; }
  # The BENCH line's key=value pairs become local variables (requests, p50_us, ...).
  local requests duration_us p50_us p99_us non2xx err_connect err_read err_write err_timeout
  # shellcheck disable=SC2046  # word splitting into separate assignments is the point
  local $(printf '%s' "${line#BENCH }")
  awk -v sc="$scenario" -v r="$round" -v s="$name" -v req="$requests" -v dur="$duration_us" \
      -v p50="$p50_us" -v p99="$p99_us" -v cpu=$((after - before)) -v tck="$clk_tck" \
      -v rss="$(rss_kb "$pid")" -v bad="$non2xx" \
      -v errs="$((err_connect + err_read + err_write + err_timeout))" -v out="$results" 'BEGIN {
        rps = req / (dur / 1e6)
        cpu_us = cpu / tck * 1e6 / req
        pct = 100 * bad / req
        printf "%-7s %5s  %-10s %10.0f %9.3f %9.3f %12.2f %10s %7.1f%% %6s\n",
               sc, r, s, rps, p50 / 1000, p99 / 1000, cpu_us, rss, pct, errs
        printf "%s\t%s\t%s\t%.0f\t%d\t%d\t%.3f\t%s\t%.2f\n",
               sc, r, s, rps, p50, p99, cpu_us, rss, pct >> out
      }'
}

for scenario in $SCENARIOS; do
  case $scenario in
    spread) n=$USERS_SPREAD ;;
    plan)   n=$USERS_SPREAD ;;
    hot)    n=$USERS_HOT ;;
    ceiling) n=$USERS_HOT ;;
    *) echo "bench: unknown scenario '$scenario' (spread, plan, hot, ceiling)"; exit 2 ;;
  esac
  rl_path=/limit; ngx_path=/limit; paths="/limit"
  [ "$scenario" = ceiling ] && { rl_path=/healthz; ngx_path=/plain; paths="/ (bare)|/healthz|/plain"; }
  echo "-- scenario $scenario: $n keys round robin, limit 10/s per key"
  echo "   taskset -c $WRK_CORE wrk -t1 -c$CONNECTIONS -d${DURATION}s -s bench/rotate_keys.lua --latency http://127.0.0.1:<port>$paths -- $n"
  printf "%-7s %5s  %-10s %10s %9s %9s %12s %10s %8s %6s\n" \
    scenario round server "req/s" "p50 ms" "p99 ms" "CPU us/req" "RSS kB" "non-2xx" "errors"
  for round in $(seq "$ROUNDS"); do
    if [ "$scenario" = plan ]; then
      run_one plan "$round" 1-limit "http://127.0.0.1:$rl_port/limit" "$rl_pid" "$n" bk
      run_one plan "$round" 3-limits "http://127.0.0.1:$rl_port/limit" "$rl_pid" "$n" pk
      continue
    fi
    [ "$scenario" = ceiling ] && run_one "$scenario" "$round" bare "http://127.0.0.1:$bare_port/" "$bare_pid" "$n"
    run_one "$scenario" "$round" ratelimitd "http://127.0.0.1:$rl_port$rl_path" "$rl_pid" "$n"
    run_one "$scenario" "$round" nginx "http://127.0.0.1:$ngx_port$ngx_path" "$nginx_worker" "$n"
  done
  echo
done

# ---- summary -------------------------------------------------------------------------------
# Medians over rounds per scenario and server, then ratelimitd / nginx.
echo "== summary (medians over $ROUNDS rounds of ${DURATION}s; RSS and non-2xx: median too)"
printf "%-7s %-10s %10s %9s %9s %12s %10s %8s\n" \
  scenario server "req/s" "p50 ms" "p99 ms" "CPU us/req" "RSS kB" "non-2xx"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
for scenario in $SCENARIOS; do
  declare -A med=()
  servers="ratelimitd nginx"
  [ "$scenario" = ceiling ] && servers="bare ratelimitd nginx"
  [ "$scenario" = plan ] && servers="1-limit 3-limits"
  for server in $servers; do
    for col in 4 5 6 7 8 9; do
      med[$server.$col]=$(awk -F'\t' -v sc="$scenario" -v s="$server" -v c="$col" \
        '$1 == sc && $3 == s { print $c }' "$results" | median)
    done
    awk -v sc="$scenario" -v s="$server" -v rps="${med[$server.4]}" -v p50="${med[$server.5]}" \
        -v p99="${med[$server.6]}" -v cpu="${med[$server.7]}" -v rss="${med[$server.8]}" \
        -v bad="${med[$server.9]}" 'BEGIN {
      printf "%-7s %-10s %10.0f %9.3f %9.3f %12.2f %10.0f %7.1f%%\n", sc, s, rps, p50 / 1000, p99 / 1000, cpu, rss, bad }'
  done
  if [ "$scenario" = plan ]; then
    awk -v r1="${med[3-limits.4]}" -v r2="${med[1-limit.4]}" -v c1="${med[3-limits.7]}" \
        -v c2="${med[1-limit.7]}" 'BEGIN {
      printf "plan    3 limits / 1 limit: req/s x%.2f, CPU per request x%.2f\n", r1 / r2, c1 / c2 }'
    unset med
    continue
  fi
  awk -v sc="$scenario" -v r1="${med[ratelimitd.4]}" -v r2="${med[nginx.4]}" \
      -v c1="${med[ratelimitd.7]}" -v c2="${med[nginx.7]}" 'BEGIN {
    printf "%-7s ratelimitd/nginx: req/s x%.2f, CPU per request x%.2f\n", sc, r1 / r2, c1 / c2 }'
  [ "$scenario" = ceiling ] && awk -v r1="${med[ratelimitd.4]}" -v r2="${med[bare.4]}" \
      -v c1="${med[ratelimitd.7]}" -v c2="${med[bare.7]}" 'BEGIN {
    printf "ceiling ratelimitd /healthz vs bare restinio: req/s x%.2f, CPU per request x%.2f\n", r1 / r2, c1 / c2 }'
  unset med
done
# /limit against the ceiling: the faster of the two do-nothing responders.
if [[ " $SCENARIOS " == *" ceiling "* ]]; then
  ceil_rl=$(awk -F'\t' '$1 == "ceiling" && $3 == "ratelimitd" { print $4 }' "$results" | median)
  ceil_ngx=$(awk -F'\t' '$1 == "ceiling" && $3 == "nginx" { print $4 }' "$results" | median)
  ceil_bare=$(awk -F'\t' '$1 == "ceiling" && $3 == "bare" { print $4 }' "$results" | median)
  best=$(awk -v a="$ceil_rl" -v b="$ceil_ngx" -v c="$ceil_bare" 'BEGIN {
    m = a > b ? a : b; print (m > c ? m : c) }')
  for scenario in $SCENARIOS; do
    [ "$scenario" = ceiling ] || [ "$scenario" = plan ] && continue
    rps=$(awk -F'\t' -v sc="$scenario" '$1 == sc && $3 == "ratelimitd" { print $4 }' "$results" | median)
    awk -v sc="$scenario" -v r="$rps" -v c="$best" 'BEGIN {
      printf "%-7s ratelimitd /limit vs the ceiling (%.0f req/s): x%.2f\n", sc, c, r / c }'
  done
fi
echo
echo "(CPU us/req = utime+stime of the server process over the run / requests wrk counted;"
echo " for nginx the worker process. ratelimitd's includes its RocksDB background threads.)"

# ---- syscalls per request ------------------------------------------------------------------
# count_syscalls NAME URL PID N: one wrk run with the server's syscalls counted, one row out.
# perf counts at the tracepoints without stopping the server; strace -c stops it at every call.
syscall_counter=""
if perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
  syscall_counter=perf
elif command -v strace >/dev/null; then
  syscall_counter=strace
fi
count_syscalls() {
  local name=$1 url=$2 pid=$3 n=$4 requests counts
  case $syscall_counter in
    perf)
      perf stat -x, -o "$tmp/syscalls.out" -p "$pid" \
        -e raw_syscalls:sys_enter,syscalls:sys_enter_recvfrom,syscalls:sys_enter_read \
        -e syscalls:sys_enter_sendmsg,syscalls:sys_enter_writev,syscalls:sys_enter_sendto \
        -e syscalls:sys_enter_write,syscalls:sys_enter_pread64,syscalls:sys_enter_epoll_wait \
        -e syscalls:sys_exit_recvfrom --filter 'ret < 0' \
        -e syscalls:sys_exit_read --filter 'ret < 0' &
      ;;
    strace) strace -c -f -o "$tmp/syscalls.out" -p "$pid" 2>/dev/null & ;;
  esac
  counter_pid=$!
  sleep 0.5   # attached
  taskset -c "$WRK_CORE" wrk -t1 -c"$CONNECTIONS" -d"${SYSCALL_SECONDS}s" -s bench/rotate_keys.lua "$url" -- "$n" \
    >"$tmp/wrk.out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || { echo "bench: wrk failed:"; cat "$tmp/wrk.out"; exit 1; }
  wrk_pid=""
  kill -INT "$counter_pid" 2>/dev/null || true
  wait "$counter_pid" 2>/dev/null || true
  counter_pid=""
  requests=$(sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p' "$tmp/wrk.out")
  [ -n "$requests" ] && [ "$requests" -gt 0 ] || { echo "bench: no requests counted for $name"; return; }
  if [ "$syscall_counter" = perf ]; then
    # name -> count; the two filtered exits come last, in the order given above.
    counts=$(awk -F, '/^[0-9]/ { n[++i] = $1 } END {
      printf "%s %s %s %s %s %s %s %s %s %s %s", n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9], n[10], n[11] }' \
      "$tmp/syscalls.out")
  else
    counts=$(awk '/^ *[0-9]/ && NF >= 5 {
        name = $NF; calls[name] = $4; if (NF == 6) errs[name] = $5 }
      /total$/ { total = $3 }
      END { printf "%d %d %d %d %d %d %d %d %d %d %d", total, calls["recvfrom"], calls["read"],
              calls["sendmsg"], calls["writev"], calls["sendto"], calls["write"], calls["pread64"],
              calls["epoll_wait"], errs["recvfrom"], errs["read"] }' "$tmp/syscalls.out")
  fi
  # shellcheck disable=SC2086  # the counts are separate arguments
  set -- $counts
  awk -v s="$name" -v r="$requests" -v all="$1" -v recv=$(( $2 + $3 )) -v send=$(( $4 + $5 + $6 )) \
      -v wr="$7" -v pr="$8" -v ep="$9" -v fail=$(( ${10} + ${11} )) 'BEGIN {
    printf "%-24s %9d %8.2f %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n", s, r, all / r, recv / r, fail / r,
           send / r, wr / r, pr / r, ep / r }'
}
if [ "$SYSCALL_SECONDS" != 0 ] && [ -n "$syscall_counter" ]; then
  echo
  echo "== syscalls per request ($syscall_counter, one wrk -t1 -c$CONNECTIONS run of ${SYSCALL_SECONDS}s each;" \
    "recv = recvfrom+read, send = sendmsg+writev+sendto, write = ratelimitd's WAL, pread = nginx's file)"
  printf "%-24s %9s %8s %8s %8s %8s %8s %8s %8s\n" \
    responder requests all recv "recv<0" send write pread epoll
  count_syscalls "bare restinio" "http://127.0.0.1:$bare_port/" "$bare_pid" "$USERS_HOT"
  count_syscalls "nginx static" "http://127.0.0.1:$ngx_port/plain" "$nginx_worker" "$USERS_HOT"
  count_syscalls "nginx limit_req spread" "http://127.0.0.1:$ngx_port/limit" "$nginx_worker" "$USERS_SPREAD"
  count_syscalls "nginx limit_req hot" "http://127.0.0.1:$ngx_port/limit" "$nginx_worker" "$USERS_HOT"
  count_syscalls "ratelimitd /healthz" "http://127.0.0.1:$rl_port/healthz" "$rl_pid" "$USERS_HOT"
  count_syscalls "ratelimitd /limit spread" "http://127.0.0.1:$rl_port/limit" "$rl_pid" "$USERS_SPREAD"
  count_syscalls "ratelimitd /limit hot" "http://127.0.0.1:$rl_port/limit" "$rl_pid" "$USERS_HOT"
elif [ "$SYSCALL_SECONDS" != 0 ]; then
  echo "bench: neither perf syscall tracepoints nor strace available: no syscall counts"
fi
