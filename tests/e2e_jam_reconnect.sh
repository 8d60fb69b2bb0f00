#!/usr/bin/env bash
# e2e_jam_reconnect.sh — the JACK jam survives its surroundings (issue 6):
#
#  1. jackd killed (SIGKILL) under `continuo jam --reconnect`, a new jackd
#     started 3 s later under the same server name: the jam logs that it
#     waits, reconnects, registers its ports again, restores the --audio-out
#     connections, and the model's notes flow again on midi_out (recorded by
#     continuo-record before and after). After the restart every note-on on
#     midi_out has its note-off.
#  2. SIGHUP to the running jam: it keeps running, and logs the reload with
#     the preset's new temperature; a SoundFont missing at start (a solo jam
#     with reconnect plays MIDI only, with a warning) is found on that SIGHUP.
#  3. SIGTERM: exit 0, summary 'reconnects: 1'; the --record .mid is valid,
#     every note ended, event times never go back, and it holds model notes
#     from before the server went and after it came back; the --record-dir
#     folder holds a valid rotated .mid.
#  4. A default duet jam without its SoundFont fails with a clear error.
# The preset: solo with density 4 (a random model's notes are sparse) and
# reconnect = false, so that --reconnect is what turns it on.
# About 35 s; every step has a timeout.
set -u
cd "$(dirname "$0")/.."
. tests/jam_lib.sh

for b in continuo continuo-record continuo-mkmodel; do
  [ -x "$BIN/$b" ] || fail "$BIN/$b not built"
done
command -v jackd > /dev/null || fail "jackd not installed (tools/install-deps)"
command -v jack_lsp > /dev/null || fail "jack_lsp not installed (jackd2's tools)"
PERIOD=${CONTINUO_E2E_PERIOD:-256}
start_jackd rc
pick_model
T=$JAM_TMP

# The same server name again, after the first one died.
restart_jackd() {
  jackd -d dummy -r $RATE -p $PERIOD > "$T/jackd-again.log" 2>&1 &
  JACKD_PID=$!
  JAM_PIDS+=("$JACKD_PID")
  local i
  for i in $(seq 100); do
    jack_lsp > /dev/null 2>&1 && { log "jackd '$JACK_DEFAULT_SERVER' up again (pid $JACKD_PID)"; return 0; }
    kill -0 "$JACKD_PID" 2> /dev/null || fail "the second jackd exited at start"
    sleep 0.1
  done
  fail "the second jackd did not accept clients within 10 s"
}

awk '/^\[/ { g = $0 }
     g == "[sampling]" && /^density = / { $0 = "density = 4.0" }
     g == "[output]" && /^reconnect = / { $0 = "reconnect = false" }
     { print }' presets/solo.ini > "$T/dense.ini"
grep -q '^reconnect = false' "$T/dense.ini" || fail "presets/solo.ini has no [output] reconnect key"

SF=""
for f in /usr/share/sounds/sf2/FluidR3_GM.sf2 /usr/share/sounds/sf2/default-GM.sf2 /usr/share/sounds/sf2/TimGM6mb.sf2; do
  [ -f "$f" ] && { SF=$f; break; }
done

# ---- 4. duet without a SoundFont: a clear error -------------------------------
timeout -k 2 30 "$BIN/continuo" jam --model "$MODEL" --name nosf --soundfont "$T/none.sf2" \
    > /dev/null 2> "$T/nosf.err"
rc=$?
cat "$T/nosf.err"
[ $rc -eq 1 ] || fail "duet without a SoundFont exited $rc, expected 1"
grep -q "none.sf2" "$T/nosf.err" || fail "the error does not name the missing SoundFont"

# ---- 1. kill the server, start it again ----------------------------------------
bg 55 "$BIN/continuo" jam --preset "$T/dense.ini" --reconnect --model "$MODEL" --name continuo \
    --soundfont "$T/sf.sf2" --audio-out system:playback_1 --audio-out system:playback_2 \
    --record "$T/rc.mid" --record-dir "$T/rot" > "$T/rc_summary.txt" 2> "$T/rc_jam.err"
