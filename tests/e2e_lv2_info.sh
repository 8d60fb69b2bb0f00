#!/usr/bin/env bash
# e2e_lv2_info.sh — the LV2 bundle as hosts see it before loading it:
#  - lv2ls (lilv) lists urn:continuo:lv2 from LV2_PATH = the built bundle's folder;
#  - lv2info lists its 13 ports with the right index, symbol and types
#    (atom MIDI in/out, two audio outs, the control ports with their
#    ranges) and the worker and state extensions;
#  - continuo.so exports one dynamic symbol, lv2_descriptor (no main, no
#    GLib or engine symbol that could clash with a host's);
#  - the bundle survives `make install-lv2` / `install-user` style copies:
#    installed into a DESTDIR it is found there as well;
#  - lv2lint, if installed (Debian bookworm has no package), passes.
set -u
cd "$(dirname "$0")/.."
BUILD=${CONTINUO_BUILD:-build}
BUNDLE=$BUILD/lib/lv2/continuo.lv2
log() { echo "[$(date +%H:%M:%S)] $*"; }
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$BUNDLE/continuo.so" ] || { log "SKIP: $BUNDLE not built (lv2-dev/liblilv-dev missing?)"; exit 0; }
command -v lv2info > /dev/null || { log "SKIP: lv2info not installed (lilv-utils)"; exit 0; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/continuo-lv2info.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

export LV2_PATH=$(cd "$BUNDLE/.." && pwd)
lv2ls | grep -qx "urn:continuo:lv2" || fail "lv2ls does not list urn:continuo:lv2 (LV2_PATH=$LV2_PATH)"
lv2info urn:continuo:lv2 > "$TMP/info.txt" 2>&1 || { cat "$TMP/info.txt"; fail "lv2info failed"; }
grep -qi "error\|warning" "$TMP/info.txt" && { cat "$TMP/info.txt"; fail "lv2info complained"; }

# Ports: "index symbol kinds..." from lv2info's blocks, against the table.
awk '
  /^\tPort [0-9]+:/ { if (idx != "") print idx, sym, kinds; idx = $2; sub(":", "", idx); sym = ""; kinds = ""; intype = 1; next }
  /^\t\tType:/ { intype = 1; kinds = kinds " " $2; next }
  /^\t\t +http/ && intype { kinds = kinds " " $1; next }
  /^\t\tSymbol:/ { intype = 0; sym = $2; next }
  /^\t\t[A-Z]/ { intype = 0 }
  END { if (idx != "") print idx, sym, kinds }' "$TMP/info.txt" |
  sed -e 's|http://lv2plug.in/ns/ext/atom#||g' -e 's|http://lv2plug.in/ns/lv2core#||g' > "$TMP/ports.txt"
cat > "$TMP/want.txt" << 'EOF'
0 midi_in AtomPort InputPort
1 midi_out AtomPort OutputPort
2 out_l AudioPort OutputPort
3 out_r AudioPort OutputPort
4 mode ControlPort InputPort
5 temperature ControlPort InputPort
6 density ControlPort InputPort
7 lookahead ControlPort InputPort
8 quantize_grid ControlPort InputPort
9 quantize_strength ControlPort InputPort
10 audio ControlPort InputPort
11 thru ControlPort InputPort
12 duet_bars ControlPort InputPort
EOF
# lv2info prints a port's types in no fixed order: compare them sorted.
norm() { while read -r i s k; do echo "$i $s $(echo $k | tr ' ' '\n' | sort | tr '\n' ' ')"; done; }
norm < "$TMP/ports.txt" > "$TMP/got.n"
norm < "$TMP/want.txt" > "$TMP/want.n"
diff "$TMP/want.n" "$TMP/got.n" || fail "lv2info's ports differ from the expected table (above: < expected, > lv2info)"
log "lv2info: $(wc -l < "$TMP/got.n") ports as expected"

# Ranges and defaults of the controls (lv2info prints them with 6 decimals).
check_range() { # SYMBOL MIN MAX DEFAULT
  awk -v s="$1" '/^\tPort/ { p = 0 } $1 == "Symbol:" && $2 == s { p = 1 }
    p && $1 == "Minimum:" { mn = $2 } p && $1 == "Maximum:" { mx = $2 } p && $1 == "Default:" { d = $2 }
    END { print mn + 0, mx + 0, d + 0 }' "$TMP/info.txt" > "$TMP/r.txt"
  [ "$(cat "$TMP/r.txt")" = "$2 $3 $4" ] || fail "port $1: range/default '$(cat "$TMP/r.txt")', expected '$2 $3 $4'"
}
check_range mode 0 2 0
check_range temperature 0.2 2 1
check_range density 0.25 4 1
check_range lookahead 0.05 2 0.2
check_range quantize_grid 0 1 0
check_range quantize_strength 0 1 1
check_range audio 0 1 0
check_range thru 0 1 1
check_range duet_bars 0 8 2
grep -q "worker#interface" "$TMP/info.txt" || fail "lv2info: no worker interface"
grep -q "state#interface" "$TMP/info.txt" || fail "lv2info: no state interface"
grep -q "worker#schedule" "$TMP/info.txt" || fail "lv2info: worker:schedule not required"
log "lv2info: ranges, defaults, worker and state extensions as expected"

# Exports: only lv2_descriptor.
nm -D --defined-only "$BUNDLE/continuo.so" | awk '{ print $3 }' > "$TMP/exports.txt"
[ "$(cat "$TMP/exports.txt")" = "lv2_descriptor" ] || { cat "$TMP/exports.txt"; fail "continuo.so exports more than lv2_descriptor"; }
log "continuo.so exports only lv2_descriptor"

# Installed into a DESTDIR: found there.
make -s install-lv2 BUILD="$BUILD" DESTDIR="$TMP/dest" PREFIX=/usr > "$TMP/install.txt" 2>&1 ||
  { cat "$TMP/install.txt"; fail "make install-lv2"; }
LV2_PATH="$TMP/dest/usr/lib/lv2" lv2ls | grep -qx "urn:continuo:lv2" || fail "not found in the installed $TMP/dest/usr/lib/lv2"
log "make install-lv2: found in DESTDIR/usr/lib/lv2"
# A user install is self-contained: the model and presets inside the bundle.
make -s install-user BUILD="$BUILD" HOME="$TMP/home" > "$TMP/install.txt" 2>&1 ||
  { cat "$TMP/install.txt"; fail "make install-user"; }
for f in manifest.ttl continuo.ttl continuo.so continuo.bin presets/daw.ini presets/duet.ini; do
  [ -f "$TMP/home/.lv2/continuo.lv2/$f" ] || fail "make install-user: no $f in ~/.lv2/continuo.lv2"
done
LV2_PATH="$TMP/home/.lv2" lv2ls | grep -qx "urn:continuo:lv2" || fail "not found in HOME/.lv2"
# with no LV2_PATH at all, lilv's default path (~/.lv2 first) finds it too
(unset LV2_PATH; HOME="$TMP/home" lv2ls) | grep -qx "urn:continuo:lv2" || fail "lilv's default path misses ~/.lv2"
log "make install-user: self-contained bundle in HOME/.lv2 (model and presets inside)"

if command -v lv2lint > /dev/null; then
  lv2lint -Mpack urn:continuo:lv2 || fail "lv2lint"
  log "lv2lint: pass"
else
  log "lv2lint not installed (not packaged in Debian bookworm): skipped"
fi
log "PASS"
