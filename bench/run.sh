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
#   cluster ratelimitd's cluster mode against itself (not in the default list: its set-up alone
#           takes longer than the other scenarios' runs): one etcd member, `rlctl cluster init`,
#           two nodes (--threads 1, both on the server core) and HAProxy in front of them, with
#           100000 users c000001.. whose keys carry their route (rl_<route>_c000001..), since
#           HAProxy routes by it (a bk_ key has none: it would go round robin and half of the
#           requests would be answered not-owner and retried on the other node). The single
#           node has the same users and keys; wrk runs against it direct and against HAProxy,
#           interleaved. CPU per request of both nodes together, of each node (over the requests
#           it answered) and of HAProxy (on the third core if there is one, else on wrk's).
#
# Then syscalls per request of every responder (bare, nginx static, nginx limit_req spread/hot,
# ratelimitd /healthz, /limit spread/hot): one wrk run of SYSCALL_SECONDS each, counted with
# perf's syscall tracepoints (strace -c -f where perf cannot count them; strace slows the server,
# so its counts of failed speculative reads are less faithful). SYSCALL_SECONDS=0 skips them.
# With the cluster scenario also the single node and cluster node rl1 on the routed keys, rl1's
# counts over the requests it answered.
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
# HAProxy and etcd in the cluster scenario: off the server core, so that core runs ratelimitd
# processes only, as in the direct runs. With two cores they share wrk's.
CLUSTER_CORE=$WRK_CORE
[ "$(nproc)" -ge 3 ] && CLUSTER_CORE=2

cd "$(dirname "$0")/.."   # paths below are relative to the repo root
. scripts/lib.sh  # free_port

# ---- dependencies --------------------------------------------------------------------------
# nginx-light, wrk and perf/strace (syscall counts) from Debian, installed only if missing (same
# pattern as install-deps.sh).
missing=()
bench_packages="nginx-light wrk linux-perf strace"
[[ " $SCENARIOS " == *" cluster "* ]] && bench_packages+=" etcd-server haproxy"
for p in $bench_packages; do
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
haproxy_pid=""
import_pid=""
node_pids=""
etcd_pid=""
cleanup() {
  # Other servers may share the host: stop our own pids only, never anything by name. HAProxy
  # and the nodes before etcd, so the nodes can release their groups on the way out.
  local pids="$wrk_pid $counter_pid $import_pid $haproxy_pid $rl_pid $nginx_pid $bare_pid $node_pids" pid _
  for pid in $pids; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  # A node's SIGTERM releases its groups one fence at a time; nothing here needs that, so a
  # process still there after 5 s is killed.
  for _ in $(seq 50); do
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && break; pid=""; done
    [ -z "$pid" ] && break
    sleep 0.1
  done
  for pid in $pids; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$etcd_pid" ]; then
    kill -TERM "$etcd_pid" 2>/dev/null || true
    wait "$etcd_pid" 2>/dev/null || true
  fi
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
echo "pinning : servers on core $SERVER_CORE, wrk on core $WRK_CORE$([[ " $SCENARIOS " != *" cluster "* ]] ||
  echo ", the cluster's HAProxy and etcd on core $CLUSTER_CORE"); temp dir $tmp"
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
cluster_csv=$tmp/cluster-keys.csv
cluster_keys=$tmp/cluster.keys   # the keys alone, for bench/key_file.lua
if [[ " $SCENARIOS " == *" cluster "* ]]; then
  # A route is the first 10 hex digits of the SHA-256 of the user's name (common::route_of).
  perl -MDigest::SHA=sha256_hex -e 'for my $i (1 .. $ARGV[0]) {
      my $u = sprintf "c%06d", $i; printf "%s,rl_%s_c%06d\n", $u, substr(sha256_hex($u), 0, 10), $i }' \
    "$USERS_SPREAD" >"$cluster_csv"
  cut -d, -f2 "$cluster_csv" >"$cluster_keys"
  cat "$cluster_csv" >>"$csv"
fi
t0=$(now)
"$BUILD/rlctl" --data-dir "$data" import "$csv" >"$tmp/import.log" 2>&1 \
  || { echo "bench: rlctl import failed:"; cat "$tmp/import.log"; exit 1; }
t1=$(now)
offline_keys=$(wc -l <"$csv")
echo "offline import of $offline_keys users/keys (rlctl import): $(elapsed_ms "$t0" "$t1") ms"
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
echo "ratelimitd start to /readyz 200 with $offline_keys keys: $(elapsed_ms "$t0" "$t1") ms (polled every 10 ms)," \
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

