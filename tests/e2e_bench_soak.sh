#!/usr/bin/env bash
# e2e_bench_soak.sh — `continuo-bench soak` runs end to end on a short
# simulated span (72 s, a random model of the shipped shape unless the shipped
# model exists) and prints every figure as a `name: value unit` line, with no
# hanging note and events never out of order; the rotating recording it
# writes (one file: its period is an hour) loads back with `continuo tokens`.
# The real figures come from `continuo-bench soak --hours 24` (the soak is
# also a unit test: tests/test_soak.c, one simulated hour).
set -eu
build=${CONTINUO_BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nice "$build/bin/continuo-bench" soak --hours 0.02 --record-dir "$tmp/rec" > "$tmp/out" 2> "$tmp/err" || {
    cat "$tmp/err"; exit 1; }
cat "$tmp/out"
for name in simulated wall speed rss_start rss_end rss_max notes density_min density_max \
            longest_silence longest_repeat longest_note hanging_notes order_errors nan_resets \
            slides health_silence_responses health_loop_responses broken files_written; do
    grep -q "^$name: " "$tmp/out" || { echo "missing figure: $name"; exit 1; }
done
grep -qx "simulated: 0.02 h" "$tmp/out"
grep -qx "hanging_notes: 0" "$tmp/out"
grep -qx "order_errors: 0" "$tmp/out"
grep -qx "broken: 0" "$tmp/out"
grep -q "^notes: [1-9]" "$tmp/out"
n=0
for f in "$tmp"/rec/soak-*.mid; do
    "$build/bin/continuo" tokens "$f" > /dev/null
    n=$((n+1))
done
[ $n -ge 1 ] || { echo "no recording written"; exit 1; }
echo "bench soak ok ($n recording file(s))"
