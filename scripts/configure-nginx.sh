#!/usr/bin/env bash
# Configures a private copy of an nginx source tree in DIR, with ARGS, so
# that "make -f objs/Makefile" in DIR builds nginx and this module.
#
#   configure-nginx.sh DIR SOURCE ARGS...
#
# SOURCE is a folder (Debian's nginx-dev sources, or any nginx source tree)
# or a release tarball.  A tree with Debian's conf_flags is configured with
# them first, as Debian's nginx was (--with-compat among them: the module
# loads into that nginx).  DIR is kept while the source, the arguments, the
# module's config file and debian/changelog (config reads the version there)
# are the same; when any of the module's C files changed since the last
# build, its object files are removed so that they all compile again
# (nginx's Makefile knows only the files config names).
set -euo pipefail

dir=$1 src=$2
shift 2
top=$(cd "$(dirname "$0")/.." && pwd)

if [ -f "$src/conf_flags" ]; then
    . "$src/conf_flags"
    set -- "${NGX_CONF_FLAGS[@]}" "$@"
fi

if [ -d "$src" ]; then
    origin=$(cd "$src" && pwd)
else
    origin=$(sha256sum < "$src")
fi
stamp="$origin $(cat "$top/config" "$top/debian/changelog" | sha256sum) $*"

if [ "$(cat "$dir/.mi-configured" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ -d "$src" ]; then
        cp -a "$src/." "$dir"
    else
        tar xzf "$src" -C "$dir" --strip-components=1
    fi

    # a release tarball has ./configure; a snapshot of the repository
    # has only auto/configure, run from the top folder all the same
    configure=./configure
    [ -x "$dir/configure" ] || configure=auto/configure

    (cd "$dir" && "$configure" "$@") > "$dir/configure.log" 2>&1 \
        || { cat "$dir/configure.log"; exit 1; }
    printf '%s\n' "$stamp" > "$dir/.mi-configured"
fi

# the module's C files wherever they are, but the tests', fuzzers' and
# benchmarks' own
sources=$(cd "$top" \
          && find . \( -path ./build -o -path ./t -o -path ./fuzz \
                       -o -path ./bench -o -path ./.git \) -prune \
                    -o -name '*.[ch]' -print \
             | LC_ALL=C sort | xargs cat config | sha256sum)
if [ "$(cat "$dir/.mi-sources" 2>/dev/null)" != "$sources" ]; then
    find "$dir/objs/addon" -name '*.o' -delete
    printf '%s\n' "$sources" > "$dir/.mi-sources"
fi