# ---- cluster (SCENARIOS=cluster): etcd, two nodes, HAProxy ---------------------------------
# As docs/cluster.md "Running a cluster", on free loopback ports, everything in $tmp.
node_ids=(rl1 rl2)
declare -A node_pid=() node_port=() node_admin=()
if [[ " $SCENARIOS " == *" cluster "* ]]; then
  token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  etcd_client_port=$(free_port)
  etcd_peer_port=$(free_port)
  etcd_url=http://127.0.0.1:$etcd_client_port
  t0=$(now)
  taskset -c "$CLUSTER_CORE" etcd --name e1 --data-dir "$tmp/etcd" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "e1=http://127.0.0.1:$etcd_peer_port" >"$tmp/etcd.log" 2>&1 &
  etcd_pid=$!
  wait_200 "$etcd_url/health" "$etcd_pid" \
    || { echo "bench: etcd did not come up:"; tail -20 "$tmp/etcd.log"; exit 1; }
  timeout 30 "$BUILD/rlctl" cluster init --etcd "$etcd_url" >"$tmp/cluster-init.log" 2>&1 \
    || { echo "bench: rlctl cluster init failed:"; cat "$tmp/cluster-init.log"; exit 1; }

  # --handback-after 1s: the node that starts first takes every group; the other's come back
  # one at a time, and the runs must not start before they have.
  for id in "${node_ids[@]}"; do
    node_port[$id]=$(free_port)
    node_admin[$id]=$(free_port)
    mkdir -p "$tmp/$id"
    RL_ADMIN_TOKEN=$token taskset -c "$SERVER_CORE" "$BUILD/ratelimitd" --threads 1 \
      --cluster-etcd "$etcd_url" --node-id "$id" --handback-after 1s --data-dir "$tmp/$id" \
      --listen "127.0.0.1:${node_port[$id]}" --admin-listen "127.0.0.1:${node_admin[$id]}" \
      >"$tmp/$id.log" 2>&1 &
    node_pid[$id]=$!
    node_pids+=" $!"
  done
  for id in "${node_ids[@]}"; do
    wait_200 "http://127.0.0.1:${node_port[$id]}/readyz" "${node_pid[$id]}" \
      || { echo "bench: cluster node $id did not become ready:"; tail -20 "$tmp/$id.log"; exit 1; }
  done
  t1=$(now)
  echo "cluster : etcd $etcd_url and nodes ${node_ids[*]} up in $(elapsed_ms "$t0" "$t1") ms"

  admin1=http://127.0.0.1:${node_admin[rl1]}
  t0=$(now)
  # In the background + wait, as wrk below: it is the longest step of the set-up.
  RL_ADMIN_TOKEN=$token timeout 900 "$BUILD/rlctl" --server "$admin1" import "$cluster_csv" \
    >"$tmp/cluster-import.log" 2>&1 &
  import_pid=$!
  wait "$import_pid" \
    || { echo "bench: rlctl import into the cluster failed:"; tail -20 "$tmp/cluster-import.log"; exit 1; }
  import_pid=""
  t1=$(now)
  echo "cluster : import of $USERS_SPREAD users/keys through rl1's admin API (rlctl --server ... import):" \
    "$(elapsed_ms "$t0" "$t1") ms"
  echo "  $(tail -1 "$tmp/cluster-import.log" | tr -d '\r')"

  # Settled: every group owned by its top-ranked node (ownership.cpp's hrw_rank, the first 8
  # bytes of SHA-256 of "<id>:<group>"), so no group moves during the runs, and admitted by it
  # (/readyz?group=G, HAProxy's check; a node still applying the import is fenced).
  cluster_owners() {
    RL_ADMIN_TOKEN=$token timeout 5 "$BUILD/rlctl" --server "$admin1" --json cluster status 2>/dev/null \
      | perl -MJSON::PP -0777 -ne 'my $s = decode_json($_);
          print scalar @{$s->{groups}}, " ", join(" ", map { $_->{owner} // "-" }
            sort { $a->{group} <=> $b->{group} } @{$s->{groups}})'
  }
  owners_admit() {
    local g=0 id
    for id in "$@"; do
      curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:${node_port[$id]}/readyz?group=$g" || return 1
      g=$((g + 1))
    done
  }
  hrw_owners() {
    perl -MDigest::SHA=sha256_hex -e 'my ($n, @ids) = @ARGV; print join(" ", map { my $g = $_;
        (sort { substr(sha256_hex("$b:$g"), 0, 16) cmp substr(sha256_hex("$a:$g"), 0, 16) } @ids)[0] }
        0 .. $n - 1)' "$1" "${node_ids[@]}"
  }
  t0=$(now)
  settled=""
  for _ in $(seq 240); do   # 0.5 s apart: 2 minutes at most
    owners=$(cluster_owners) || owners=""
    # shellcheck disable=SC2086  # one owner an argument
    if [ -n "$owners" ] && [ "${owners#* }" = "$(hrw_owners "${owners%% *}")" ] && owners_admit ${owners#* }; then
      settled=1
      break
    fi
    sleep 0.5
  done
  [ -n "$settled" ] || { echo "bench: cluster groups did not settle on admitting owners: ${owners#* }"; \
    tail -n 5 "$tmp/rl1.log" "$tmp/rl2.log"; exit 1; }
  t1=$(now)
  echo "cluster : ${owners%% *} groups owned ($(for id in "${node_ids[@]}"; do
      printf '%s %s ' "$id" "$(tr ' ' '\n' <<<"${owners#* }" | grep -cx "$id")"; done)), settled" \
    "$(elapsed_ms "$t0" "$t1") ms after the import"

  mkdir -p "$tmp/haproxy"
  haproxy_port=$(free_port)
  RL_ADMIN_TOKEN=$token timeout 10 "$BUILD/rlctl" --server "$admin1" cluster haproxy-config \
    --listen "127.0.0.1:$haproxy_port" --out "$tmp/haproxy" --stats-socket '' >"$tmp/haproxy-config.log" 2>&1 \
    || { echo "bench: rlctl cluster haproxy-config failed:"; cat "$tmp/haproxy-config.log"; exit 1; }
  # The generated config has nbthread 1.
  taskset -c "$CLUSTER_CORE" haproxy -db -f "$tmp/haproxy/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
  haproxy_pid=$!
  # Ready when a request of every group's users succeeds through it: the health checks have
  # found each owner. 64 keys in a row cover the 32 groups with near certainty; each key once
  # a round, well inside its limit of 10/s.
  t0=$(now)
  head -64 "$cluster_keys" >"$tmp/probe.keys"
  ok=""
  for _ in $(seq 150); do   # 0.2 s apart: 30 s at most
    kill -0 "$haproxy_pid" 2>/dev/null || break
    ok=1
    while read -r key; do
      curl -fs -o /dev/null --max-time 1 -H "X-API-KEY: $key" "http://127.0.0.1:$haproxy_port/limit" || { ok=""; break; }
    done <"$tmp/probe.keys"
    [ -n "$ok" ] && break
    sleep 0.2
  done
  [ -n "$ok" ] || { echo "bench: requests through HAProxy do not succeed:"; tail -20 "$tmp/haproxy.log"; exit 1; }
  t1=$(now)
  echo "cluster : HAProxy on 127.0.0.1:$haproxy_port (core $CLUSTER_CORE) answers all 64 probe keys 200," \
    "$(elapsed_ms "$t0" "$t1") ms after its start (pids: etcd $etcd_pid, rl1 ${node_pid[rl1]}," \
    "rl2 ${node_pid[rl2]}, haproxy $haproxy_pid)"
fi

# Not a timing check: a wrong key or config would make every number below meaningless.
rl_status=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-API-KEY: bk_000002' "http://127.0.0.1:$rl_port/limit")
ngx_status=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-API-KEY: bk_000002' "http://127.0.0.1:$ngx_port/limit")
echo "sanity  : one request with bk_000002 -> ratelimitd $rl_status, nginx $ngx_status" \
  "(ratelimitd pid $rl_pid, nginx master $nginx_pid worker $nginx_worker, bare_responder pid $bare_pid)"
if [ "$rl_status" != 200 ] || [ "$ngx_status" != 200 ]; then echo "bench: expected 200 from both"; exit 1; fi
if [[ " $SCENARIOS " == *" cluster "* ]]; then
  key=$(sed -n 2p "$cluster_keys")
  rl_status=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-KEY: $key" "http://127.0.0.1:$rl_port/limit")
  echo "sanity  : one request with $key -> ratelimitd $rl_status"
  [ "$rl_status" = 200 ] || { echo "bench: expected 200"; exit 1; }
fi
echo

# ---- runs ----------------------------------------------------------------------------------
results=$tmp/results.tsv   # scenario round server rps p50_us p99_us cpu_us_per_req rss_kb non2xx_pct
: >"$results"

# wrk_bench URL N KEYS SECONDS: one wrk run on the wrk core; its BENCH line into $bench_line.
# KEYS is a prefix (KEYS_000001..KEYS_<N>, bench/rotate_keys.lua) or @FILE (the file's lines,
# bench/key_file.lua).
wrk_bench() {
  local url=$1 n=$2 keys=$3 seconds=$4 script=bench/rotate_keys.lua args out
  args=("$n" "$keys")
  if [[ $keys == @* ]]; then script=bench/key_file.lua; args=("${keys#@}"); fi
  # In the background + wait, so that Ctrl-C / TERM runs the cleanup at once, not after wrk ends.
  taskset -c "$WRK_CORE" wrk -t1 -c"$CONNECTIONS" -d"${seconds}s" -s "$script" --latency "$url" -- "${args[@]}" \
    >"$tmp/wrk.out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || { echo "bench: wrk failed:"; cat "$tmp/wrk.out"; exit 1; }
  wrk_pid=""
  out=$(<"$tmp/wrk.out")
  bench_line=$(grep '^BENCH ' <<<"$out") || { echo "bench: wrk printed no BENCH line:"; echo "$out"; exit 1; }
}

# run_one SCENARIO ROUND NAME URL PID N [KEYS]: one wrk run with keys KEYS (see wrk_bench; bk),
# CPU and RSS of PID around it, one row out.
run_one() {
  local scenario=$1 round=$2 name=$3 url=$4 pid=$5 n=$6 keys=${7:-bk} before after line
  before=$(cpu_ticks "$pid")
  wrk_bench "$url" "$n" "$keys" "$DURATION"
  after=$(cpu_ticks "$pid")
  line=$bench_line
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

# node_answers ADMIN_URL: how many /limit requests a node has answered (decisions and 503s),
# from its /metrics.
node_answers() {
  curl -fs --max-time 2 -H "Authorization: Bearer $token" "$1/metrics" | awk '
    /^ratelimitd_(decisions|unavailable)_total\{/ { n += $2 } END { printf "%d", n }'
}

# run_cluster ROUND: one wrk run through HAProxy; rows for the two nodes together, each node
# (its share of the requests, CPU over the requests it answered) and HAProxy.
run_cluster() {
  local round=$1 id before=() after=() answered=()
  for id in "${node_ids[@]}"; do answered+=("$(node_answers "http://127.0.0.1:${node_admin[$id]}")"); done
  for id in "${node_ids[@]}"; do before+=("$(cpu_ticks "${node_pid[$id]}")"); done
  before+=("$(cpu_ticks "$haproxy_pid")")
  wrk_bench "http://127.0.0.1:$haproxy_port/limit" "$USERS_SPREAD" "@$cluster_keys" "$DURATION"
  for id in "${node_ids[@]}"; do after+=("$(cpu_ticks "${node_pid[$id]}")"); done
  after+=("$(cpu_ticks "$haproxy_pid")")
  local i=0 rows="" answers
  for id in "${node_ids[@]}"; do
    answers=$(node_answers "http://127.0.0.1:${node_admin[$id]}")
    rows+="node-$id $((answers - answered[i])) $((after[i] - before[i])) $(rss_kb "${node_pid[$id]}") "
    i=$((i + 1))
  done
  rows+="haproxy 0 $((after[i] - before[i])) $(rss_kb "$haproxy_pid")"
  local requests duration_us p50_us p99_us non2xx err_connect err_read err_write err_timeout
  # shellcheck disable=SC2046  # as in run_one
  local $(printf '%s' "${bench_line#BENCH }")
  awk -v r="$round" -v req="$requests" -v dur="$duration_us" -v p50="$p50_us" -v p99="$p99_us" \
      -v tck="$clk_tck" -v bad="$non2xx" -v errs="$((err_connect + err_read + err_write + err_timeout))" \
      -v rows="$rows" -v out="$results" '
    function row(s, rps, p50, p99, cpu_us, rss, pct, errs, dash) {
      if (dash) printf "%-7s %5s  %-10s %10.0f %9s %9s %12.2f %10s %8s %6s\n", "cluster", r, s, rps, "-", "-", cpu_us, rss, "-", "-"
      else printf "%-7s %5s  %-10s %10.0f %9.3f %9.3f %12.2f %10s %7.1f%% %6s\n",
                  "cluster", r, s, rps, p50 / 1000, p99 / 1000, cpu_us, rss, pct, errs
      printf "%s\t%s\t%s\t%.0f\t%d\t%d\t%.3f\t%s\t%.2f\n", "cluster", r, s, rps, p50, p99, cpu_us, rss, pct >> out
    }
    BEGIN {
      n = split(rows, f, " ")
      for (i = 1; i + 3 <= n; i += 4) { name[++k] = f[i]; ans[k] = f[i + 1]; cpu[k] = f[i + 2]; rss[k] = f[i + 3] }
      for (i = 1; i < k; i++) { nodes_cpu += cpu[i]; nodes_rss += rss[i] }
      row("2-nodes", req / (dur / 1e6), p50, p99, nodes_cpu / tck * 1e6 / req, nodes_rss, 100 * bad / req, errs, 0)
      for (i = 1; i < k; i++)   # per node: its share of req/s, CPU over what it answered
        row(name[i], ans[i] / (dur / 1e6), 0, 0, ans[i] ? cpu[i] / tck * 1e6 / ans[i] : 0, rss[i], 0, 0, 1)
      row("haproxy", req / (dur / 1e6), 0, 0, cpu[k] / tck * 1e6 / req, rss[k], 0, 0, 1)
    }'
}

for scenario in $SCENARIOS; do
  case $scenario in
    spread) n=$USERS_SPREAD ;;
    plan)   n=$USERS_SPREAD ;;
    hot)    n=$USERS_HOT ;;
    ceiling) n=$USERS_HOT ;;
    cluster) n=$USERS_SPREAD ;;
    *) echo "bench: unknown scenario '$scenario' (spread, plan, hot, ceiling, cluster)"; exit 2 ;;
  esac
  rl_path=/limit; ngx_path=/limit; paths="/limit"
  [ "$scenario" = ceiling ] && { rl_path=/healthz; ngx_path=/plain; paths="/ (bare)|/healthz|/plain"; }
  if [ "$scenario" = cluster ]; then
    echo "-- scenario cluster: $n keys rl_<route>_c000001.. round robin, limit 10/s per key;" \
      "1 node direct, then HAProxy (core $CLUSTER_CORE) in front of nodes ${node_ids[*]} (both on core $SERVER_CORE)"
    echo "   taskset -c $WRK_CORE wrk -t1 -c$CONNECTIONS -d${DURATION}s -s bench/key_file.lua --latency http://127.0.0.1:<port>/limit -- <keys file>"
  else
    echo "-- scenario $scenario: $n keys round robin, limit 10/s per key"
    echo "   taskset -c $WRK_CORE wrk -t1 -c$CONNECTIONS -d${DURATION}s -s bench/rotate_keys.lua --latency http://127.0.0.1:<port>$paths -- $n"
  fi
  printf "%-7s %5s  %-10s %10s %9s %9s %12s %10s %8s %6s\n" \
    scenario round server "req/s" "p50 ms" "p99 ms" "CPU us/req" "RSS kB" "non-2xx" "errors"
  for round in $(seq "$ROUNDS"); do
    if [ "$scenario" = plan ]; then
      run_one plan "$round" 1-limit "http://127.0.0.1:$rl_port/limit" "$rl_pid" "$n" bk
      run_one plan "$round" 3-limits "http://127.0.0.1:$rl_port/limit" "$rl_pid" "$n" pk
      continue
    fi
    if [ "$scenario" = cluster ]; then
      run_one cluster "$round" direct "http://127.0.0.1:$rl_port/limit" "$rl_pid" "$n" "@$cluster_keys"
      run_cluster "$round"
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
  [ "$scenario" = cluster ] && servers="direct 2-nodes $(printf 'node-%s ' "${node_ids[@]}")haproxy"
  for server in $servers; do
    for col in 4 5 6 7 8 9; do
      med[$server.$col]=$(awk -F'\t' -v sc="$scenario" -v s="$server" -v c="$col" \
        '$1 == sc && $3 == s { print $c }' "$results" | median)
    done
    awk -v sc="$scenario" -v s="$server" -v rps="${med[$server.4]}" -v p50="${med[$server.5]}" \
        -v p99="${med[$server.6]}" -v cpu="${med[$server.7]}" -v rss="${med[$server.8]}" \
        -v bad="${med[$server.9]}" 'BEGIN {
      if (s ~ /^(node-|haproxy$)/)   # a share of the cluster rows: no latency of its own
        printf "%-7s %-10s %10.0f %9s %9s %12.2f %10.0f %8s\n", sc, s, rps, "-", "-", cpu, rss, "-"
      else
        printf "%-7s %-10s %10.0f %9.3f %9.3f %12.2f %10.0f %7.1f%%\n", sc, s, rps, p50 / 1000, p99 / 1000, cpu, rss, bad }'
  done
  if [ "$scenario" = cluster ]; then
    awk -v r1="${med[2-nodes.4]}" -v r2="${med[direct.4]}" -v c1="${med[2-nodes.7]}" \
        -v c2="${med[direct.7]}" -v ch="${med[haproxy.7]}" 'BEGIN {
      printf "cluster 2 nodes behind HAProxy / 1 node direct: req/s x%.2f, CPU per request of the nodes x%.2f," \
             " of the nodes and HAProxy x%.2f\n", r1 / r2, c1 / c2, (c1 + ch) / c2 }'
    unset med
    continue
  fi
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
    [ "$scenario" = ceiling ] || [ "$scenario" = plan ] || [ "$scenario" = cluster ] && continue
    rps=$(awk -F'\t' -v sc="$scenario" '$1 == sc && $3 == "ratelimitd" { print $4 }' "$results" | median)
    awk -v sc="$scenario" -v r="$rps" -v c="$best" 'BEGIN {
      printf "%-7s ratelimitd /limit vs the ceiling (%.0f req/s): x%.2f\n", sc, c, r / c }'
  done
