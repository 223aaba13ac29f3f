#!/usr/bin/env bash
# Configures a private copy of Debian's nginx-dev sources in DIR with
# Debian's own flags (--with-compat: the module loads into Debian's nginx)
# and this module, so that "make -f objs/Makefile modules" builds it.
#
#   configure-nginx.sh DIR CC_OPT [LD_OPT]
set -euo pipefail

dir=$1 cc_opt=$2 ld_opt=${3:-}
top=$(cd "$(dirname "$0")/.." && pwd)
src=${NGINX_SRC:-/usr/share/nginx/src}

rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
cp -a "$src" "$dir"
cd "$dir"

. ./conf_flags

./configure "${NGX_CONF_FLAGS[@]}" --with-cc-opt="$cc_opt" \
    ${ld_opt:+--with-ld-opt="$ld_opt"} --add-dynamic-module="$top" \
    > configure.log 2>&1 || { cat configure.log; exit 1; }
