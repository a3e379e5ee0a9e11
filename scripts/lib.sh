# Shell helpers shared by bench/run.sh and tests/soak/soak.sh (source it from the repo root).

# free_port: prints a TCP port on 127.0.0.1 that nobody listens on right now (a connect fails).
# Another process may take it before the caller binds it; the callers accept that race.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
