#!/usr/bin/env bash
# e2e_jam.sh — `continuo jam` against a real jackd (dummy backend, 48 kHz,
# 128-frame periods, a server name of its own), with continuo-perform as the
# performer and continuo-record listening to midi_out, the performer's port
# and the audio ports, all with frame times from the server's clock.
#
#  1. duet, about 20 s: four performer phrases with 4 s pauses. The model's
#     notes arrive; every note-on on midi_out has its note-off; the model
#     yields: no model note-on starts between the performer's resumption
#     (plus one period) and the end of that phrase; the jam reports
#     late_events 0; out_L carries sound (RMS > 1e-4) during every model note
#     of velocity >= 16 lasting over 0.2 s, and silence before anything
#     plays; --record and --wav are valid files.
#  2. solo: CC 123 from the performer ends every sounding model note within
#     50 ms; SIGTERM ends the rest: exit 0, nothing left sounding on
#     midi_out, a valid .mid with every note ended. The recorder starts first
#     and the jam connects to it before the model's first note (solo plays
#     unprompted), so every note-on the model sent was heard.
# Takes about 40 s.
set -u
cd "$(dirname "$0")/.."
. tests/jam_lib.sh

for b in continuo continuo-perform continuo-record continuo-mkmodel; do
  [ -x "$BIN/$b" ] || fail "$BIN/$b not built"
done
command -v jackd > /dev/null || fail "jackd not installed (tools/install-deps)"

choose_period
start_jackd 1
pick_model
T=$JAM_TMP

# ---- 1. duet ---------------------------------------------------------------
log "test 1: duet, 4 phrases"
make_perf_mid "$T/duet.mid" 0:8 6:8 12:8 18:8
bg 60 "$BIN/continuo" jam --preset duet --model "$MODEL" --name continuo -v \
    --record "$T/duet_jam.mid" --wav "$T/duet_jam.wav" --duration 25 > "$T/duet_summary.txt" 2> "$T/duet_jam.err"
JAM=$LAST_PID
wait_for_line "$T/duet_jam.err" "Ctrl-C to stop" 20
bg 60 "$BIN/continuo-record" --midi continuo:midi_out --midi perform:out \
    --audio continuo:out_L --audio continuo:out_R --log "$T/duet_rec.log" --wait 15
REC=$LAST_PID
bg 60 "$BIN/continuo-perform" "$T/duet.mid" --to continuo:midi_in --delay 1.0 --wait 15 --log "$T/duet_perf.log"
PERF=$LAST_PID
wait_rc $PERF; [ "$LAST_RC" -eq 0 ] || fail "continuo-perform exited $LAST_RC"
wait_rc $JAM
cat "$T/duet_summary.txt"
[ "$LAST_RC" -eq 0 ] || { cat "$T/duet_jam.err"; fail "continuo jam exited $LAST_RC"; }
kill -TERM $REC; wait_rc $REC

notes_model=$(check_pairs "$T/duet_rec.log" m0) || fail "midi_out: unpaired notes (above)"
notes_perf=$(check_pairs "$T/duet_rec.log" m1) || fail "performer: unpaired notes"
log "model notes on midi_out: $notes_model; performer notes heard: $notes_perf"
rec_skips=$(grep -c ' skip ' "$T/duet_rec.log")
if [ "$rec_skips" -eq 0 ]; then
  [ "$notes_perf" -eq 32 ] || fail "the recorder heard $notes_perf performer notes, 32 were played"
else
  log "the recorder missed $rec_skips cycles (xruns): performer notes heard $notes_perf of 32"
fi
[ "$notes_model" -gt 0 ] || fail "no model note arrived on midi_out"

