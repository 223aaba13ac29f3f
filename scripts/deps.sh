#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages the build and the tests need
# (or, with arguments, the packages named).  Does nothing (and asks no
# network) when they are all installed already.
set -eu

pkgs=(
    nginx nginx-dev            # the nginx we load into, its headers, configure
    # the dynamic modules Debian's nginx was configured with: nginx-tests
    # loads them all into every configuration it writes (make compat)
    libnginx-mod-http-geoip libnginx-mod-http-image-filter
    libnginx-mod-http-perl libnginx-mod-http-xslt-filter
    libnginx-mod-mail libnginx-mod-stream libnginx-mod-stream-geoip
    libssl-dev libpcre2-dev zlib1g-dev
    gcc make clang libclang-rt-14-dev   # module, unit tests, libFuzzer
    dpkg-dev binutils                   # Debian's hardening flags, readelf
    libasan8 libubsan1                  # make asan: the module under ASan
    libcmocka-dev pkg-config            # C unit tests
    perl openssl curl                   # end-to-end tests, TLS test CA, demo
    # the clients nginx-tests needs for its SSL, WebSocket and FastCGI tests
    libio-socket-ssl-perl libprotocol-websocket-perl libfcgi-perl
    wrk valgrind                        # make bench
    prometheus                          # promtool: the metrics exposition
    debhelper dpkg-dev lintian          # make deb: dh-sequence-nginx is nginx-dev
    yamllint libio-pty-perl             # manifest checks, make run's Ctrl-C test
)

# npm installs the Kubernetes schema package into build/ (make k8s-tools);
# Debian's npm, unless a node with its own npm is installed already.
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

# "deps.sh PKG...": those packages instead (make bench's own, for one)
[ $# -gt 0 ] && pkgs=("$@")

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
        | grep -q 'install ok installed'
    then
        missing+=("$p")
    fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}; run 'make deps' as root" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Debian would start the packaged nginx on port 80 at install; nothing here
# uses it, so services are not started while these packages go in.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    own_policy=1
fi
trap '[ -n "$own_policy" ] && rm -f "$policy"' EXIT

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
