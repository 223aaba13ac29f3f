#!/usr/bin/env bash
# make test: every stage in turn, each one's output in build/logs/STAGE.log,
# then one short summary: each stage passed or failed, its counts and its
# seconds.  A stage that fails prints the tail of its log, and the others
# still run (the package stage needs the .deb of the deb stage).  The last
# line counts the stages, for CI: "N passed, N failed, N skipped"; the exit
# code is 1 if any stage failed.
#
# The stages: unit (C unit tests), fuzz-smoke, e2e (t/*.t, the module's
# end-to-end tests), asan (t/*.t with the module under ASan/UBSan), dist
# (t/dist/*.t: the docs, make run and install, systemd/, conf/, the
# Kubernetes manifests), deb (make deb and lintian) and package
# (t/dist/350-package.t: dpkg -i of that .deb on this machine, then
# dpkg --purge; t/dist/355-uninstall.t: the gateway enabled, removed and
# reinstalled, with nginx started in a namespace of its own).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

logs=build/logs
mkdir -p "$logs"

make=${MAKE:-make}
names=() results=() counts=() times=()
failed=()
deb=

# what a prove log says: tests, files, skipped files
prove_count() {
    local files tests skipped

    files=$(sed -n 's/^Files=\([0-9]*\), Tests=.*/\1/p' "$1" | tail -1)
    tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$1" | tail -1)
    skipped=$(grep -c ' skipped: ' "$1")

    echo "${tests:-0} tests in ${files:-0} file$([ "$files" = 1 ] || echo s)$(
        [ "$skipped" -eq 0 ] || echo " ($skipped skipped)")"
}

# a stage's counts, from its log
count() {
    local stage=$1 log=$2 n runs

    case $stage in
    unit)
        n=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" \
            | awk '{ s += $1 } END { print s + 0 }')
        echo "$n tests passed in $(grep -c '^== ' "$log") programs" ;;
    fuzz-smoke)
        runs=$(grep -aoE '^(Done [0-9]+ runs|#[0-9]+ +DONE)' "$log" \
               | grep -oE '[0-9]+' | awk '{ s += $1 } END { print s + 0 }')
        echo "$(grep -c '^== ' "$log") harnesses, $runs runs" ;;
    e2e|asan|dist|package)
        prove_count "$log" ;;
    deb)
        awk '/^  [EWI]: / { n[$1]++ }
             END { printf "lintian: %d errors, %d warnings, %d info\n",
                   n["E:"], n["W:"], n["I:"] }' "$log" ;;
    esac
}

stage() {
    local name=$1 start rc
    shift

    names+=("$name")
    start=$SECONDS
    echo "make test: $name ..."

    "$@" > "$logs/$name.log" 2>&1
    rc=$?

    times+=($((SECONDS - start)))
    counts+=("$(count "$name" "$logs/$name.log")")

    if [ $rc -eq 0 ]; then
        results+=(passed)
    else
        results+=(FAILED)
        failed+=("$name")
        echo "---- $name failed; the end of $logs/$name.log:"
        tail -n 30 "$logs/$name.log"
        echo "----"
    fi

    return $rc
}

skip() {
    names+=("$1") results+=(skipped) counts+=("$2") times+=(0)
}

total=$SECONDS

stage unit "$make" --no-print-directory unit
stage fuzz-smoke "$make" --no-print-directory fuzz-smoke
stage e2e "$make" --no-print-directory e2e
stage asan "$make" --no-print-directory asan
stage dist "$make" --no-print-directory dist-check

if stage deb "$make" --no-print-directory deb; then
    deb=$(sed -n 's/^deb: \(build\/.*\.deb\)$/\1/p' "$logs/deb.log")
fi

if [ -z "$deb" ]; then
    skip package 'no .deb: the deb stage failed'
elif [ "$(id -u)" -ne 0 ]; then
    skip package 'dpkg -i needs root'
else
    stage package env MI_DEB="$deb" prove t/dist/350-package.t \
        t/dist/355-uninstall.t
fi

echo
echo "make test: summary (logs in $logs/)"
for i in "${!names[@]}"; do
    printf '  %-11s %-8s %-48s %4ss\n' "${names[$i]}" "${results[$i]}" \
        "${counts[$i]}" "${times[$i]}"
done

if [ ${#failed[@]} -eq 0 ]; then
    echo "make test: passed in $((SECONDS - total))s"
else
    echo "make test: FAILED (${failed[*]}) in $((SECONDS - total))s"
fi

passed=0 skipped=0
for r in "${results[@]}"; do
    case $r in
    passed) passed=$((passed + 1)) ;;
    skipped) skipped=$((skipped + 1)) ;;
    esac
done

# the stages, as CI reads a test summary: the very last line
echo "$passed passed, ${#failed[@]} failed, $skipped skipped"

[ ${#failed[@]} -eq 0 ]