# Yield: performer phrases = m1 events split at gaps over 0.5 s. What the
# worker has handed the RT thread plays (plugin/jack/worker.h): at most the next
# cycle (which starts within a period and a quarter of the worker's pass) and
# one period beyond it, and the performer's note may have arrived up to a
# period before that pass; so a model note-on within 3.25 periods of the
# resumption may already have been out of the worker's hands (at 1024-frame
# periods on a loaded machine: one at 25 ms, 1.2 periods). Later ones fail,
# unless the jam itself skipped cycles from one period before the resumption
# to that note (it may not have heard the performer resume).
jam_skips "$T/duet_jam.err" > "$T/duet_jam_skips.txt"
awk -v P=$PERIOD -v R=$RATE '
  FILENAME == ARGV[1] { ns++; ss[ns] = $1; sl[ns] = $2; next }  # not NR == FNR: the skip list may be empty
  $2 == "m1" { if (n == 0 || $1 - last > R / 2) { n++; start[n] = $1 } last = $1; end[n] = $1 }
  $2 == "m0" && $3 == "on" { m++; on[m] = $1 }
  END {
    bad = 0; answered = 0
    for (i = 2; i <= n; i++) {
      for (j = 1; j <= m; j++) {
        if (on[j] > end[i-1] && on[j] < start[i]) { answered++; break }
      }
      for (j = 1; j <= m; j++)
        if (on[j] > start[i] + 3.25 * P && on[j] <= end[i]) {
          msg = sprintf("model note-on at %d while the performer plays (phrase %d: %d..%d, %.1f ms after it resumed)",
                        on[j], i, start[i], end[i], 1000 * (on[j] - start[i]) / R)
          ex = 0
          for (q = 1; q <= ns; q++) if (ss[q] < on[j] && ss[q] + sl[q] > start[i] - P) ex = 1
          if (ex) print "excused (the jam skipped cycles then): " msg
          else { print msg; bad = 1 }
        }
    }
    printf "phrases: %d, pauses answered before the performer resumed: %d\n", n, answered
    if (n != 4) { print "expected 4 performer phrases"; bad = 1 }
    if (answered < 1) { print "the model never answered in a pause: the yield is untested"; bad = 1 }
    exit bad }' "$T/duet_jam_skips.txt" "$T/duet_rec.log" || fail "duet: the model did not yield"

late=$(figure late_events "$T/duet_summary.txt")
[ "$late" = 0 ] || fail "late_events: $late"
log "late_events: 0 (xruns: $(figure xruns "$T/duet_summary.txt"), late_after_xrun: $(figure late_after_xrun "$T/duet_summary.txt"))"

# Audio: silence before anything played, sound while model notes sound.
first_perf=$(awk '$2 == "m1" { print $1; exit }' "$T/duet_rec.log")
awk -v first=$first_perf -v R=$RATE '
  $2 == "a0" { n++; f[n] = $1; v[n] = $4 }
  $2 == "m0" && $3 == "on" { k = $4 " " $5; t0[k] = $1; v0[k] = $6 }
  $2 == "m0" && $3 == "off" { k = $4 " " $5; if ($1 - t0[k] > R / 5 && v0[k] >= 16) { nn++; s[nn] = t0[k]; e[nn] = $1; key[nn] = k " vel " v0[k] } }
  END {
    quiet = 0; pre = 0
    for (i = 1; i <= n; i++) if (f[i] + R / 10 <= first) { pre++; if (v[i] > quiet) quiet = v[i] }
    loud = 0; heard = 0
    for (j = 1; j <= nn; j++) {
      best = 0
      for (i = 1; i <= n; i++) if (f[i] >= s[j] && f[i] + R / 10 <= e[j] && v[i] > best) best = v[i]
      if (best > 1e-4) heard++
      else printf "silent model note: %s, frames %d..%d (RMS %.2g)\n", key[j], s[j], e[j], best
      if (best > loud) loud = best
    }
    printf "out_L RMS: %d windows before the first note, max %.2g; model notes (vel >= 16, > 0.2 s) with sound %d of %d, max RMS %.3f\n",
           pre, quiet, heard, nn, loud
    bad = 0
    if (pre < 1 || quiet > 1e-6) { print "out_L is not silent before anything plays"; bad = 1 }
    if (nn > 0 && heard < nn) { print "a model note sounded without audio on out_L"; bad = 1 }
    if (loud < 1e-3) { print "out_L stayed (nearly) silent while the model played"; bad = 1 }
    exit bad }' "$T/duet_rec.log" || fail "duet: audio"

