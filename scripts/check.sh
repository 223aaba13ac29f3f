#!/usr/bin/env bash
# make check: the quick loop while changing the module.  The C unit tests
# (make unit, under ASan/UBSan) run in the background, their output in
# build/logs/check-unit.log, while prove runs the module's end-to-end
# tests (t/*.t, not t/dist/) CHECK_JOBS files at a time; each test has its
# own folder and its own ports (t/lib/MiTest.pm), so they run side by side.
# No ASan build of the module, no package, no fuzzing: make test does those.
#
#   check.sh TEST...       the .t files (the Makefile's E2E_TESTS)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

make=${MAKE:-make}
jobs=${CHECK_JOBS:-3}
log=build/logs/check-unit.log
start=$SECONDS

mkdir -p build/logs

# the unit tests in a process group of their own, stopped with this script
set -m
(
    t0=$SECONDS
    "$make" --no-print-directory unit
    rc=$?
    echo "== unit: $((SECONDS - t0)) s"
    exit $rc
) > "$log" 2>&1 &
unit=$!
set +m
trap 'kill -- -"$unit" 2>/dev/null' EXIT

prove -j"$jobs" "$@"
e2e=$?
e2e_time=$((SECONDS - start))

wait "$unit"
unit_rc=$?
trap - EXIT

passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" \
         | awk '{ s += $1 } END { print s + 0 }')
unit_time=$(sed -n 's/^== unit: \([0-9]*\) s$/\1/p' "$log")

echo
if [ "$unit_rc" -eq 0 ]; then
    echo "check: unit passed: $passed tests in $(grep -c '^== build' "$log")" \
         "programs (${unit_time:-?} s, $log)"
else
    echo "---- the unit tests failed; the end of $log:"
    tail -n 40 "$log"
    echo "----"
    echo "check: unit FAILED ($log)"
fi
echo "check: e2e $([ "$e2e" -eq 0 ] && echo passed || echo FAILED)" \
     "($e2e_time s, prove -j$jobs)"
echo "make check: $([ "$unit_rc" -eq 0 ] && [ "$e2e" -eq 0 ] \
                   && echo passed || echo FAILED) in $((SECONDS - start)) s"

[ "$unit_rc" -eq 0 ] && [ "$e2e" -eq 0 ]
