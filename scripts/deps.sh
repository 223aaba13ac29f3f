#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages a target needs, by group:
#
#   deps.sh GROUP...       the packages of those groups
#   deps.sh                every group (make deps)
#
# Each make target asks for the groups of what it runs, so "make" installs
# only what building the module takes, and "make e2e" no node tools.  Does
# nothing (and asks no network) when they are all installed already.
set -eu

# The groups: what each target runs, read from its recipe and its tests.
declare -A group=(
    # make, make module: Debian's nginx, its configure and headers, and the
    # libraries the module's configure checks for and links; Debian's
    # hardening flags (dpkg-buildflags)
    [build]='nginx nginx-dev libssl-dev libpcre2-dev zlib1g-dev
             gcc make dpkg-dev'
    # make unit: the C unit tests, built with clang under ASan/UBSan (the
    # sanitizer runtimes are only a recommendation of clang's)
    [unit]='clang libclang-rt-14-dev libcmocka-dev
            libssl-dev libpcre2-dev make'
    # make fuzz, fuzz-smoke: libFuzzer is clang's runtime too
    [fuzz]='clang libclang-rt-14-dev libssl-dev libpcre2-dev make'
    # make run: the bundled mock gateway, and the curl it prints
    [run]='perl curl'
    # make e2e, make check: t/*.t (Perl's own modules only), the mocks,
    # curl (HTTP/2 requests), openssl (the TLS test CA), readelf
    # (t/095-hardening.t), promtool (t/120-metrics.t), wrk (the Server
    # Role's load test, t/311-server-role-load.t)
    [e2e]='perl curl openssl binutils prometheus wrk'
    # make asan: the module under gcc's ASan and UBSan, t/*.t again
    [asan]='gcc libasan8 libubsan1'
    # make dist-check: t/dist/*.t, the README's make run (its Ctrl-C in a
    # pseudo-terminal), the manifests (yamllint; the schemas: k8s below);
    # pgrep, for the package's test (make test's package stage); promtool
    # for deploy/prometheus/ (t/dist/345-kubernetes-pod.t), which also
    # runs kubectl kustomize where kubectl is installed (not a Debian 12
    # package: skipped without it)
    [dist]='perl make yamllint libio-pty-perl procps prometheus'
    # make k8s-tools: npm installs the Kubernetes schema package into
    # build/ (added below unless a node with its own npm is installed)
    [k8s]=''
    # make deb: dpkg-buildpackage, dh-sequence-nginx (nginx-dev), lintian
    [deb]='debhelper dpkg-dev lintian nginx-dev libssl-dev'
    # make bench: wrk, callgrind, the njs signer and the micro-benchmark
    [bench]='wrk valgrind python3 libnginx-mod-http-js libsimdjson-dev g++'
    # make micro: the pure code beside simdjson
    [micro]='libsimdjson-dev g++'
    # make compat: nginx releases built from source run t/ (e2e and dist
    # above) and nginx-tests, which loads every dynamic module Debian's
    # nginx was configured with into each configuration it writes, and
    # whose SSL, WebSocket and FastCGI tests need these clients
    [compat]='libnginx-mod-http-geoip libnginx-mod-http-image-filter
              libnginx-mod-http-perl libnginx-mod-http-xslt-filter
              libnginx-mod-mail libnginx-mod-stream
              libnginx-mod-stream-geoip
              libio-socket-ssl-perl libprotocol-websocket-perl
              libfcgi-perl'
)

command -v npm >/dev/null 2>&1 || group[k8s]=npm

[ $# -gt 0 ] || set -- "${!group[@]}"

pkgs=()
for g in "$@"; do
    if [ -z "${group[$g]+set}" ]; then
        echo "deps: no group \"$g\" (groups: ${!group[*]})" >&2
        exit 2
    fi
    # shellcheck disable=SC2206  # the lists split on white space
    pkgs+=(${group[$g]})
done

[ ${#pkgs[@]} -eq 0 ] && exit 0

# one at a time: targets run side by side (make -j) install in turn
exec 9> /run/lock/mi-deps.lock
flock 9

# one dpkg-query for them all: "name status" for those dpkg knows
missing=()
installed=" $(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' \
                  "${pkgs[@]}" 2>/dev/null \
              | awk '$2 == "ii" { printf "%s ", $1 }')"
for p in $(printf '%s\n' "${pkgs[@]}" | sort -u); do
    case $installed in
        *" $p "*) ;;
        *) missing+=("$p") ;;
    esac
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

# A dpkg run cut short (the machine stopped in the middle of an install)
# leaves packages half configured, and apt-get refuses to start until dpkg
# has finished them; finish them first, services still held back.
if [ -n "$(dpkg --audit 2>/dev/null)" ]; then
    echo "deps: finishing an interrupted dpkg run (dpkg --configure -a)"
    dpkg --configure -a >/dev/null
fi

# apt run elsewhere meanwhile (another checkout's make) is waited for
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
