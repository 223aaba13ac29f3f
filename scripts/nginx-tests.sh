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
# NGINX_TESTS_FILES (globs) and NGINX_TESTS_JOBS (files run at once)
# change what runs and how.
set -euo pipefail

version=$1 nginx=$2 modules=$3 so=$4 suite_tgz=$5 out=$6
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=${NGINX_TESTS_JOBS:-4}
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
    local name=$1 globals=$2 http=$3 t0=$SECONDS summary
    summary=$(TEST_NGINX_GLOBALS=$globals TEST_NGINX_GLOBALS_HTTP=$http \
        perl "$top/scripts/nginx-tests.pl" run "$suite" "$out/$name" \
            "$jobs" $files)
    printf '%s %-4s %s (%d s)\n' "$version" "$name" "$summary" \
        $((SECONDS - t0))
}

run none "$globals" ''
run off "$loaded" ''
run on "$loaded" "$signing"

perl "$top/scripts/nginx-tests.pl" check "$version" \
    "$top/t/compat/nginx-tests-expected.txt" "$out"
