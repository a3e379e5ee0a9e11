#!/usr/bin/env bash
# Test of the Debian package (`make deb-test`): lintian on the .deb (any E: tag fails),
# `systemd-analyze verify` and `security` on its unit, then the package installed with dpkg into
# a clean debian:bookworm-slim container, the server started there as the unit would start it
# (its user, its ExecStart line, its environment and /etc/default/ratelimitd), /healthz, /readyz,
# rlctl and /limit checked, the access log rotated by the packaged logrotate snippet, a clean
# stop, and the data left in place by `dpkg --remove` and `--purge`.
#
# Exit 77 when a tool it needs is missing (lintian, systemd-analyze, a Docker engine), 0 when
# every check passed. Environment: DEB (the package; default: `make deb` builds it), DOCKER,
# DOCKER_LOCAL (run when no daemon answers), BASE_IMAGE (default debian:bookworm-slim),
# MAX_EXPOSURE (the highest `systemd-analyze security` exposure accepted, default 2.0).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
DOCKER=${DOCKER:-docker}
DOCKER_LOCAL=${DOCKER_LOCAL:-../shared/tools/docker-local.sh}
BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}

passed=0
container=""
work=$(mktemp -d)
say() { printf 'deb-test: %s\n' "$*"; }
ok() { passed=$((passed + 1)); printf 'ok   - %s\n' "$*"; }
fail() {
  printf 'FAIL - %s\n' "$*"
  if [ -n "$container" ]; then
    printf -- '--- server log:\n'
    $DOCKER exec "$container" cat /tmp/ratelimitd.log 2>/dev/null | tail -20 || true
  fi
  exit 1
}
skip() { say "SKIPPED: $*"; exit 77; }
cleanup() {
  local rc=$?
  [ -z "$container" ] || $DOCKER rm -f "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
  printf 'deb-test: %d passed%s\n' "$passed" "$([ "$rc" = 0 ] || [ "$rc" = 77 ] || echo ", then a failure (exit $rc)")"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in dpkg-deb lintian systemd-analyze curl; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps.sh installs it)"
done
if ! $DOCKER info >/dev/null 2>&1; then
  [ -f "$DOCKER_LOCAL" ] && bash "$DOCKER_LOCAL" >&2 || true
  $DOCKER info >/dev/null 2>&1 || skip "no Docker engine answers ('$DOCKER info' fails)"
fi

# ---- the package -------------------------------------------------------------------------------
if [ -z "${DEB:-}" ]; then
  packaging/deb/build.sh
  DEB=$(ls -t build-deb/ratelimitd_*.deb | head -1)
fi
[ -f "$DEB" ] || fail "no package at $DEB"
say "package $DEB ($(du -k "$DEB" | cut -f1) KiB)"
dpkg-deb -x "$DEB" "$work/root"
for f in usr/bin/ratelimitd usr/bin/rlctl usr/share/man/man1/ratelimitd.1.gz usr/share/man/man1/rlctl.1.gz \
  lib/systemd/system/ratelimitd.service etc/default/ratelimitd etc/logrotate.d/ratelimitd \
  usr/share/doc/ratelimitd/copyright; do
  [ -f "$work/root/$f" ] || fail "the package lacks /$f"
done
ok "the package holds both binaries, their man pages, the unit, the env file and logrotate"

# lintian as root says so on stderr; everything else it prints is a tag.
lintian --info --display-level '>=pedantic' --show-overrides "$DEB" >"$work/lintian" 2>"$work/lintian.err" || true
grep -v 'running with root privileges' "$work/lintian.err" >&2 || true
sed 's/^/  lintian: /' "$work/lintian"
summary=$(for level in E W I P O; do printf '%s:%d ' "$level" "$(grep -c "^$level: " "$work/lintian" || true)"; done | sed 's/ $//')
[ "$(grep -c '^E: ' "$work/lintian" || true)" = 0 ] || fail "lintian reports errors ($summary)"
ok "lintian: no error tags ($summary)"

