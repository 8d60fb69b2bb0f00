#!/usr/bin/env bash
# e2e_continue.sh — `continuo continue` end to end with a random model
# (continuo-mkmodel): a primer made by `continuo tokens --decode`, a
# continuation written as MIDI and WAV, checked by other programs
# (`continuo tokens` for parsing, and a MIDI / WAV reader in Python written
# here when python3 is present): more notes than the primer, the model on its
# own channel after the primer, every note ended, the continuation as long as
# asked, same seed -> same file, the WAV non-silent where the model plays;
# and bad input (missing / garbage MIDI, bad model, missing SoundFont, bad
# options) exits non-zero with one line on stderr.
set -euo pipefail
build=${CONTINUO_BUILD:-build}
bin=$build/bin/continuo
mkmodel=$build/bin/continuo-mkmodel
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
unset CONTINUO_MODEL CONTINUO_SOUNDFONT

# ---- a primer: two bars of chords and a melody, as token names -------------
cat > "$tmp/primer.txt" <<'EOF'
VELOCITY_20 NOTE_ON_48 NOTE_ON_64 NOTE_ON_67
TIME_SHIFT_50 NOTE_OFF_64 NOTE_ON_72
TIME_SHIFT_50 NOTE_OFF_72 VELOCITY_18 NOTE_ON_74
TIME_SHIFT_50 NOTE_OFF_74 NOTE_ON_76
TIME_SHIFT_50 NOTE_OFF_76 NOTE_OFF_48 NOTE_OFF_67
VELOCITY_22 NOTE_ON_53 NOTE_ON_65 NOTE_ON_69
TIME_SHIFT_50 NOTE_ON_77
TIME_SHIFT_50 NOTE_OFF_77 NOTE_ON_76
TIME_SHIFT_50 NOTE_OFF_76 NOTE_ON_74
TIME_SHIFT_50 NOTE_OFF_74 NOTE_OFF_53 NOTE_OFF_65 NOTE_OFF_69
EOF
"$bin" tokens --decode "$tmp/primer.txt" -o "$tmp/primer.mid"
primer_notes=$("$bin" tokens "$tmp/primer.mid" | grep -c '^NOTE_ON_')
[ "$primer_notes" -eq 12 ] || fail "primer has $primer_notes notes, expected 12"

# ---- a small random model (2 layers, context 128: the 55-token primer fits) --
"$mkmodel" -o "$tmp/rand.bin" --dim 64 --layers 2 --heads 4 --hidden 128 --seq-len 128 --seed 7 \
  > /dev/null

seconds=8
"$bin" continue "$tmp/primer.mid" -o "$tmp/out.mid" --seconds $seconds --model "$tmp/rand.bin" \
  --seed 42 --temperature 1.0 --top-p 0.98 --wav "$tmp/out.wav" 2> "$tmp/log" \
  || { cat "$tmp/log"; fail "continue exited non-zero"; }
cat "$tmp/log"
grep -q "wrote $tmp/out.mid" "$tmp/log" || fail "no summary line"

# the output parses (another program reads it) and has more notes
"$bin" tokens "$tmp/out.mid" > "$tmp/out.txt" || fail "continue's output does not load"
out_notes=$(grep -c '^NOTE_ON_' "$tmp/out.txt")
[ "$out_notes" -gt "$primer_notes" ] || fail "output has $out_notes notes, primer $primer_notes"
echo "ok: $out_notes notes in the output, $primer_notes in the primer"

# same seed -> the same file; the seed matters
"$bin" continue "$tmp/primer.mid" -o "$tmp/again.mid" --seconds $seconds --model "$tmp/rand.bin" \
  --seed 42 --temperature 1.0 --top-p 0.98 2> /dev/null
cmp -s "$tmp/out.mid" "$tmp/again.mid" || fail "same seed gave a different file"
# the model found through $CONTINUO_MODEL, a long continuation (the cache
# slides: 60 s of a random model is far more than 128 tokens), greedy
CONTINUO_MODEL="$tmp/rand.bin" "$bin" continue "$tmp/primer.mid" -o "$tmp/long.mid" \
  --seconds 60 --seed 1 --top-k 20 --min-p 0.01 2> "$tmp/long.log" \
  || { cat "$tmp/long.log"; fail "long continuation via \$CONTINUO_MODEL failed"; }
