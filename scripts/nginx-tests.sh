#!/usr/bin/env bash
# nginx's own tests as a guard, for one nginx: the chosen files of the
# nginx-tests snapshot run three times, then compared (nginx-tests.pl):
#   none  without the module;
#   off   the module loaded and off: the same results, test for test;
#   on    mi_sign on at http level, signing everything (mi_validate off):
#         only the differences t/compat/nginx-tests-expected.txt lists.
#
#   nginx-tests.sh VERSION NGINX MODULES_DIR MODULE_SO SUITE_TARBALL OUT
#
# A file whose outcomes differ where they should not runs again, in all
# three ways, up to NGINX_TESTS_RETRIES times (2): nginx's tests lean on
# timing, and a busy machine fails some of them now and then.  Its last
# three runs count; crashes and alerts of any run still count.
#
# NGINX_TESTS_FILES (globs) and NGINX_TESTS_JOBS (files run at once)
# change what runs and how.
set -euo pipefail

version=$1 nginx=$2 modules=$3 so=$4 suite_tgz=$5 out=$6
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=${NGINX_TESTS_JOBS:-4}
retries=${NGINX_TESTS_RETRIES:-2}
globs=${NGINX_TESTS_FILES:-proxy*.t body*.t h2*.t http2*.t headers*.t
    mirror*.t auth_request*.t limit_req*.t ssi*.t rewrite*.t return*.t}

mkdir -p "$out"
out=$(cd "$out" && pwd)
suite=$out/suite
rm -rf "$suite"
mkdir -p "$suite"
tar xzf "$suite_tgz" -C "$suite" --strip-components=1

files=$(cd "$suite" && shopt -s nullglob && printf '%s\n' $globs | sort -u)

secret=$out/mi.secret
head -c 32 /dev/urandom | base64 > "$secret"
chmod 600 "$secret"

export TEST_NGINX_BINARY=$nginx TEST_NGINX_MODULES=$modules
# as root, workers must run as root to read the test folders
globals='user root;'
loaded="$globals load_module $so;"
signing="mi_sign on; mi_validate off; mi_access_key AKTEST;
    mi_secret_key_file $secret;"

run() {
    local name=$1 dir=$2 globals=$3 http=$4 t0=$SECONDS summary
    summary=$(TEST_NGINX_GLOBALS=$globals TEST_NGINX_GLOBALS_HTTP=$http \
        perl "$top/scripts/nginx-tests.pl" run "$suite" "$dir" \
            "$jobs" $files)
    printf '%s %-4s %s (%d s)\n' "$version" "$name" "$summary" \
        $((SECONDS - t0))
}

all_three() {
    local dir=$1
    run none "$dir/none" "$globals" ''
    run off "$dir/off" "$loaded" ''
    run on "$dir/on" "$loaded" "$signing"
}

check() {
    perl "$top/scripts/nginx-tests.pl" check "$version" \
        "$top/t/compat/nginx-tests-expected.txt" "$out"
}

all_three "$out"

for ((try = 1; ; try++)); do
    check && exit 0
    [ "$try" -le "$retries" ] && [ -s "$out/retry.txt" ] || exit 1

    files=$(cat "$out/retry.txt")
    echo "$version: run again ($try of $retries):" $files
    all_three "$out/again"
    for name in none off on; do
        perl "$top/scripts/nginx-tests.pl" merge "$out/$name" \
            "$out/again/$name"
    done
done
