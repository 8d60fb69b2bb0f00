#!/usr/bin/env bash
# e2e_tokens.sh — `continuo tokens` round trips through real files:
# tokens -> MIDI (--decode) -> tokens gives the same list back (decoded times
# sit on the 10 ms grid and velocities mid-bin, so re-encoding is exact), on a
# hand-written list and, when the data is there, on ASAP performances (and
# one that ends with the pedal down keeps its last chord); and errors exit
# non-zero with one line on stderr.
set -euo pipefail
build=${CONTINUO_BUILD:-build}
bin=$build/bin/continuo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. hand-written tokens (canonical: what the encoder would write)
cat > "$tmp/a.txt" <<'EOF'
# a comment line, then tokens
VELOCITY_20
NOTE_ON_60 NOTE_ON_64
TIME_SHIFT_50
NOTE_OFF_60
VELOCITY_31
NOTE_ON_67
TIME_SHIFT_100
TIME_SHIFT_100
TIME_SHIFT_7
NOTE_OFF_64
NOTE_OFF_67
EOF
"$bin" tokens --decode "$tmp/a.txt" -o "$tmp/a.mid"
"$bin" tokens "$tmp/a.mid" > "$tmp/b.txt"
grep -v '^#' "$tmp/a.txt" | tr ' ' '\n' > "$tmp/a1.txt"
diff "$tmp/a1.txt" "$tmp/b.txt" || fail "hand-written tokens did not survive MIDI"
# stdin works, and nonsense is resolved (no hanging note: flush at the end)
printf 'NOTE_OFF_50 NOTE_ON_50 NOTE_ON_50 TIME_SHIFT_3\n' | "$bin" tokens --decode - -o "$tmp/c.mid"
"$bin" tokens "$tmp/c.mid" > "$tmp/c.txt"
[ "$(tr '\n' ' ' < "$tmp/c.txt")" = "VELOCITY_16 NOTE_ON_50 NOTE_OFF_50 NOTE_ON_50 TIME_SHIFT_3 NOTE_OFF_50 " ] \
  || fail "nonsense decode: $(tr '\n' ' ' < "$tmp/c.txt")"
echo "ok: hand-written round trip"

# 2. real performances: file -> tokens -> MIDI -> tokens, identical
data=${CONTINUO_DATA:-../shared/data}/asap
if [ -d "$data" ]; then
  for f in Bach/Fugue/bwv_846/Shi05M.mid Chopin/Ballades/1/Ali01.mid; do
    [ -f "$data/$f" ] || fail "$data/$f missing"
    "$bin" tokens "$data/$f" > "$tmp/r1.txt"
    "$bin" tokens --decode "$tmp/r1.txt" -o "$tmp/r.mid"
    "$bin" tokens "$tmp/r.mid" > "$tmp/r2.txt"
    cmp -s "$tmp/r1.txt" "$tmp/r2.txt" || fail "$f: tokens changed after a MIDI round trip"
    echo "ok: $f ($(wc -l < "$tmp/r1.txt") tokens)"
  done
  # a piece that ends with the pedal down (re-pressed after a lift to 63 at
  # 173.49 s while a chord is held; keys released under it): the chord
  # sounds to the last event, 174.51 s (1.02 s after the lift), not to the
  # lift's tick
  f=Schumann/Kreisleriana/1/ParkJH04M.mid
  [ -f "$data/$f" ] || fail "$data/$f missing"
  tail=$("$bin" tokens "$data/$f" | tail -n 9 | tr '\n' ' ')
  want="TIME_SHIFT_21 NOTE_OFF_86 TIME_SHIFT_100 TIME_SHIFT_2 NOTE_OFF_62 NOTE_OFF_65 NOTE_OFF_69"
  want="$want NOTE_OFF_74 NOTE_OFF_98 "
  [ "$tail" = "$want" ] \
    || fail "$f ends: $tail"
  echo "ok: $f ends with the chord held to the end"
else
  echo "skip: no data at $data"
fi