# ---- the unit ----------------------------------------------------------------------------------
unit="$work/root/lib/systemd/system/ratelimitd.service"
# verify resolves ExecStart= under --root (which needs the host's own units there, for the
# targets the unit is ordered against) and looks the Documentation= pages up with man(1).
cp -an /lib/systemd/system/. "$work/root/lib/systemd/system/"
if ! MANPATH="$work/root/usr/share/man" systemd-analyze verify --root="$work/root" "$unit" >"$work/verify" 2>&1; then
  cat "$work/verify"
  fail "systemd-analyze verify reports problems"
fi
[ ! -s "$work/verify" ] || { cat "$work/verify"; fail "systemd-analyze verify printed warnings"; }
ok "systemd-analyze verify: clean"
security=(systemd-analyze security --offline=true --threshold=0 "$unit")
"${security[@]}" >"$work/security" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$work/security")
[ -n "$exposure" ] || { cat "$work/security"; fail "no exposure level from systemd-analyze security"; }
grep '✗' "$work/security" | sed 's/^/  not set: /' || true
awk -v e="$exposure" -v max="$MAX_EXPOSURE" 'BEGIN { exit !(e <= max) }' ||
  fail "exposure $exposure is above $MAX_EXPOSURE"
ok "systemd-analyze security --offline=true: exposure $(tail -1 "$work/security" | sed 's/.*: //')"