long_tokens=$(sed -n 's/.*: \([0-9]*\) tokens in .*/\1/p' "$tmp/long.log")
[ "${long_tokens:-0}" -gt 128 ] || fail "long run generated ${long_tokens:-0} tokens, not past the context"
"$bin" continue "$tmp/primer.mid" -o "$tmp/greedy.mid" --seconds 3 --model "$tmp/rand.bin" \
  --temperature 0 2> /dev/null || fail "--temperature 0 failed"
echo "ok: deterministic, \$CONTINUO_MODEL, $long_tokens tokens past a 128-token context, greedy"

# ---- independent readers (Python), when present ------------------------------
if command -v python3 > /dev/null; then
  python3 - "$tmp/out.mid" "$tmp/out.wav" $seconds "$tmp/long.mid" <<'EOF'
import struct, sys, wave, math

def read_smf(path):
    """Notes of a Standard MIDI File: (channel, key, on_s, off_s), plus
    problems. Tempo from the conductor track (a single tempo expected)."""
    data = open(path, 'rb').read()
    assert data[:4] == b'MThd', 'not an SMF'
    fmt, ntrk, div = struct.unpack('>HHH', data[8:14])
    assert not div & 0x8000, 'SMPTE division'
    pos, tracks = 8 + struct.unpack('>I', data[4:8])[0], []
    for _ in range(ntrk):
        assert data[pos:pos + 4] == b'MTrk'
        n = struct.unpack('>I', data[pos + 4:pos + 8])[0]
        tracks.append(data[pos + 8:pos + 8 + n]); pos += 8 + n
    evs, tempo = [], 500000
    for t in tracks:
        i, tick, status = 0, 0, 0
        while i < len(t):
            v = 0
            while True:
                b = t[i]; i += 1; v = (v << 7) | (b & 0x7f)
                if not b & 0x80: break
            tick += v
            b = t[i]
            if b & 0x80: status = b; i += 1
            if status == 0xff:
                typ = t[i]; i += 1
                ln = 0
                while True:
                    c = t[i]; i += 1; ln = (ln << 7) | (c & 0x7f)
                    if not c & 0x80: break
                if typ == 0x51: tempo = int.from_bytes(t[i:i + 3], 'big')
                i += ln
            elif status in (0xf0, 0xf7):
                ln = 0
                while True:
                    c = t[i]; i += 1; ln = (ln << 7) | (c & 0x7f)
                    if not c & 0x80: break
                i += ln
            else:
                hi = status & 0xf0
                nd = 1 if hi in (0xc0, 0xd0) else 2
                d = t[i:i + nd]; i += nd
                evs.append((tick, status & 0x0f, hi, d))
    sec = tempo / 1e6 / div
    evs.sort(key=lambda e: e[0])  # stable: file order within a tick
    on, notes, problems = {}, [], []
    for tick, ch, hi, d in evs:
        if hi == 0x90 and d[1] > 0:
            if (ch, d[0]) in on: problems.append('re-struck while sounding: ch %d key %d' % (ch + 1, d[0]))
            on[(ch, d[0])] = tick * sec
        elif hi in (0x80, 0x90):
            if (ch, d[0]) not in on: problems.append('note-off of a silent key: ch %d key %d at %.3f' % (ch + 1, d[0], tick * sec))
            else: notes.append((ch, d[0], on.pop((ch, d[0])), tick * sec))
    for (ch, k), t0 in on.items(): problems.append('never ended: ch %d key %d from %.3f' % (ch + 1, k, t0))
    return notes, problems

mid, wav, seconds, long_mid = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
for path in (mid, long_mid):
    notes, problems = read_smf(path)
    if problems: sys.exit('FAIL: %s: %s' % (path, '; '.join(problems[:5])))
    zero = [n for n in notes if n[0] != 0 and n[3] <= n[2]]
    if zero: sys.exit('FAIL: %s: zero-length model notes: %s' % (path, zero[:3]))
