#!/usr/bin/env bash
# e2e_music.sh — continuo-music end to end without the data sets: a
# synthetic performance (one 2 s figure repeated for 20 s, made by
# `continuo tokens --decode`) continued by a random model (continuo-mkmodel).
# Checked: the run exits 0 and prints every figure; the real-vs-real overlaps
# are 1 (primer and real continuation are whole repeats of the same figure,
# so their histograms are proportional; tolerance: the 4 printed digits) and
# the real density ratio is 1; the JSON form parses (python3, when present)
# and holds the same values; the same seed gives the same figures; an SVG
# piano roll per file is written; bad options exit 2.
set -euo pipefail
build=${CONTINUO_BUILD:-build}
bin=$build/bin/continuo
music=$build/bin/continuo-music
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
unset CONTINUO_MODEL CONTINUO_DATA

figure="VELOCITY_20 NOTE_ON_60 NOTE_ON_64 TIME_SHIFT_50 NOTE_OFF_64 NOTE_ON_67
TIME_SHIFT_50 NOTE_OFF_67 NOTE_ON_72 TIME_SHIFT_50 NOTE_OFF_72 NOTE_ON_71
TIME_SHIFT_50 NOTE_OFF_71 NOTE_OFF_60"
for i in $(seq 10); do echo "$figure"; done > "$tmp/piece.txt"
"$bin" tokens --decode "$tmp/piece.txt" -o "$tmp/piece.mid"
"$build/bin/continuo-mkmodel" -o "$tmp/rand.bin" --dim 64 --layers 2 --heads 4 --hidden 128 \
  --seq-len 256 --seed 7 > /dev/null

run() {
  "$music" --model "$tmp/rand.bin" --accomp-files 0 --offset 0 --primer-seconds 4 --seconds 10 \
    --seed 5 "$@" "$tmp/piece.mid" "$tmp/piece.mid"
}
run --out "$tmp/rolls" > "$tmp/a.txt" 2> "$tmp/log" || { cat "$tmp/log"; fail "exit status"; }
cat "$tmp/a.txt"
value() { sed -n "s/^$1: \([^ ]*\).*/\1/p" "$2"; }
[ "$(value continue_files "$tmp/a.txt")" = 2 ] || fail "continue_files is not 2"
for f in pitch_class pitch ioi velocity length polyphony; do
  v=$(value "overlap_${f}_real_vs_real" "$tmp/a.txt")
  [ "$v" = 1 ] || fail "overlap_${f}_real_vs_real is '$v', expected 1"
  g=$(value "overlap_${f}_gen_vs_real" "$tmp/a.txt")
  awk -v g="$g" 'BEGIN { exit !(g == "nan" || (g >= 0 && g <= 1)) }' || fail "overlap_${f}_gen_vs_real '$g' outside [0, 1]"
done
[ "$(value density_ratio_real_median "$tmp/a.txt")" = 1 ] || fail "real density ratio is not 1"
for k in density_ratio_gen_median drift_gen_median velocity_shift_gen_mean polyphony_gen_mean \
         longest_repeat_gen_max longest_silence_gen_max; do
  [ -n "$(value $k "$tmp/a.txt")" ] || fail "no $k line"
done
[ -s "$tmp/rolls/continue-00.svg" ] && [ -s "$tmp/rolls/continue-01.svg" ] || fail "no piano rolls"
grep -q "</svg>" "$tmp/rolls/continue-00.svg" || fail "the piano roll is not a whole SVG"

run > "$tmp/b.txt" 2> /dev/null || fail "second run"
cmp -s "$tmp/a.txt" "$tmp/b.txt" || fail "same seed, different figures"

run --json > "$tmp/a.json" 2> /dev/null || fail "--json run"
if command -v python3 > /dev/null; then
  python3 - "$tmp/a.json" "$tmp/a.txt" <<'PY' || fail "JSON differs from the lines"
import json, sys
j = json.load(open(sys.argv[1]))
for line in open(sys.argv[2]):
    name, rest = line.split(":", 1)
    v = rest.split()[0]
    if v in ("nan", "inf", "-nan"):
        assert j[name] is None, name
    else:
        assert abs(j[name] - float(v)) <= 1e-3 * max(1.0, abs(float(v))), (name, j[name], v)
PY
fi

set +e
"$music" --seconds 3 > /dev/null 2> "$tmp/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "seconds" "$tmp/err" || fail "bad --seconds: status $rc"
echo "PASS e2e_music"