JAM=$LAST_PID
wait_for_line "$T/rc_jam.err" "Ctrl-C to stop" 20
JAMPID=$(pgrep -P "$JAM" -x continuo) || fail "no continuo process under timeout $JAM"
grep -q "WARN.*sf.sf2.*MIDI only" "$T/rc_jam.err" || { cat "$T/rc_jam.err"; fail "no warning about the missing SoundFont"; }
bg 20 "$BIN/continuo-record" --midi continuo:midi_out --log "$T/rc_rec1.log" --wait 10
REC1=$LAST_PID
sleep 5
kill -0 "$JAMPID" 2> /dev/null || { cat "$T/rc_jam.err"; fail "the jam ended before jackd was killed"; }
log "killing jackd (pid $JACKD_PID) with SIGKILL"
kill -KILL "$JACKD_PID"
wait "$JACKD_PID" 2> /dev/null
wait_for_line "$T/rc_jam.err" "waiting for it to come back" 10
wait_rc $REC1
sleep 3
kill -0 "$JAMPID" 2> /dev/null || { cat "$T/rc_jam.err"; fail "the jam exited while the server was away"; }
restart_jackd
wait_for_line "$T/rc_jam.err" "reconnected to the JACK server" 15
bg 25 "$BIN/continuo-record" --midi continuo:midi_out --log "$T/rc_rec2.log" --wait 10
REC2=$LAST_PID
sleep 1
jack_lsp -c > "$T/lsp.txt" 2> /dev/null
awk '/^continuo:out_L$/ { f = 1; next } /^[^ \t]/ { f = 0 } f && /system:playback_1/ { ok = 1 } END { exit !ok }' "$T/lsp.txt" ||
  { cat "$T/lsp.txt"; fail "--audio-out not restored after the reconnect"; }
sleep 5

# ---- 2. SIGHUP -----------------------------------------------------------------
sed -i '/^\[sampling\]/,/^\[/ s/^temperature = .*/temperature = 1.1/' "$T/dense.ini"
[ -n "$SF" ] && ln -s "$SF" "$T/sf.sf2"
log "SIGHUP to the jam (pid $JAMPID)"
kill -HUP "$JAMPID"
wait_for_line "$T/rc_jam.err" "preset reloaded (solo mode, temperature 1.10)" 5
if [ -n "$SF" ]; then
  wait_for_line "$T/rc_jam.err" "SoundFont .*found" 15
else
  log "no SoundFont on this machine: the SIGHUP retry is not checked"
fi
sleep 1
kill -0 "$JAMPID" 2> /dev/null || { cat "$T/rc_jam.err"; fail "the jam ended on SIGHUP"; }

# ---- 3. SIGTERM ----------------------------------------------------------------
kill -TERM "$JAMPID"
wait_rc $JAM
cat "$T/rc_summary.txt"
cat "$T/rc_jam.err"
[ "$LAST_RC" -eq 0 ] || fail "the jam exited $LAST_RC after SIGTERM, expected 0"
[ "$(figure reconnects "$T/rc_summary.txt")" = 1 ] || fail "summary: reconnects is not 1"
[ "$(figure reloads "$T/rc_summary.txt")" = 1 ] || fail "summary: reloads is not 1"
sleep 0.5
kill -TERM "$REC2" 2> /dev/null
wait_rc $REC2

n1=$(grep -c ' m0 on ' "$T/rc_rec1.log")
log "midi_out before the restart: $n1 note-ons"
[ "$n1" -gt 0 ] || fail "no model notes on midi_out before the restart"
# The recorder joins while notes may be sounding: a key whose first event is
# a note-off was struck before it listened (dropped here; any later orphan
# still fails).
awk '$2 == "m0" && $3 == "off" && !(($4 " " $5) in seen) { next }
     $2 == "m0" && $3 == "on" { seen[$4 " " $5] = 1 } { print }' "$T/rc_rec2.log" > "$T/rc_rec2.pairs"
n2=$(check_pairs "$T/rc_rec2.pairs" m0) || fail "midi_out after the restart: notes not paired (above)"
log "midi_out after the restart: $n2 notes, every note-on with its note-off"
[ "$n2" -gt 0 ] || fail "no model notes on midi_out after the reconnect"

notes=$(check_mid "$T/rc.mid") || exit 1
log "rc.mid: $notes notes, all ended"
gone=$(sed -n 's/.*notes ended at \([0-9.]*\) s.*/\1/p' "$T/rc_jam.err" | head -1)
back=$(sed -n 's/.*the session goes on at \([0-9.]*\) s.*/\1/p' "$T/rc_jam.err" | head -1)
[ -n "$gone" ] && [ -n "$back" ] || fail "no session times in the jam's log"
# continuo-record --dump: frames at 48 kHz from the session's time 0
awk -v gone="$gone" -v back="$back" -v mc="$MODEL_CHANNEL" '
  $1 < prev { print "time goes back: " prev " then " $1 > "/dev/stderr"; bad = 1 }
  { prev = $1 }
  $2 == "mid" && $3 == "on" && $4 == mc { t = $1 / 48000; if (t <= gone) before++; if (t >= back) after++ }
  END { printf "rc.mid: %d model notes before %.2f s, %d after %.2f s\n", before, gone, after, back
        exit bad || !before || !after }' "$T/rc.mid.txt" || fail "rc.mid: times go back, or no notes before/after the restart"

rot=$(ls "$T/rot"/*.mid 2> /dev/null | head -1)
[ -n "$rot" ] || fail "--record-dir: no .mid in $T/rot"
"$BIN/continuo-record" --dump "$rot" --log "$T/rot.txt" || fail "$rot is not a valid MIDI file"
grep -q ' mid on ' "$T/rot.txt" || fail "$rot holds no notes"
log "PASS"