notes, _ = read_smf(mid)
chans = sorted({n[0] for n in notes})
if len(chans) != 2: sys.exit('FAIL: expected primer and model on two channels, got %s' % chans)
primer = [n for n in notes if n[0] == 0]
model = [n for n in notes if n[0] != 0]
primer_end = max(n[3] for n in primer)
if not model: sys.exit('FAIL: no model notes')
first, last = min(n[2] for n in model), max(n[3] for n in model)
if first < primer_end - 0.006: sys.exit('FAIL: model note at %.3f before the primer ends (%.3f)' % (first, primer_end))
if last > primer_end + seconds + 0.011: sys.exit('FAIL: model note ends at %.3f, past %.3f + %g s' % (last, primer_end, seconds))
if max(n[3] - n[2] for n in model) > 8.0 + 1e-3: sys.exit('FAIL: a model note is longer than 8 s')
keys = [n[1] for n in model]
if min(keys) < 21 or max(keys) > 108: sys.exit('FAIL: model key outside 21..108')
print('ok: MIDI read back: %d primer notes (channel 1, end %.2f s), %d model notes (channel %d, %.2f..%.2f s), all ended'
      % (len(primer), primer_end, len(model), chans[1] + 1, first, last))

w = wave.open(wav, 'rb')
assert w.getnchannels() == 2 and w.getsampwidth() == 2 and w.getframerate() == 44100, 'WAV format'
rate, n = w.getframerate(), w.getnframes()
pcm = struct.unpack('<%dh' % (2 * n), w.readframes(n))
mono = [(pcm[2 * i] + pcm[2 * i + 1]) / 65536.0 for i in range(n)]
def rms(a, b):
    a, b = int(a * rate), min(int(b * rate), n)
    return math.sqrt(sum(x * x for x in mono[a:b]) / max(1, b - a))
end = max(n_[3] for n_ in notes)
# length: the last event plus the 2 s tail, to a frame
if abs(n - round((end + 2.0) * rate)) > 1: sys.exit('FAIL: WAV has %d frames, expected %d' % (n, round((end + 2.0) * rate)))
# non-silent where model notes sound alone (after the primer's release):
# RMS over the model's sounding spans above -60 dBFS
spans = [(max(a, primer_end + 1.0), b) for (_, _, a, b) in model if b > primer_end + 1.0]
tot = sum(b - a for a, b in spans if b > a)
energy = sum(rms(a, b) ** 2 * (b - a) for a, b in spans if b > a)
model_rms = math.sqrt(energy / tot) if tot > 0 else 0
all_rms = rms(0, n / rate)
print('ok: WAV %d frames, RMS %.4f overall, %.4f where model notes sound alone' % (n, all_rms, model_rms))
if all_rms < 3e-3: sys.exit('FAIL: WAV is silent (RMS %.2g)' % all_rms)
if tot > 0 and model_rms < 1e-3: sys.exit('FAIL: the model notes are silent in the WAV (RMS %.2g)' % model_rms)
EOF
else
  echo "note: python3 absent; MIDI/WAV read-back checks skipped"
  [ -s "$tmp/out.wav" ] || fail "no WAV written"
fi

# ---- bad input: non-zero exit, one line on stderr ----------------------------
expect_error() { # expect_error STATUS NEEDLE -- ARGS...
  local want=$1 needle=$2; shift 3
  set +e
  "$bin" continue "$@" > "$tmp/stdout" 2> "$tmp/stderr"
  local rc=$?
  set -e
  [ $rc -eq "$want" ] || fail "continue $* exited $rc, expected $want: $(cat "$tmp/stderr")"
  [ "$(wc -l < "$tmp/stderr")" -eq 1 ] || fail "continue $*: expected one line, got: $(cat "$tmp/stderr")"
  grep -q -- "$needle" "$tmp/stderr" || fail "continue $*: '$(cat "$tmp/stderr")' lacks '$needle'"
  [ ! -s "$tmp/stdout" ] || fail "continue $*: wrote to stdout"
  echo "ok: $(cat "$tmp/stderr")"
}
head -c 3000 /dev/urandom > "$tmp/garbage.mid"
printf 'MThd\0\0\0\6\0\1\0\1\1\xe0MTrk\0\0\1\0\0\x90' > "$tmp/truncated.mid"
head -c 100000 /dev/urandom > "$tmp/garbage.bin"
head -c 1000 "$tmp/rand.bin" > "$tmp/truncated.bin"
m=(--model "$tmp/rand.bin")
expect_error 1 "$tmp/missing.mid" -- "$tmp/missing.mid" -o "$tmp/x.mid" "${m[@]}"
expect_error 1 "$tmp/garbage.mid" -- "$tmp/garbage.mid" -o "$tmp/x.mid" "${m[@]}"
expect_error 1 "$tmp/truncated.mid" -- "$tmp/truncated.mid" -o "$tmp/x.mid" "${m[@]}"
expect_error 1 "$tmp/garbage.bin" -- "$tmp/primer.mid" -o "$tmp/x.mid" --model "$tmp/garbage.bin"
expect_error 1 "$tmp/truncated.bin" -- "$tmp/primer.mid" -o "$tmp/x.mid" --model "$tmp/truncated.bin"
expect_error 1 "$tmp/none.bin" -- "$tmp/primer.mid" -o "$tmp/x.mid" --model "$tmp/none.bin"
CONTINUO_MODEL="$tmp/gone.bin" expect_error 1 "CONTINUO_MODEL" -- "$tmp/primer.mid" -o "$tmp/x.mid"
expect_error 1 "/nonexistent/piano.sf2" -- "$tmp/primer.mid" -o "$tmp/x.mid" "${m[@]}" \
  --wav "$tmp/x.wav" --soundfont /nonexistent/piano.sf2
