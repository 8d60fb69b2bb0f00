# tests/jam_lib.sh — helpers for the end-to-end tests of `continuo jam`
# against a real jackd (dummy backend). Sourced by tests/e2e_jam*.sh; not a
# test itself (tests/run-all runs only tests/e2e_*.sh).
#
# Every process a test starts is recorded in JAM_PIDS and ended by PID on
# exit (TERM, then KILL); every blocking step has a timeout.

BUILD=${CONTINUO_BUILD:-build}
BIN=$BUILD/bin
JAM_PIDS=()
JAM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/continuo-e2e.XXXXXX")
RATE=48000
PERIOD=128

log() { echo "[$(date +%H:%M:%S)] $*"; }
fail() { echo "FAIL: $*"; exit 1; }

jam_cleanup() {
  local pid
  for pid in "${JAM_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  sleep 0.3
  for pid in "${JAM_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  for pid in "${JAM_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$JAM_TMP"
}
trap jam_cleanup EXIT

# Starts `jackd -d dummy -r 48000 -p $PERIOD` under a server name no other
# run uses (parallel runs must not meet) and waits until it accepts clients.
# Sets JACKD_PID and exports JACK_DEFAULT_SERVER (every client uses it).
start_jackd() {
  export JACK_DEFAULT_SERVER="cn-e2e-$$-$RANDOM-${1:-0}"
  jackd -d dummy -r $RATE -p $PERIOD > "$JAM_TMP/jackd-$JACK_DEFAULT_SERVER.log" 2>&1 &
  JACKD_PID=$!
  JAM_PIDS+=("$JACKD_PID")
  local i
  for i in $(seq 100); do
    jack_lsp > /dev/null 2>&1 && { log "jackd '$JACK_DEFAULT_SERVER' up (pid $JACKD_PID)"; return 0; }
    kill -0 "$JACKD_PID" 2>/dev/null || fail "jackd exited at start (see its log)"
    sleep 0.1
  done
  fail "jackd did not accept clients within 10 s"
}

# The period: 128 frames (2.7 ms), as the project targets, unless this
# machine cannot run even a bare recording client at that period without
# xruns (a loaded VM: the scheduler then wakes realtime threads late), in
# which case the smallest of 256, 512, 1024 that can, said aloud. Every
# check below is stated in periods, so it holds at any period.
# CONTINUO_E2E_PERIOD forces one; an argument sets the shortest to try.
choose_period() { # [MIN_FRAMES]
  if [ -n "${CONTINUO_E2E_PERIOD:-}" ]; then PERIOD=$CONTINUO_E2E_PERIOD; log "period: $PERIOD (forced)"; return; fi
  local p n
  for p in 128 256 512 1024; do
    [ "$p" -ge "${1:-128}" ] || continue
    PERIOD=$p
    start_jackd "probe$p"
    "$BIN/continuo-record" --audio system:capture_1 --log "$JAM_TMP/probe$p.log" --duration 2 2> /dev/null
    n=$(grep -c -E ' (skip|xrun)' "$JAM_TMP/probe$p.log")
    stop_jackd
    if [ "$n" -eq 0 ]; then log "period: $p frames"; return; fi
    log "period $p: $n xruns in 2 s with a bare client (machine too loaded); trying a longer one"
  done
  log "period: 1024 frames, xruns remain (checks excuse what they explain)"
}

stop_jackd() {
  kill -TERM "$JACKD_PID" 2>/dev/null
  wait "$JACKD_PID" 2>/dev/null
}

# The model: $CONTINUO_E2E_MODEL, else the shipped one (presets/continuo.bin),
# else a random one made by continuo-mkmodel (its notes are as good as any
# for timing tests).
pick_model() {
  if [ -n "${CONTINUO_E2E_MODEL:-}" ]; then MODEL=$CONTINUO_E2E_MODEL
  elif [ -f presets/continuo.bin ]; then MODEL=presets/continuo.bin
  else
    MODEL=$JAM_TMP/random.bin
    "$BIN/continuo-mkmodel" -o "$MODEL" --seed 7 > /dev/null || fail "continuo-mkmodel"
  fi
  log "model: $MODEL"
}

# Performer phrases as token text: each argument START_S:NOTES plays NOTES
# notes from START_S seconds, one every 250 ms, each 200 ms long (so no
# silence inside a phrase reaches the duet pause). Written with the
# project's encoding, decoded by `continuo tokens --decode`.
perf_tokens() {
  local now=0 spec st n t gap k i p
  echo BOS
  echo VELOCITY_20
  for spec in "$@"; do
    st=${spec%%:*}; n=${spec##*:}
    t=$(( st * 100 ))               # 10 ms ticks
    gap=$(( t - now ))
    while [ $gap -gt 0 ]; do k=$(( gap > 100 ? 100 : gap )); echo "TIME_SHIFT_$k"; gap=$(( gap - k )); done
    now=$t
    for i in $(seq 0 $(( n - 1 ))); do
      p=$(( 60 + (i * 7) % 12 ))
      echo "NOTE_ON_$p"; echo TIME_SHIFT_20; echo "NOTE_OFF_$p"; echo TIME_SHIFT_5
      now=$(( now + 25 ))
    done
  done
}

make_perf_mid() { # OUT.mid SPEC...
  local out=$1; shift
  perf_tokens "$@" > "${out%.mid}.tokens"
  "$BIN/continuo" tokens --decode "${out%.mid}.tokens" -o "$out" || fail "continuo tokens --decode"
}

# Runs a command in the background under a timeout; PID in LAST_PID.
bg() { # SECONDS CMD...
  local secs=$1; shift
  timeout -k 2 "$secs" "$@" &
  LAST_PID=$!
  JAM_PIDS+=("$LAST_PID")
}

# Waits until FILE has a line matching PATTERN (e.g. the jam's "ports ..."
# line once it runs), or fails after SECONDS.
wait_for_line() { # FILE PATTERN SECONDS
  local i
  for i in $(seq $(( $3 * 10 ))); do
    grep -q -- "$2" "$1" 2> /dev/null && return 0
    sleep 0.1
  done
  fail "no '$2' in $1 within $3 s"
}

# Waits until the server has PORT (a client's registered port), or fails.
wait_for_port() { # PORT SECONDS
  local i
  for i in $(seq $(( $2 * 10 ))); do
    jack_lsp 2> /dev/null | grep -qx -- "$1" && return 0
    sleep 0.1
  done
  fail "no port $1 within $2 s"
}

# Waits for a background PID; its exit status in LAST_RC.
wait_rc() { wait "$1"; LAST_RC=$?; }

# A `name: value` figure from a summary file.
figure() { awk -v k="$1:" '$1 == k { print $2; exit }' "$2"; }

# xruns: on this kind of machine (2 shared cores, a VM) the server sometimes
# runs a cycle without calling a client. What a client's ports carried in
# such a cycle is lost to it, which no client can help. So every check that
# needs every event delivered excuses an anomaly only when a logged skip of
# the client that lost it lies where the missing event would have been:
# continuo-record logs its own as 'FRAME skip FRAMES', continuo jam -v as
# 'continuo jam: xrun: ... frames FIRST+FRAMES'. Excuses are printed.

# Skip ranges "FIRST FRAMES" of the jam, from its -v stderr.
jam_skips() { sed -n 's/.*xrun: the server skipped our cycles, frames \([0-9]*\)+\([0-9]*\)$/\1 \2/p' "$1"; }

# Checks a continuo-record log: on MIDI port PORT (m0, m1, mid), every
# note-on is followed by its note-off (same channel and key) before the next
# note-on of that key, and nothing is left sounding. Prints the number of
# notes. Excuses an anomaly when the recorder logged a skip of its own, or a
# server xrun (+-2 periods: a late client's output may be lost or repeated),
# where the missing or extra event would have been.
check_pairs() { # LOG PORT
  awk -v port="$2" -v P="$PERIOD" '
    function skipped(a, b,   i) { for (i = 1; i <= ns; i++) if (ss[i] < b && ss[i] + sl[i] > a) return 1; return 0 }
    function anomaly(msg, a, b) {
      if (skipped(a, b)) { print "excused (recorder xrun): " msg > "/dev/stderr"; excused++ }
      else { print msg > "/dev/stderr"; bad = 1 } }
    NR == FNR { if ($2 == "skip") { ns++; ss[ns] = $1; sl[ns] = $3 }
                if ($2 == "xrun") { ns++; ss[ns] = $1 - 2 * P; sl[ns] = 4 * P }  # its frame is an estimate
                next }
    $2 == port && $3 == "on"  { k = $4 " " $5
      if (down[k]) anomaly("double note-on " k " at " $1, last[k], $1)
      down[k] = 1; last[k] = $1; n++ }
    $2 == port && $3 == "off" { k = $4 " " $5
      if (!down[k]) anomaly("note-off without note-on " k " at " $1, last[k] + 0, $1)
      down[k] = 0; last[k] = $1 }
    END { for (k in down) if (down[k]) anomaly("left sounding: " k " since " last[k], last[k], 1e18)
          print n + 0; exit bad }' "$1" "$1"
}

# A .mid written by the jam is valid (midifile_load reads it) and leaves no
# note sounding on any channel; on the model's channel (MODEL_CHANNEL, 0-based;
# the presets put the model on channel 2, i.e. 1) every note-on has its
# note-off before the key's next note-on. The performer's channel holds what
# the jam heard, which an xrun can cut (a note-off whose note-on was lost), so
# only the first rule applies there. Prints the number of notes.
MODEL_CHANNEL=${MODEL_CHANNEL:-1}
check_mid() { # FILE.mid
  [ -s "$1" ] || fail "$1 missing or empty"
  "$BIN/continuo-record" --dump "$1" --log "$1.txt" || fail "$1 is not a valid MIDI file"
  awk -v mc="$MODEL_CHANNEL" '
    $2 == "mid" && $3 == "on"  { k = $4 " " $5; if ($4 == mc && down[k]) { print "double note-on " k " at " $1 > "/dev/stderr"; bad = 1 } down[k] = 1; n++ }
    $2 == "mid" && $3 == "off" { k = $4 " " $5; if ($4 == mc && !down[k]) { print "note-off without note-on " k " at " $1 > "/dev/stderr"; bad = 1 } down[k] = 0 }
    END { for (k in down) if (down[k]) { print "left sounding: " k > "/dev/stderr"; bad = 1 }
          print n + 0; exit bad }' "$1.txt" || fail "$1: notes not ended (above)"
}
