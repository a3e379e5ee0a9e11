#!/usr/bin/env bash
# `make deb`: a Release build of ratelimitd and rlctl in build-deb with Debian's hardening
# flags, then build-deb/ratelimitd_<version>_<arch>.deb made with dpkg-deb from the files in
# this directory. Needs only Debian packages (scripts/install-deps.sh); no network.
#
# Environment: BUILD (build directory, default build-deb), JOBS (default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
BUILD=${BUILD:-build-deb}
JOBS=${JOBS:-2}

say() { printf 'deb: %s\n' "$*"; }

# Full hardening (PIE, RELRO with BIND_NOW, stack protector, fortify), no debug info.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all DEB_CXXFLAGS_MAINT_STRIP=-g
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRL_BUILD_TESTS=OFF \
  -DCMAKE_CXX_FLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)" \
  -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)" >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target ratelimitd rlctl

# The upstream version is the binaries'; the changelog's top entry must name it.
version=$("$BUILD/ratelimitd" --version | awk '{print $2}')
deb_version=$(dpkg-parsechangelog -l "$here/changelog" -S Version)
if [ "${deb_version%-*}" != "$version" ]; then
  say "packaging/deb/changelog's newest entry is $deb_version but the binaries are $version: add an entry"
  exit 1
fi
date=$(date -u -d "$(dpkg-parsechangelog -l "$here/changelog" -S Date)" +%F)
arch=$(dpkg --print-architecture)

stage="$BUILD/deb-root"
rm -rf "$stage"
install -d -m 0755 "$stage/DEBIAN" "$stage/usr/share/man/man1" "$stage/usr/share/doc/ratelimitd" \
  "$stage/etc/default"
install -D -m 0755 -t "$stage/usr/bin" "$BUILD/ratelimitd" "$BUILD/rlctl"
strip --remove-section=.comment --remove-section=.note "$stage/usr/bin/ratelimitd" "$stage/usr/bin/rlctl"
for program in ratelimitd rlctl; do
  scripts/man-from-help.sh "$stage/usr/bin/$program" "$date" | gzip -9n >"$stage/usr/share/man/man1/$program.1.gz"
done
install -D -m 0644 "$here/ratelimitd.service" "$stage/lib/systemd/system/ratelimitd.service"
install -D -m 0644 "$here/logrotate" "$stage/etc/logrotate.d/ratelimitd"
# Defaults from the unit's Environment= lines, and the log paths logrotate covers.
mapfile -t unit_env < <(sed -n 's/^Environment=//p' "$here/ratelimitd.service")
"$here/env-file.sh" "$stage/usr/bin/ratelimitd" "${unit_env[@]}" \
  RL_ACCESS_LOG=/var/log/ratelimitd/access.log RL_AUDIT_LOG=/var/log/ratelimitd/audit.log \
  >"$stage/etc/default/ratelimitd"
chmod 0644 "$stage/etc/default/ratelimitd"
install -m 0644 "$here/copyright" "$stage/usr/share/doc/ratelimitd/copyright"
install -D -m 0644 "$here/lintian-overrides" "$stage/usr/share/lintian/overrides/ratelimitd"
gzip -9n <"$here/changelog" >"$stage/usr/share/doc/ratelimitd/changelog.Debian.gz"
chmod 0644 "$stage/usr/share/doc/ratelimitd/changelog.Debian.gz"

install -m 0755 -t "$stage/DEBIAN" "$here/postinst" "$here/prerm" "$here/postrm"
install -m 0644 "$here/conffiles" "$stage/DEBIAN/conffiles"

# The shared libraries the binaries link, as package names with minimum versions.
shlibs_dir=$(mktemp -d)
trap 'rm -rf "$shlibs_dir"' EXIT
mkdir "$shlibs_dir/debian"
printf 'Source: ratelimitd\n\nPackage: ratelimitd\nArchitecture: any\n' >"$shlibs_dir/debian/control"
stage_path=$(realpath "$stage")
depends=$(cd "$shlibs_dir" && dpkg-shlibdeps -O "$stage_path/usr/bin/ratelimitd" "$stage_path/usr/bin/rlctl" |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { say "dpkg-shlibdeps found no shared libraries"; exit 1; }

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$deb_version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  -e "s/@DEPENDS@/$depends/" "$here/control.in" >"$stage/DEBIAN/control"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"

deb="$BUILD/ratelimitd_${deb_version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
say "built $deb"
say "Depends: $depends, adduser"