fi
echo
echo "(CPU us/req = utime+stime of the server process over the run / requests wrk counted;"
echo " for nginx the worker process. ratelimitd's includes its RocksDB background threads.)"
if [[ " $SCENARIOS " == *" cluster "* ]]; then
  echo "(cluster: 2-nodes = both nodes' CPU / requests wrk counted; node-<id> req/s = what that node"
  echo " answered per second, its CPU us/req over those (its etcd keepalives, catalog watch and the"
  echo " answers to HAProxy's health checks included); haproxy = HAProxy's CPU / requests wrk counted.)"
fi

# ---- syscalls per request ------------------------------------------------------------------
# syscall_counts PID COMMAND...: runs COMMAND with PID's syscalls counted; 11 counts into
# $syscalls: all, recvfrom, read, sendmsg, writev, sendto, write, pread64, epoll_wait, failed
# recvfrom, failed read.
# perf counts at the tracepoints without stopping the server; strace -c stops it at every call.
syscall_counter=""
if perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
  syscall_counter=perf
elif command -v strace >/dev/null; then
  syscall_counter=strace
fi
syscall_counts() {
  local pid=$1
  shift
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
  "$@"
  kill -INT "$counter_pid" 2>/dev/null || true
  wait "$counter_pid" 2>/dev/null || true
  counter_pid=""
  if [ "$syscall_counter" = perf ]; then
    # name -> count; the two filtered exits come last, in the order given above.
    syscalls=$(awk -F, '/^[0-9]/ { n[++i] = $1 } END {
      printf "%s %s %s %s %s %s %s %s %s %s %s", n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9], n[10], n[11] }' \
      "$tmp/syscalls.out")
  else
    syscalls=$(awk '/^ *[0-9]/ && NF >= 5 {
        name = $NF; calls[name] = $4; if (NF == 6) errs[name] = $5 }
      /total$/ { total = $3 }
      END { printf "%d %d %d %d %d %d %d %d %d %d %d", total, calls["recvfrom"], calls["read"],
              calls["sendmsg"], calls["writev"], calls["sendto"], calls["write"], calls["pread64"],
              calls["epoll_wait"], errs["recvfrom"], errs["read"] }' "$tmp/syscalls.out")
  fi
}

