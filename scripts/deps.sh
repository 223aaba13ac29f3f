#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages the build and the tests need
# (or, with arguments, the packages named).  Does nothing (and asks no
# network) when they are all installed already.
set -eu

pkgs=(
    nginx nginx-dev            # the nginx we load into, its headers, configure
    libssl-dev libpcre2-dev zlib1g-dev
    gcc make clang libclang-rt-14-dev   # module, unit tests, libFuzzer
    libasan8 libubsan1                  # make asan: the module under ASan
    libcmocka-dev pkg-config            # C unit tests
    perl openssl curl                   # end-to-end tests, TLS test CA, demo
    wrk valgrind                        # make bench
)

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