# ---- installed into a clean container ----------------------------------------------------------
$DOCKER image inspect "$BASE_IMAGE" >/dev/null 2>&1 || skip "no image $BASE_IMAGE (run $DOCKER_LOCAL)"
container="rl-deb-test-$$-$RANDOM"
$DOCKER run -d --name "$container" -p 127.0.0.1::8080 "$BASE_IMAGE" sleep infinity >/dev/null
port=$($DOCKER port "$container" 8080/tcp | head -1)
port=${port##*:}
in_container() { $DOCKER exec "$container" "$@"; }
$DOCKER cp "$DEB" "$container:/tmp/ratelimitd.deb"
# dpkg -i stops on the missing libraries; apt-get install -f brings them and finishes the install.
in_container dpkg -i /tmp/ratelimitd.deb >"$work/dpkg" 2>&1 || true
in_container sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -f -y -qq --no-install-recommends' \
  >>"$work/dpkg" 2>&1 || { cat "$work/dpkg"; fail "apt-get install -f failed"; }
in_container dpkg-query -W -f='${Status}\n' ratelimitd | grep -q 'install ok installed' ||
  { cat "$work/dpkg"; fail "ratelimitd is not installed after dpkg -i and apt-get install -f"; }
ok "dpkg -i + apt-get install -f: $(in_container dpkg-query -W -f='${Package} ${Version}' ratelimitd) installed"
in_container getent passwd ratelimitd >/dev/null || fail "no user ratelimitd"
[ "$(in_container stat -c '%U %a' /var/lib/ratelimitd)" = "ratelimitd 750" ] || fail "/var/lib/ratelimitd is not ratelimitd's, 0750"
ok "system user ratelimitd and /var/lib/ratelimitd (0750) exist"
in_container sh -c 'test "$(rlctl --version | cut -d" " -f1-2)" = "rlctl $(ratelimitd --version | cut -d" " -f2)"' ||
  fail "the installed binaries do not run"

# The unit's command line with its environment: Environment= lines, then the env file.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
mapfile -t unit_env < <(sed -n 's/^Environment=//p' "$unit")
start_server() { # extra VAR=VALUE settings, as a line in /etc/default/ratelimitd would give
  # setpriv execs the server itself (no parent in between), so its pid is this shell's.
  $DOCKER exec -d "$container" sh -c 'set -a; for e in "$@"; do export "$e"; done; . /etc/default/ratelimitd;
    echo $$ >/tmp/ratelimitd.pid
    exec setpriv --reuid="$0" --regid="$0" --init-groups -- '"$exec_start"' >/tmp/ratelimitd.log 2>&1' \
    "$user" "${unit_env[@]}" "$@"
  for _ in $(seq 100); do
    [ "$(http_status "http://127.0.0.1:$port/readyz")" = 200 ] && return 0
    sleep 0.1
  done
  fail "/readyz is not 200 10 s after starting $exec_start"
}
http_status() { curl -s -o /dev/null -w '%{http_code}' "${@:2}" "$1" || true; }
expect_status() { # WANT WHAT URL [curl args...]
  local got
  got=$(http_status "${@:3}")
  [ "$got" = "$1" ] || fail "$2: want $1, got $got"
  ok "$2: $got"
}

start_server RL_ACCESS_LOG=/var/log/ratelimitd/access.log
ok "started as the unit does: setpriv --reuid=$user -- $exec_start (${unit_env[*]}, /etc/default/ratelimitd)"
expect_status 200 "/healthz" "http://127.0.0.1:$port/healthz"
expect_status 200 "/readyz" "http://127.0.0.1:$port/readyz"
[ "$(in_container stat -c %U /var/lib/ratelimitd/admin.token)" = ratelimitd ] || fail "admin.token is not the service user's"

# rlctl as root with no flags finds the server through /var/lib/ratelimitd (admin.url, admin.token).
in_container rlctl user create alice --limit 2 >/dev/null || fail "rlctl user create alice (as root)"
in_container runuser -u ratelimitd -- rlctl --data-dir /var/lib/ratelimitd user create bob >/dev/null ||
  fail "rlctl user create bob (as ratelimitd)"
in_container rlctl user list | grep -q bob || fail "rlctl user list does not show bob"
ok "rlctl user create works as root and as ratelimitd; rlctl user list shows both"
key=$(in_container rlctl --json key create alice | sed -n 's/^ *"key": *"\(rl_[^"]*\)".*/\1/p')
[ -n "$key" ] || fail "rlctl key create alice printed no key"
expect_status 200 "/limit with alice's key" "http://127.0.0.1:$port/limit" -H "X-API-KEY: $key"
expect_status 200 "/limit, second of 2" "http://127.0.0.1:$port/limit" -H "X-API-KEY: $key"
expect_status 429 "/limit, third within the second" "http://127.0.0.1:$port/limit" -H "X-API-KEY: $key"

# The packaged logrotate snippet, forced: the server writes on into the truncated file.
in_container sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends logrotate >/dev/null 2>&1' ||
  fail "cannot install logrotate in the container"
sleep 0.5 # the access log's writer runs every 200 ms
in_container test -s /var/log/ratelimitd/access.log || fail "no access log lines"
in_container logrotate -f /etc/logrotate.d/ratelimitd || fail "logrotate -f /etc/logrotate.d/ratelimitd failed"
in_container test -s /var/log/ratelimitd/access.log.1 || fail "logrotate made no access.log.1"
expect_status 401 "/limit without a key, after the rotation" "http://127.0.0.1:$port/limit"
sleep 0.5
[ "$(in_container grep -c '"status":401' /var/log/ratelimitd/access.log)" = 1 ] ||
  fail "after copytruncate the access log does not hold exactly the new line"
ok "logrotate: access.log.1 holds the old lines, access.log the new one"

# SIGTERM, as systemd stops the unit: a clean exit, then a restart on the same data.
in_container sh -c 'kill -TERM "$(cat /tmp/ratelimitd.pid)"'
for _ in $(seq 50); do in_container grep -q '; exit ' /tmp/ratelimitd.log && break; sleep 0.1; done
in_container grep -q '; exit 0$' /tmp/ratelimitd.log || fail "no clean exit within 5 s of SIGTERM"
ok "SIGTERM: stopped with exit 0"

# Removing the package keeps the data; so does purging it (only the logs go).
in_container dpkg --remove ratelimitd >/dev/null
in_container test -f /var/lib/ratelimitd/admin.token || fail "dpkg --remove deleted /var/lib/ratelimitd"
in_container test -f /etc/default/ratelimitd || fail "dpkg --remove deleted the conffile"
in_container dpkg --purge ratelimitd >/dev/null
in_container test -f /var/lib/ratelimitd/admin.token || fail "dpkg --purge deleted /var/lib/ratelimitd"
in_container test ! -e /var/log/ratelimitd || fail "dpkg --purge left /var/log/ratelimitd"
in_container dpkg -i /tmp/ratelimitd.deb >/dev/null || fail "reinstall failed"
start_server
in_container rlctl user show alice >/dev/null || fail "alice is gone after remove, purge and reinstall"
ok "dpkg --remove and --purge keep /var/lib/ratelimitd: alice is still there after a reinstall"

# ---- under systemd -----------------------------------------------------------------------------
# A second clean container with systemd as PID 1: apt installs the package, its postinst enables
# and starts the unit, and the unit's own sandbox, Type=notify readiness and stop are checked.
# Without the privileges systemd needs to boot in a container, this part is reported as skipped.
$DOCKER rm -f "$container" >/dev/null
systemd_image=ratelimitd-deb-test:systemd
if ! $DOCKER image inspect "$systemd_image" >/dev/null 2>&1; then
  printf 'FROM %s\nRUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd systemd-sysv >/dev/null && rm -rf /var/lib/apt/lists/*\nCMD ["/lib/systemd/systemd"]\n' \
    "$BASE_IMAGE" | $DOCKER build -q -t "$systemd_image" - >/dev/null 2>"$work/build" ||
    { cat "$work/build"; fail "cannot build $systemd_image"; }
fi
container="rl-deb-test-systemd-$$-$RANDOM"
$DOCKER run -d --name "$container" --tmpfs /run --tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:ro \
  -p 127.0.0.1::8080 "$systemd_image" >/dev/null
port=$($DOCKER port "$container" 8080/tcp | head -1)
port=${port##*:}
booted=""
for _ in $(seq 60); do
  state=$(in_container systemctl is-system-running 2>/dev/null || true)
  case "$state" in running | degraded) booted=1; break ;; esac
  sleep 0.5
done
if [ -z "$booted" ]; then
  say "SKIPPED the systemd part: systemd does not boot in a container here (state '${state:-none}')"
  exit 0
fi
$DOCKER cp "$DEB" "$container:/tmp/ratelimitd.deb"
in_container sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/ratelimitd.deb' \
  >"$work/apt" 2>&1 || { cat "$work/apt"; fail "apt-get install ./ratelimitd.deb failed under systemd"; }
unit_state() { in_container systemctl show -p "$1" --value ratelimitd.service; }
for _ in $(seq 100); do [ "$(unit_state ActiveState)" = active ] && break; sleep 0.1; done
if [ "$(unit_state ActiveState)" != active ]; then
  in_container systemctl status --no-pager ratelimitd.service || true
  in_container journalctl -u ratelimitd.service --no-pager | tail -20 || true
  fail "the postinst did not leave ratelimitd.service active"
fi
ok "apt install under systemd: the postinst enabled ($(unit_state UnitFileState)) and started the unit"
# STATUS= comes with READY=1, so this text proves the notification got through.
status_text=$(unit_state StatusText)
case "$status_text" in serving*) ;; *) fail "no readiness notification (StatusText '$status_text')" ;; esac
ok "Type=notify: active after READY=1, status '$status_text'"
expect_status 200 "/readyz under systemd" "http://127.0.0.1:$port/readyz"
[ "$(unit_state User)" = ratelimitd ] || fail "the unit does not run as ratelimitd"
[ "$(in_container sh -c 'stat -c %U "/proc/$(systemctl show -p MainPID --value ratelimitd)"')" = ratelimitd ] ||
  fail "the server process is not the user ratelimitd's"
in_container rlctl user create carol >/dev/null || fail "rlctl user create under systemd"
ok "runs as ratelimitd in its sandbox; rlctl user create works"
in_container systemctl stop ratelimitd.service
[ "$(unit_state ExecMainStatus)" = 0 ] || fail "systemctl stop: exit status $(unit_state ExecMainStatus), not 0"
in_container journalctl -u ratelimitd.service --no-pager | grep -q 'SIGTERM received: stopping' ||
  fail "the journal has no 'SIGTERM received' line"
ok "systemctl stop: SIGTERM, exit 0"