n_mid=$(check_mid "$T/duet_jam.mid") || exit 1
log "duet_jam.mid: $n_mid notes, all ended"
[ "$n_mid" -ge 32 ] || fail "duet_jam.mid holds $n_mid notes, fewer than the performer played"
wav_bytes=$(stat -c %s "$T/duet_jam.wav")
wav_data=$(od -An -t u4 -j 40 -N 4 "$T/duet_jam.wav" | tr -d ' ')
[ "$(head -c 4 "$T/duet_jam.wav")" = RIFF ] || fail "duet_jam.wav: no RIFF header"
[ "$wav_data" -eq $(( wav_bytes - 44 )) ] || fail "duet_jam.wav: data size $wav_data, file $wav_bytes bytes"
secs=$(( wav_data / (RATE * 4) ))
[ "$secs" -ge 23 ] && [ "$secs" -le 28 ] || fail "duet_jam.wav holds $secs s, the jam ran about 25 s"
log "duet_jam.wav: $secs s"

# ---- 2. solo: CC 123 panic, then SIGTERM ------------------------------------
log "test 2: solo, CC 123 panic at 3 s, SIGTERM at about 6 s"
make_perf_mid "$T/solo.mid" 0:1
# In solo the model plays from its first cycle, unprompted: the recorder
# comes first and the jam connects midi_out to it (--connect-out) before the
# model's first pass, so every note-on the model sends is heard (a note-off
# without its note-on is then a fault, never the recorder's late start).
bg 40 "$BIN/continuo-record" --midi continuo:midi_out --midi perform:out --log "$T/solo_rec.log" --wait 30
REC=$LAST_PID
wait_for_port record:midi_0 10
bg 40 "$BIN/continuo" jam --preset solo --model "$MODEL" --name continuo --no-audio -v \
    --connect-out record:midi_0 --record "$T/solo_jam.mid" > "$T/solo_summary.txt" 2> "$T/solo_jam.err"
JAM=$LAST_PID
wait_for_line "$T/solo_jam.err" "Ctrl-C to stop" 20
bg 40 "$BIN/continuo-perform" "$T/solo.mid" --cc 3:123:0 --to continuo:midi_in --delay 0.5 --wait 15
PERF=$LAST_PID
wait_rc $PERF; [ "$LAST_RC" -eq 0 ] || fail "continuo-perform exited $LAST_RC"
sleep 3
kill -TERM $JAM
wait_rc $JAM
cat "$T/solo_summary.txt"
[ "$LAST_RC" -eq 0 ] || { cat "$T/solo_jam.err"; fail "continuo jam exited $LAST_RC after SIGTERM"; }
sleep 0.2
kill -TERM $REC; wait_rc $REC

notes_model=$(check_pairs "$T/solo_rec.log" m0) || fail "solo: notes left sounding on midi_out after SIGTERM"
[ "$notes_model" -gt 0 ] || fail "solo: the model played nothing"
jam_skips "$T/solo_jam.err" > "$T/solo_jam_skips.txt"
awk -v R=$RATE -v P=$PERIOD '
  FILENAME == ARGV[1] { ns++; ss[ns] = $1; sl[ns] = $2; next }  # not NR == FNR: the skip list may be empty
  $2 == "m1" && $3 == "cc" && $5 == 123 { cc = $1 }
  $2 == "m0" && $3 == "on" { k = $4 " " $5; t0[k] = $1; up[k] = 1 }
  $2 == "m0" && $3 == "off" { k = $4 " " $5; if (cc && up[k] && t0[k] < cc) { n++; d = ($1 - cc) / R; if (d > worst) worst = d } up[k] = 0 }
  END {
    if (!cc) { print "the recorder did not see the CC 123"; exit 1 }
    printf "notes sounding at the panic: %d, all ended within %.1f ms\n", n, 1000 * worst
    if (worst <= 0.05) exit 0
    for (q = 1; q <= ns; q++) if (ss[q] < cc + R / 20 && ss[q] + sl[q] > cc - P) {
      print "excused: the jam skipped cycles around the CC (an xrun: it may have been lost)"; exit 0 }
    exit 1 }' "$T/solo_jam_skips.txt" "$T/solo_rec.log" || fail "solo: CC 123 did not end the model's notes within 50 ms"
n_mid=$(check_mid "$T/solo_jam.mid") || exit 1
log "solo_jam.mid: $n_mid notes, all ended"
[ "$n_mid" -ge "$notes_model" ] || fail "solo_jam.mid holds $n_mid notes, midi_out carried $notes_model"

stop_jackd
log "PASS"
