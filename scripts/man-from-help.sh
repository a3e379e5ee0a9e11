#!/usr/bin/env bash
# Turns a program's --help, which common/man_page.hpp lays out as a man page (NAME, SYNOPSIS,
# DESCRIPTION, OPTIONS, COMMANDS, then free-form sections), into roff for man(1), so the
# installed manual says exactly what --help says.
#
# Usage: scripts/man-from-help.sh PROGRAM [DATE] > program.1
#   DATE (YYYY-MM-DD) goes into the page header; default today.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 PROGRAM [DATE]" >&2; exit 2; }
program=$1
date=${2:-$(date -u +%F)}
name=$(basename "$program")
version=$("$program" --version | awk '{print $2}')

"$program" --help | awk -v name="$name" -v version="$version" -v date="$date" '
# Text for roff: backslashes printable, "-" a real minus (options copy and paste), no line
# read as a request.
function esc(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    if (s ~ /^[.\047]/) s = "\\&" s
    return s
}
function trim(s) { sub(/^ +/, "", s); sub(/ +$/, "", s); return s }
# "--listen TEXT=x (Env:RL_LISTEN)": the option names bold, the rest as it is.
function option_tag(s,   first, rest) {
    first = s; rest = ""
    if (match(s, / /)) { first = substr(s, 1, RSTART - 1); rest = substr(s, RSTART) }
    return "\\fB" esc(first) "\\fR" esc(rest)
}
# "user create NAME": command words bold, placeholders (upper case) italic.
function command_tag(s,   n, words, i, out) {
    n = split(s, words, " ")
    out = ""
    for (i = 1; i <= n; i++) {
        if (words[i] ~ /[A-Z]/) out = out "\\fI" esc(words[i]) "\\fR"
        else out = out "\\fB" esc(words[i]) "\\fR"
        if (i < n) out = out " "
    }
    return out
}
function close_section() { if (nofill) print ".fi"; nofill = 0 }
BEGIN {
    printf ".TH %s 1 \"%s\" \"%s %s\" \"User Commands\"\n", toupper(name), date, name, version
}
/^[A-Z][A-Z ]*$/ {
    close_section()
    section = $0
    print ".SH " section
    if (section != "NAME" && section != "SYNOPSIS" && section != "DESCRIPTION" &&
        section != "OPTIONS" && section != "COMMANDS") {
        print ".nf"; nofill = 1
    }
    blank = 0
    next
}
/^$/ { blank = 1; next }
section == "OPTIONS" || section == "COMMANDS" {
    indent = match($0, /[^ ]/) - 1
    if (indent == 2) {
        # A tag, with its description on the same line past column 34 when it fits there.
        tag = $0; text = ""
        if (section == "OPTIONS" && length($0) > 34 && substr($0, 33, 2) == "  ") {
            tag = substr($0, 1, 34); text = trim(substr($0, 35))
        }
        print ".TP"
        print (section == "OPTIONS") ? option_tag(trim(tag)) : command_tag(trim(tag))
        if (text != "") print esc(text)
    } else {
        print esc(trim($0))
    }
    blank = 0
    next
}
{
    line = $0
    sub(/^    /, "", line)
    if (blank) print (nofill ? ".sp" : ".PP")
    blank = 0
    if (section == "SYNOPSIS") { print esc(line); print ".br"; next }
    print esc(line)
}
END { close_section() }
'
