#!/usr/bin/env bash
# e2e_alsa.sh — `continuo jam --alsa` end to end.
#  - Without /dev/snd/seq (this machine, CI): it fails at once with ONE line on
#    stderr naming the ALSA sequencer and /dev/snd/seq, nothing on stdout, exit 1
#    (also with a model that exists, and whatever the preset); usage errors exit 2;
#    --alsa --help exits 0 and lists the ALSA options.
#  - With /dev/snd/seq (a real machine): a 3 s solo jam with a random model and
#    no audio exits 0, shows up in `aconnect -l` as 'continuo' with midi_in and
#    midi_out while it runs, and leaves a .mid that `continuo tokens` reads.
# Everything above the libasound calls is tested without a device by
# tests/test_pump.c.
set -eu
build=${CONTINUO_BUILD:-build}
bin="$build/bin/continuo"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$build/bin/continuo-mkmodel" -o "$tmp/m.bin" --dim 32 --layers 2 --heads 4 --hidden 64 \
    --seq-len 256 --seed 3 2>/dev/null

# help and usage
"$bin" jam --alsa --help > "$tmp/help.txt"
for opt in --connect-in --connect-out --record-dir --keep-files --audio-device; do
    grep -q -- "$opt" "$tmp/help.txt" || { echo "--alsa --help lacks $opt"; exit 1; }
done
set +e
"$bin" jam --alsa --no-such-option > "$tmp/out" 2> "$tmp/err"; rc=$?
set -e
[ $rc -eq 2 ] || { echo "bad option: exit $rc, expected 2"; exit 1; }
[ "$(wc -l < "$tmp/err")" -eq 1 ] || { echo "bad option: expected one line"; cat "$tmp/err"; exit 1; }

if [ ! -e /dev/snd/seq ]; then
    for preset in duet solo daw; do
        set +e
        "$bin" jam --alsa --preset "$preset" --model "$tmp/m.bin" --duration 5 \
            > "$tmp/out" 2> "$tmp/err"; rc=$?
        set -e
        echo "preset $preset: exit $rc: $(cat "$tmp/err")"
        [ $rc -eq 1 ] || { echo "expected exit 1 without /dev/snd/seq, got $rc"; exit 1; }
        [ "$(wc -l < "$tmp/err")" -eq 1 ] || { echo "expected one line on stderr"; cat "$tmp/err"; exit 1; }
        grep -q "ALSA sequencer" "$tmp/err"
        grep -q "/dev/snd/seq is missing" "$tmp/err"
        [ ! -s "$tmp/out" ] || { echo "expected nothing on stdout"; cat "$tmp/out"; exit 1; }
    done
    echo "no /dev/snd/seq here: the failure path is checked; the live path needs a real machine"
    exit 0
fi

# A machine with an ALSA sequencer.
"$bin" jam --alsa --preset solo --model "$tmp/m.bin" --no-audio --duration 3 \
    --record "$tmp/jam.mid" > "$tmp/out" 2> "$tmp/err" &
pid=$!
sleep 1.5
if command -v aconnect >/dev/null; then
    aconnect -l > "$tmp/aconnect.txt" || true
    grep -q "'continuo'" "$tmp/aconnect.txt" || { echo "aconnect -l does not list continuo"; cat "$tmp/aconnect.txt"; exit 1; }
    grep -q "'midi_in" "$tmp/aconnect.txt"
    grep -q "'midi_out" "$tmp/aconnect.txt"
fi
wait $pid
cat "$tmp/out"
grep -q "^notes_out: [1-9]" "$tmp/out"
grep -qx "late_events: 0" "$tmp/out"
"$bin" tokens "$tmp/jam.mid" > /dev/null
echo "ALSA jam ok"
