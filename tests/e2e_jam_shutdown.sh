#!/usr/bin/env bash
# e2e_jam_shutdown.sh — jackd dies under a running `continuo jam`.
#
# Documented behaviour (continuo jam --help) without reconnect: the jam
# notices the server is gone (jack_on_info_shutdown), ends its notes in the
# recording, writes --record and --wav, prints "continuo jam: the JACK server
# '...' shut down: ...; ... exiting (continuo does not reconnect without
# --reconnect)" and exits 1. (With reconnect: tests/e2e_jam_reconnect.sh.)
# Here: the solo preset (the model plays without input) with --no-reconnect
# (the preset itself says reconnect = true), jackd killed with SIGKILL
# after 4 s; the jam must exit within 10 s, status 1, with that message, a
# .mid holding the model's notes with every note ended, and a valid WAV.
# Takes about 15 s.
set -u
cd "$(dirname "$0")/.."
. tests/jam_lib.sh

for b in continuo continuo-record continuo-mkmodel; do
  [ -x "$BIN/$b" ] || fail "$BIN/$b not built"
done
command -v jackd > /dev/null || fail "jackd not installed (tools/install-deps)"
PERIOD=${CONTINUO_E2E_PERIOD:-128}
start_jackd kill
pick_model
T=$JAM_TMP

bg 40 "$BIN/continuo" jam --preset solo --no-reconnect --model "$MODEL" --name continuo \
    --record "$T/kill_jam.mid" --wav "$T/kill_jam.wav" > "$T/kill_summary.txt" 2> "$T/kill_jam.err"
JAM=$LAST_PID
wait_for_line "$T/kill_jam.err" "Ctrl-C to stop" 20
bg 40 "$BIN/continuo-record" --midi continuo:midi_out --log "$T/kill_rec.log" --wait 15
REC=$LAST_PID
sleep 4
kill -0 $JAM 2> /dev/null || { cat "$T/kill_jam.err"; fail "the jam ended before jackd was killed"; }
log "killing jackd (pid $JACKD_PID) with SIGKILL"
kill -KILL "$JACKD_PID"
t0=$(date +%s)
wait_rc $JAM
t1=$(date +%s)
cat "$T/kill_summary.txt"
cat "$T/kill_jam.err"
[ $(( t1 - t0 )) -le 10 ] || fail "the jam took $(( t1 - t0 )) s to notice"
[ "$LAST_RC" -eq 1 ] || fail "the jam exited $LAST_RC, expected 1 (server gone)"
grep -q "the JACK server '.*' shut down" "$T/kill_jam.err" || fail "no clear message about the server"
grep -q "does not reconnect" "$T/kill_jam.err" || fail "the message does not say what happens next"
wait_rc $REC   # the recorder sees the server go too

notes=$(check_mid "$T/kill_jam.mid") || exit 1
log "kill_jam.mid: $notes notes, all ended"
[ "$notes" -gt 0 ] || fail "kill_jam.mid holds no notes (the model played for 4 s)"
[ "$(head -c 4 "$T/kill_jam.wav")" = RIFF ] || fail "kill_jam.wav: no RIFF header"
wav_bytes=$(stat -c %s "$T/kill_jam.wav")
wav_data=$(od -An -t u4 -j 40 -N 4 "$T/kill_jam.wav" | tr -d ' ')
[ "$wav_data" -eq $(( wav_bytes - 44 )) ] || fail "kill_jam.wav: data size $wav_data, file $wav_bytes bytes"
[ "$wav_data" -gt $(( RATE * 4 * 2 )) ] || fail "kill_jam.wav holds under 2 s"
log "PASS"
