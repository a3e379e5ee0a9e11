#!/usr/bin/env bash
# Writes /etc/default/ratelimitd from `ratelimitd --help`: every RL_* variable the server reads,
# commented out, with its description and default, so the file lists exactly what the binary
# accepts. VAR=VALUE arguments replace the default shown for VAR (the packaged paths: the unit
# sets RL_DATA_DIR, the logs belong in /var/log/ratelimitd); a VAR the binary does not read is
# left out.
#
# Usage: packaging/deb/env-file.sh RATELIMITD [VAR=VALUE...] > ratelimitd.default
set -euo pipefail
program=$1
shift
overrides=$(printf '%s\n' "$@")

cat <<'HEAD'
# Settings for ratelimitd.service, read by systemd (as root) before it starts the server.
# Each line is VARIABLE=value; the commented value is the default (for a log, the path the
# package suggests: the unit may write only there and in the data directory). After a change:
#   systemctl restart ratelimitd
# A command-line flag would win over its variable; the unit passes none.
# systemd reads this file as root: if you set RL_ADMIN_TOKEN here, chmod 0600 it.
HEAD

"$program" --help | awk -v overrides="$overrides" '
function trim(s) { sub(/^ +/, "", s); sub(/ +$/, "", s); return s }
function wrap(text,   n, words, i, line) {
    n = split(text, words, " "); line = "#"
    for (i = 1; i <= n; i++) {
        if (length(line) + 1 + length(words[i]) > 96) { print line; line = "#" }
        line = line " " words[i]
    }
    print line
}
function entry(   value) {
    if (var == "") return
    value = (var in given) ? given[var] : default_value
    print ""
    wrap(desc (flag != "" ? " (" flag ")" : ""))
    print "#" var "=" value
    var = ""; desc = ""; flag = ""; default_value = ""
}
BEGIN {
    n = split(overrides, lines, "\n")
    for (i = 1; i <= n; i++) if (lines[i] ~ /=/) {
        eq = index(lines[i], "="); given[substr(lines[i], 1, eq - 1)] = substr(lines[i], eq + 1)
    }
}
/^[A-Z][A-Z ]*$/ { entry(); section = $0; next }
# OPTIONS: "  --listen TEXT=0.0.0.0:8080 (Env:RL_LISTEN)", the description on the next lines.
section == "OPTIONS" && /^  -/ {
    entry()
    if (!match($0, /\(Env:[A-Z0-9_]+\)/)) next
    var = substr($0, RSTART + 5, RLENGTH - 6)
    split(trim($0), words, " "); flag = words[1]; sub(/,.*/, "", flag)
    if (match(words[2], /=/)) default_value = substr(words[2], RSTART + 1)
    if (length($0) > 34 && substr($0, 33, 2) == "  ") desc = trim(substr($0, 35))
    next
}
section == "OPTIONS" && var != "" && /^          / { desc = trim(desc " " trim($0)); next }
# ENVIRONMENT: "RL_ADMIN_TOKEN   the admin bearer token ...", continued by deeper lines.
section == "ENVIRONMENT" && /^    RL_[A-Z0-9_]+  / {
    entry()
    var = $1; desc = trim(substr(trim($0), length($1) + 1))
    next
}
section == "ENVIRONMENT" && var != "" && /^          / { desc = desc " " trim($0); next }
section == "ENVIRONMENT" { entry() }
END { entry() }
'