expect_error 1 "$tmp/no/such/dir" -- "$tmp/primer.mid" -o "$tmp/no/such/dir/x.mid" "${m[@]}"
expect_error 2 "no output" -- "$tmp/primer.mid" "${m[@]}"
expect_error 2 "no input" -- -o "$tmp/x.mid" "${m[@]}"
expect_error 2 "top-p" -- "$tmp/primer.mid" -o "$tmp/x.mid" --top-p 1.5 "${m[@]}"
expect_error 2 "seconds" -- "$tmp/primer.mid" -o "$tmp/x.mid" --seconds 0 "${m[@]}"
expect_error 2 "seed" -- "$tmp/primer.mid" -o "$tmp/x.mid" --seed -3 "${m[@]}"
expect_error 2 "bogus" -- "$tmp/primer.mid" -o "$tmp/x.mid" --bogus
# primer + --seconds past the 36000 s one MIDI file holds: refused before
# any work (exit 2, nothing written), while a continuation that fits is made
{ echo "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_100 NOTE_OFF_60"
  for _ in $(seq 30000); do echo TIME_SHIFT_100; done
  echo "NOTE_ON_62 TIME_SHIFT_50 NOTE_OFF_62"; } > "$tmp/long.txt"
"$bin" tokens --decode "$tmp/long.txt" -o "$tmp/long_primer.mid"
expect_error 2 "more than the 36000 s one MIDI file holds" -- "$tmp/long_primer.mid" \
  -o "$tmp/x.mid" --seconds 6000 "${m[@]}"
"$bin" continue "$tmp/long_primer.mid" -o "$tmp/long_ok.mid" --seconds 5 "${m[@]}" --seed 3 \
  2> "$tmp/long_ok.log" || fail "a 30001.5 s primer + 5 s failed: $(cat "$tmp/long_ok.log")"
"$bin" tokens "$tmp/long_ok.mid" > /dev/null || fail "the long continuation does not load"
echo "ok: a 30001.5 s primer + 5 s written"
expect_error 1 "unknown device" -- "$tmp/primer.mid" -o "$tmp/x.mid" --device tpu "${m[@]}"
# --device cuda: same seed, the same kind of file on a GPU; without one, a
# failure at start with one line on stderr
if "$bin" continue "$tmp/primer.mid" -o "$tmp/gpu.mid" "${m[@]}" --seed 7 --device cuda \
     > /dev/null 2> "$tmp/gpu.log"; then
  "$bin" tokens "$tmp/gpu.mid" > /dev/null || fail "--device cuda's output does not load"
  echo "ok: --device cuda generated"
else
  [ "$(wc -l < "$tmp/gpu.log")" -eq 1 ] || fail "--device cuda failed with more than one line: $(cat "$tmp/gpu.log")"
  grep -q "^continuo continue: --device cuda: " "$tmp/gpu.log" || fail "--device cuda: $(cat "$tmp/gpu.log")"
  [ ! -e "$tmp/gpu.mid" ] || fail "--device cuda failed but wrote $tmp/gpu.mid"
  echo "ok: --device cuda refused at start: $(cat "$tmp/gpu.log")"
fi
[ ! -e "$tmp/x.mid" ] || fail "a failed run left $tmp/x.mid behind"
"$bin" continue --help | grep -q -- "--seconds" || fail "--help lacks --seconds"
echo "PASS e2e_continue"