# 3. errors: non-zero exit, one line on stderr, nothing on stdout
expect_error() {
  local want=$1; shift
  set +e; "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?; set -e
  [ $rc -eq "$want" ] || fail "$* exited $rc, expected $want"
  [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$*: stderr is not one line: $(cat "$tmp/err")"
  [ ! -s "$tmp/out" ] || fail "$*: printed on stdout"
  echo "ok: $* -> $(cat "$tmp/err")"
}
head -c 200 /dev/urandom > "$tmp/garbage.mid"
echo "NOTE_ON_60 NOTE_ON_999" > "$tmp/bad.txt"
expect_error 1 "$bin" tokens "$tmp/missing.mid"
expect_error 1 "$bin" tokens "$tmp/garbage.mid"
expect_error 1 "$bin" tokens --decode "$tmp/bad.txt" -o "$tmp/x.mid"
# NaN would mean "never end notes": refused like every decimal option
echo "NOTE_ON_60" > "$tmp/one.txt"
expect_error 2 "$bin" tokens --decode "$tmp/one.txt" --max-note-len=nan -o "$tmp/x.mid"
# Token lists follow the MIDI reader's rules: a regular file or stdin, at most
# 64 MiB; /dev/zero must end at once with one line, not grow without end.
expect_error 1 timeout 20 "$bin" tokens --decode /dev/zero -o "$tmp/x.mid"
grep -q 'not a regular file' "$tmp/err" || fail "/dev/zero: $(cat "$tmp/err")"
expect_error 1 timeout 20 sh -c "\"\$1\" tokens --decode - -o \"\$2\" < /dev/zero" sh "$bin" "$tmp/x.mid"
grep -q 'stdin: more than 64 MiB' "$tmp/err" || fail "stdin from /dev/zero: $(cat "$tmp/err")"
expect_error 1 "$bin" tokens --decode "$tmp/missing.txt" -o "$tmp/x.mid"
expect_error 2 "$bin" tokens --decode "$tmp/a.txt"
expect_error 2 "$bin" tokens
expect_error 2 "$bin" tokens --no-such-option
[ ! -e "$tmp/x.mid" ] || fail "a failed decode left a file"
"$bin" tokens --help | grep -q -- --decode || fail "--help does not mention --decode"
# 4. continuo-mkdata on a small folder: splits by column name, --kind,
#    augmentation on train only, a bad file skipped and named
mk=$build/bin/continuo-mkdata
mkdir -p "$tmp/corpus/x"
cp "$tmp/a.mid" "$tmp/corpus/one.mid"
cp "$tmp/c.mid" "$tmp/corpus/x/two.mid"
cp "$tmp/a.mid" "$tmp/corpus/score.mid"
cp "$tmp/garbage.mid" "$tmp/corpus/bad.mid"
printf 'split\tkind\tpath\n' > "$tmp/corpus/S.tsv"
printf 'train\tperformance\tone.mid\ntrain\tperformance\tbad.mid\n' >> "$tmp/corpus/S.tsv"
printf 'test\tperformance\tx/two.mid\ntest\tscore\tscore.mid\n' >> "$tmp/corpus/S.tsv"
"$mk" -q --split-file "$tmp/corpus/S.tsv" --kind performance --transpose 1 --stretch 10 \
  "$tmp/corpus" "$tmp/data1" > "$tmp/mk.out" 2> "$tmp/mk.err"
cat "$tmp/mk.out"
grep -q '^train *1 files x 9 copies = 9 documents (0 dropped out of range), 27 notes' "$tmp/mk.out" \
  || fail "mkdata train line"
grep -q '^test *1 files, 2 notes, 7 tokens' "$tmp/mk.out" || fail "mkdata test line"
grep -q 'skipped 1 of 3 files' "$tmp/mk.err" && grep -q 'bad.mid' "$tmp/mk.err" \
  || fail "mkdata did not name the bad file: $(cat "$tmp/mk.err")"
# header: magic, version 1, vocabulary 1, n_tokens, n_docs; size 32 + 2 n_tokens
hdr() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
[ "$(head -c 8 "$tmp/data1/test.bin")" = CNTNTOK1 ] || fail "test.bin magic"
[ "$(hdr "$tmp/data1/test.bin" 16)" = 7 ] && [ "$(hdr "$tmp/data1/test.bin" 24)" = 1 ] \
  && [ "$(stat -c %s "$tmp/data1/test.bin")" = 46 ] || fail "test.bin header"
[ "$(hdr "$tmp/data1/train.bin" 24)" = 9 ] || fail "train.bin document count"
[ "$(od -An -t u2 -j 32 -N 2 "$tmp/data1/train.bin" | tr -d ' ')" = 1 ] || fail "first token not BOS"
# plain mode: every MIDI file under the folder into train.bin
"$mk" -q "$tmp/corpus" "$tmp/data2" > "$tmp/mk2.out" 2>/dev/null
grep -q '^train *3 files' "$tmp/mk2.out" || fail "plain mode: $(cat "$tmp/mk2.out")"
[ ! -e "$tmp/data2/test.bin" ] || fail "plain mode wrote a test split"
expect_error 2 "$mk" "$tmp/corpus"
expect_error 1 "$mk" "$tmp/missing" "$tmp/data3"
echo "ok: continuo-mkdata"
echo "e2e_tokens: all ok"
