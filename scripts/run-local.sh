#!/usr/bin/env bash
# Starts ratelimitd in the background on ./data with the defaults, waits until it is ready and
# prints how to make a user and a key. `make stop` (or kill "$(cat data/ratelimitd.pid)") stops it.
set -euo pipefail

bin=${1:-build/ratelimitd}
data=${RL_DATA_DIR:-./data}
listen=${RL_LISTEN:-0.0.0.0:8080}
port=${listen##*:}
mkdir -p "$data"

if [ -f "$data/ratelimitd.pid" ] && kill -0 "$(cat "$data/ratelimitd.pid")" 2>/dev/null; then
  echo "ratelimitd is already running (pid $(cat "$data/ratelimitd.pid")); 'make stop' stops it."
else
  nohup "$bin" --data-dir "$data" >>"$data/ratelimitd.log" 2>&1 &
  echo $! >"$data/ratelimitd.pid"
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$(cat "$data/ratelimitd.pid")" 2>/dev/null || { tail -5 "$data/ratelimitd.log"; exit 1; }
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { echo "ratelimitd did not become ready"; tail -5 "$data/ratelimitd.log"; exit 1; }
  echo "ratelimitd is running (pid $(cat "$data/ratelimitd.pid")), log in $data/ratelimitd.log"
fi
cat <<MSG

  Public API : http://127.0.0.1:$port/limit   (default limit: 10 requests per sliding second)
  Admin API  : http://127.0.0.1:8081          (token in $data/admin.token)

  Make a user and a key, then call /limit with it:
    build/rlctl --data-dir $data user create alice
    build/rlctl --data-dir $data key create alice
    curl -i -H "X-API-KEY: <the key printed above>" http://127.0.0.1:$port/limit

  Stop it with: make stop
MSG
