#!/usr/bin/env bash
# make compat: builds one nginx release from its source tarball with this
# module, as a dynamic module (--with-compat --add-dynamic-module) or built
# in (--add-module), with what the t/ suite and nginx-tests need.
#
#   compat-build.sh TARBALL dynamic|static DIR
#
# CC, NGX_CC_OPT and NGX_LD_OPT (from the Makefile: Debian's hardening and
# our warnings) are the compiler and its flags.  A build is reused as
# configure-nginx.sh says; any compiler or linker warning fails it.
set -euo pipefail

tarball=$1 kind=$2 dir=$3
top=$(cd "$(dirname "$0")/.." && pwd)

case $kind in
    dynamic) module=(--with-compat --add-dynamic-module="$top") ;;
    static)  module=(--add-module="$top") ;;
    *)       echo "compat-build.sh: dynamic or static, not $kind" >&2; exit 2 ;;
esac

bash "$top/scripts/configure-nginx.sh" "$dir" "$tarball" \
    --with-cc="${CC:-cc}" --with-cc-opt="$NGX_CC_OPT" \
    --with-ld-opt="$NGX_LD_OPT" \
    --with-debug --with-threads --with-pcre-jit \
    --with-http_ssl_module --with-http_v2_module --with-http_realip_module \
    --with-http_auth_request_module --with-http_sub_module \
    --with-http_addition_module --with-http_slice_module \
    --with-http_stub_status_module \
    --with-stream --with-stream_ssl_module --with-stream_realip_module \
    "${module[@]}"

make -C "$dir" -j2 -f objs/Makefile > "$dir/make.log" 2>&1 \
    || { tail -n 30 "$dir/make.log"; exit 1; }

# the next run compiles the module again, so its warnings show again
if grep -i 'warning:' "$dir/make.log"; then
    rm -f "$dir/.mi-sources"
    exit 1
fi
