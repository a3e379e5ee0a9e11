#!/bin/sh
# Prints ratelimitd.conf (next to this script) with its three ADDRESS lines filled in:
#
#   deploy/nginx/render.sh RATELIMITD APP LISTEN > /etc/nginx/conf.d/ratelimitd.conf
#   deploy/nginx/render.sh 127.0.0.1:8080 127.0.0.1:3000 80
#
# RATELIMITD is ratelimitd's --listen address, APP the application, LISTEN what nginx's `listen`
# gets (a port, or address:port). Exits 2 on bad usage, 1 if the template lacks a line it fills.
set -eu
if [ $# -ne 3 ]; then
  echo "usage: $0 RATELIMITD_HOST:PORT APP_HOST:PORT LISTEN" >&2
  exit 2
fi
template="$(dirname "$0")/ratelimitd.conf"
for line in 'server 127.0.0.1:8080;' 'server 127.0.0.1:3000;' 'listen 80;'; do
  [ "$(grep -c -F "$line" "$template")" = 1 ] || { echo "$0: $template has no single '$line'" >&2; exit 1; }
done
for value in "$1" "$2" "$3"; do
  case "$value" in
    *[!A-Za-z0-9.:_\[\]-]*|'') echo "$0: '$value' is not an address" >&2; exit 2 ;;
  esac
done
sed -e "s|server 127.0.0.1:8080;|server $1;|" \
    -e "s|server 127.0.0.1:3000;|server $2;|" \
    -e "s|listen 80;|listen $3;|" "$template"
