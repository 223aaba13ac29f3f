#!/usr/bin/env bash
# make deb: builds libnginx-mod-http-mi_<version>-<revision>_<arch>.deb with
# Debian's own tooling (dpkg-buildpackage, debhelper, dh-sequence-nginx),
# from the files of this checkout as they are now, and runs lintian on the
# result.  The version is debian/changelog's, as for the module itself
# (config reads it there).
#
# The source package is built in build/deb/ (an .orig.tar.gz of everything
# but debian/, and the tree unpacked next to it), so the checkout stays
# clean; the .deb is copied to build/.  Fails if lintian reports an error
# or a warning.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

logs=build/logs
out=build/deb
mkdir -p "$logs"

package=$(dpkg-parsechangelog -S Source)
deb_version=$(dpkg-parsechangelog -S Version)   # [epoch:]upstream-revision
deb_version=${deb_version#*:}                   # as in the .deb's name
version=${deb_version%-*}                       # the module's, the tarball's

rm -rf "$out"
mkdir -p "$out"

# What git would commit: tracked files still present, and new ones it does
# not ignore.  debian/ goes into the Debian tarball, the rest is upstream.
git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | sort -z > "$out/files"

grep -zv '^debian/' "$out/files" \
    | tar --create --null --files-from=- --sort=name --owner=0 --group=0 \
          --numeric-owner --mtime="@$(dpkg-parsechangelog -S Timestamp)" \
          --transform="s,^,$package-$version/," \
    | gzip -n > "$out/${package}_$version.orig.tar.gz"

tar -xzf "$out/${package}_$version.orig.tar.gz" -C "$out"
grep -z '^debian/' "$out/files" \
    | tar --create --null --files-from=- | tar -x -C "$out/$package-$version"

echo "deb: building ${package}_$deb_version (log: $logs/deb.log)"

if ! (cd "$out/$package-$version" && dpkg-buildpackage -us -uc) \
    > "$logs/deb.log" 2>&1
then
    tail -40 "$logs/deb.log"
    echo "deb: dpkg-buildpackage failed, see $logs/deb.log" >&2
    exit 1
fi

changes=$(ls "$out"/*.changes)
deb=$(ls "$out/${package}_${deb_version}_"*.deb)

# Errors and warnings fail; the informational tags are shown too.  Lintian
# unpacks what it checks, so it runs as nobody when this runs as root.
as_user=()
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    as_user=(runuser -u nobody -- env HOME=/tmp)
fi

echo "deb: lintian $(basename "$changes")"
if ! "${as_user[@]}" lintian --display-info --fail-on error,warning \
    "$changes" > "$logs/lintian.log" 2>&1
then
    cat "$logs/lintian.log"
    echo "deb: lintian reports errors or warnings" >&2
    exit 1
fi
sed 's/^/  /' "$logs/lintian.log"

cp "$deb" build/
echo "deb: build/$(basename "$deb")"
