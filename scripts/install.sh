#!/usr/bin/env bash
# make install: what the Debian package installs, for those who do not use
# packages, under PREFIX (default /usr/local), staged under DESTDIR if set:
#
#   PREFIX/lib/nginx/modules/ngx_http_mi_module.so
#   PREFIX/share/nginx/modules-available/mod-http-mi.conf   (load_module)
#   PREFIX/share/doc/libnginx-mod-http-mi/                  (docs, examples)
#   PREFIX/lib/systemd/system/nginx-mi-credentials.{path,service}
#
# Nothing is enabled: the last line printed says how.
#
#   install.sh DESTDIR PREFIX
set -euo pipefail

destdir=$1 prefix=$2
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

case $prefix in
    /*) ;;
    *) echo "install: PREFIX must be an absolute path, not \"$prefix\"" >&2
       exit 1 ;;
esac

root=$destdir$prefix
doc=$root/share/doc/libnginx-mod-http-mi
available=$root/share/nginx/modules-available

install -d -m 0755 "$root/lib/nginx/modules" "$available" "$doc/docs" \
    "$doc/examples" "$root/lib/systemd/system"

install -m 0644 build/ngx_http_mi_module.so "$root/lib/nginx/modules/"
printf 'load_module %s/lib/nginx/modules/ngx_http_mi_module.so;\n' \
    "$prefix" > "$available/mod-http-mi.conf"
chmod 0644 "$available/mod-http-mi.conf"

install -m 0644 README.md "$doc/"
install -m 0644 docs/*.md "$doc/docs/"
install -m 0644 conf/*.conf "$doc/examples/"
install -m 0644 systemd/nginx-mi-credentials.path \
    systemd/nginx-mi-credentials.service "$root/lib/systemd/system/"

echo "installed under ${destdir:+$destdir}$prefix; to load the module:"
echo "  ln -s $prefix/share/nginx/modules-available/mod-http-mi.conf" \
     "/etc/nginx/modules-enabled/50-mod-http-mi.conf"
