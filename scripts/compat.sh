#!/usr/bin/env bash
# make compat: the module against every nginx it supports.  Each release
# tarball in NGINX_TARBALLS is built twice (the module dynamic and built
# in) and the t/ suite runs against both; nginx's own tests (nginx-tests.sh)
# guard Debian's nginx and each dynamic build.  Ends with a matrix, and
# fails if anything failed.
#
# From the Makefile: NGINX_TARBALLS, NGINX_TESTS (the nginx-tests tarball
# for the releases), NGINX_TESTS_DEBIAN (the one for Debian's nginx),
# COMPAT_DIR (results, logs, nginx-tests), COMPAT_BUILD (the builds of this
# compiler), MODULE (the module for Debian's nginx), CC, NGX_CC_OPT and
# NGX_LD_OPT.
#
# Builds take both cores one at a time; meanwhile nginx-tests, which mostly
# wait on timers, run in the background, NGINX_TESTS_LANES nginx at a time
# (2: a lock each).  The last line counts the stages passed and failed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
results=$COMPAT_DIR/results
logs=$COMPAT_DIR/logs
lock=$COMPAT_DIR/nginx-tests.lock
lanes=${NGINX_TESTS_LANES:-2}
start=$SECONDS

rm -rf "$results" "$logs"
mkdir -p "$results" "$logs" "$COMPAT_BUILD"

# version, kind and stage name a result: "ok ..." or "FAILED ..."
record() {
    printf '%s\n' "$4" > "$results/$1-$2-$3"
    printf '[%s] %-7s %-8s %-12s %s\n' \
        "$(date -u -d @$((SECONDS - start)) +%M:%S)" "$1" "$2" "$3" "$4"
}

# Times a stage and records its result; its output goes to its log, and
# the log's last lines to the terminal when it fails.
stage() {
    local version=$1 kind=$2 name=$3 summary=$4; shift 4
    local log=$logs/$version-$kind-$name.log t0=$SECONDS status=ok what
    "$@" > "$log" 2>&1 || status=FAILED
    what=$("$summary" "$log")
    record "$version" "$kind" "$name" \
        "$status${what:+ $what} ($((SECONDS - t0)) s)"
    if [ $status = FAILED ]; then
        echo "    log: $log"
        grep -vE '^ *ok( |$)' "$log" | tail -n 60 | sed 's/^/    /'
    fi
}

no_summary() { :; }