# syscall_row NAME REQUESTS COUNTS...: the 11 counts of syscall_counts per request, one row.
syscall_row() {
  awk -v s="$1" -v r="$2" -v all="$3" -v recv=$(( $4 + $5 )) -v send=$(( $6 + $7 + $8 )) \
      -v wr="$9" -v pr="${10}" -v ep="${11}" -v fail=$(( ${12} + ${13} )) 'BEGIN {
    printf "%-24s %9d %8.2f %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n", s, r, all / r, recv / r, fail / r,
           send / r, wr / r, pr / r, ep / r }'
}

# count_syscalls NAME URL PID N [KEYS [ADMIN_URL [idle]]]: one wrk run with the server's
# syscalls counted, one row out. KEYS as in wrk_bench (bk). With ADMIN_URL, per request the node
# answered (a cluster node behind HAProxy answers only its groups' share), else per request wrk
# counted. With idle, PID is first counted for as long with no load, and a second row has those
# counts taken off: what its timers, etcd and HAProxy's health checks cost is not per request.
count_syscalls() {
  local name=$1 url=$2 pid=$3 n=$4 keys=${5:-bk} admin=${6:-} idle=${7:-} requests
  local answers_before=0 loaded=() background=() net=() i
  if [ -n "$idle" ]; then
    syscall_counts "$pid" sleep "$SYSCALL_SECONDS"
    read -r -a background <<<"$syscalls"
  fi
  [ -z "$admin" ] || answers_before=$(node_answers "$admin")
  syscall_counts "$pid" wrk_bench "$url" "$n" "$keys" "$SYSCALL_SECONDS"
  read -r -a loaded <<<"$syscalls"
  requests=$(sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p' <<<"$bench_line")
  [ -z "$admin" ] || requests=$(( $(node_answers "$admin") - answers_before ))
  [ -n "$requests" ] && [ "$requests" -gt 0 ] || { echo "bench: no requests counted for $name"; return; }
  syscall_row "$name" "$requests" "${loaded[@]}"
  [ -n "$idle" ] || return 0
  for i in "${!loaded[@]}"; do net+=($(( loaded[i] - background[i] ))); done
  syscall_row "  less idle" "$requests" "${net[@]}"
}
if [ "$SYSCALL_SECONDS" != 0 ] && [ -n "$syscall_counter" ]; then
  echo
  echo "== syscalls per request ($syscall_counter, one wrk -t1 -c$CONNECTIONS run of ${SYSCALL_SECONDS}s each;" \
    "recv = recvfrom+read, send = sendmsg+writev+sendto, write = ratelimitd's WAL, pread = nginx's file)"
  [[ " $SCENARIOS " != *" cluster "* ]] || echo "(rl_ keys: the cluster scenario's; \"less idle\": the same" \
    "server counted as long with no load first, and that taken off)"
  printf "%-24s %9s %8s %8s %8s %8s %8s %8s %8s\n" \
    responder requests all recv "recv<0" send write pread epoll
  count_syscalls "bare restinio" "http://127.0.0.1:$bare_port/" "$bare_pid" "$USERS_HOT"
  count_syscalls "nginx static" "http://127.0.0.1:$ngx_port/plain" "$nginx_worker" "$USERS_HOT"
  count_syscalls "nginx limit_req spread" "http://127.0.0.1:$ngx_port/limit" "$nginx_worker" "$USERS_SPREAD"
  count_syscalls "nginx limit_req hot" "http://127.0.0.1:$ngx_port/limit" "$nginx_worker" "$USERS_HOT"
  count_syscalls "ratelimitd /healthz" "http://127.0.0.1:$rl_port/healthz" "$rl_pid" "$USERS_HOT"
  count_syscalls "ratelimitd /limit spread" "http://127.0.0.1:$rl_port/limit" "$rl_pid" "$USERS_SPREAD"
  count_syscalls "ratelimitd /limit hot" "http://127.0.0.1:$rl_port/limit" "$rl_pid" "$USERS_HOT"
  if [[ " $SCENARIOS " == *" cluster "* ]]; then
    # The same routed keys: one node direct, then node rl1 behind HAProxy (over what it answered).
    count_syscalls "ratelimitd /limit rl_ keys" "http://127.0.0.1:$rl_port/limit" "$rl_pid" "$USERS_SPREAD" \
      "@$cluster_keys" "" idle
    count_syscalls "cluster rl1 via HAProxy" "http://127.0.0.1:$haproxy_port/limit" "${node_pid[rl1]}" \
      "$USERS_SPREAD" "@$cluster_keys" "http://127.0.0.1:${node_admin[rl1]}" idle
  fi
elif [ "$SYSCALL_SECONDS" != 0 ]; then
  echo "bench: neither perf syscall tracepoints nor strace available: no syscall counts"
fi