# prove's closing lines: "408 tests" or "2/408 subtests failed: t/x.t ...";
# after a second run of the files that failed (t_suite), which passed or not
prove_summary() {
    local total failed files
    total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$1" \
            | head -n 1)
    failed=$(sed -n 's/.* \([0-9]*\/[0-9]*\) subtests failed.*/\1/p' "$1" \
             | head -n 1)
    files=$(awk '/^Test Summary Report/ {n++; on = n == 1; next}
                 /^Files=/ {on = 0}
                 on && /\.t / {printf "%s ", $1}' "$1")
    if grep -q '^== run again' "$1"; then
        if [ "$(grep '^Result:' "$1" | tail -n 1)" = 'Result: PASS' ]; then
            echo "${total:-0} tests; passed when run again: $files"
        else
            echo "${total:-0} tests, failed twice: $files"
        fi
    elif [ -n "$failed" ]; then
        echo "$failed failed: $files"
    elif grep -q '^Result: FAIL' "$1"; then
        echo "${total:-0} tests, failed: $files"
    else
        echo "${total:-0} tests"
    fi
}

# the last check's line, and the files run again before it
nginx_tests_summary() {
    local last again
    last=$(grep -E '^[0-9]+ differences' "$1" | tail -n 1)
    again=$(sed -n 's/.*: run again ([0-9]* of [0-9]*): //p' "$1" \
            | tr ' ' '\n' | sort -u | grep -c . || :)
    [ -n "$last" ] || { echo 'did not finish'; return; }
    [ "$again" -gt 0 ] && last="$last, $again files run again"
    echo "$last"
}

# The whole t/ suite, t/dist/ with it (its tests of Debian's own layout
# skip for the other builds, the package's without MI_DEB).  The files
# that fail run once more, alone, and the suite passes if they pass then;
# the matrix names them.  Beside the nginx-tests lanes the machine is
# loaded, and a test that waits for something (a log line, a counter) can
# lose a race now and then: that is a test to fix, not a failure of the
# module, but it must not hide either.
t_suite() {
    local nginx=$1 module=$2 state rc=0
    state=$(mktemp -d)
    (cd "$state" && MI_NGINX=$nginx MI_MODULE=$module \
        prove --state=save -r "$top/t/") || rc=$?
    if [ "$rc" != 0 ]; then
        echo "== run again, once: the files that failed"
        rc=0
        (cd "$state" && MI_NGINX=$nginx MI_MODULE=$module \
            prove --state=failed) || rc=$?
    fi
    rm -rf "$state"
    return "$rc"
}

# nginx-tests for one nginx, in the background, in the next lane; each in
# a process group of its own, stopped with everything in it if this script
# stops first.
background=()
trap 'for p in "${background[@]}"; do kill -- -"$p" 2>/dev/null || :; done' EXIT

nginx_tests() {
    local version=$1 lane=$(( ${#background[@]} % lanes ))
    set -m
    (
        exec 9> "$lock.$lane"
        flock 9
        stage "$version" dynamic nginx-tests nginx_tests_summary \
            bash "$top/scripts/nginx-tests.sh" "$@" \
                "$COMPAT_DIR/nginx-tests/$version"
    ) &
    background+=($!)
    set +m
}

# Debian's nginx and the module "make" built for it.
debian=$(/usr/sbin/nginx -v 2>&1 | sed 's/.*nginx\///')
record "$debian" dynamic build "ok (Debian's nginx, make)"
nginx_tests "$debian" /usr/sbin/nginx /usr/lib/nginx/modules \
    "$top/$MODULE" "$NGINX_TESTS_DEBIAN"
stage "$debian" dynamic t-suite prove_summary \
    t_suite /usr/sbin/nginx "$top/$MODULE"

versions=()
for tarball in $NGINX_TARBALLS; do
    version=$(basename "$tarball" .tar.gz)
    version=${version#nginx-}
    versions+=("$version")

    for kind in dynamic static; do
        dir=$COMPAT_BUILD/nginx-$version-$kind
        stage "$version" "$kind" build no_summary \
            bash "$top/scripts/compat-build.sh" "$tarball" "$kind" "$dir"
        grep -q '^ok' "$results/$version-$kind-build" || continue

        module=$dir/objs/ngx_http_mi_module.so
        [ "$kind" = dynamic ] || module=static
        stage "$version" "$kind" t-suite prove_summary \
            t_suite "$dir/objs/nginx" "$module"
        if [ "$kind" = dynamic ]; then
            nginx_tests "$version" "$dir/objs/nginx" "$dir/objs" \
                "$module" "$NGINX_TESTS"
        fi
    done
done

wait

echo
format='%-8s %-8s %-26s %-34s %s\n'
printf "$format" nginx kind build 't/ suite' nginx-tests
rc=0
for version in "$debian" "${versions[@]}"; do
    for kind in dynamic static; do
        [ -f "$results/$version-$kind-build" ] || continue
        row=()
        for name in build t-suite nginx-tests; do
            row+=("$(cat "$results/$version-$kind-$name" 2>/dev/null \
                     || echo -)")
        done
        case "${row[*]}" in *FAILED*) rc=1 ;; esac
        printf "$format" "$version" "$kind" "${row[@]}"
    done
done
echo
echo "make compat: $((SECONDS - start)) s"
echo "compat: $(grep -l '^ok' "$results"/* | wc -l) passed," \
    "$(grep -l '^FAILED' "$results"/* | wc -l) failed"
exit $rc
