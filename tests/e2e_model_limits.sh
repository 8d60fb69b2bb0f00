#!/usr/bin/env bash
# e2e_model_limits.sh — a model file asks for memory only within stated
# limits, and running out of memory is one line, not an abort:
#  - a valid, checksummed file whose header says seq_len 2^20 (12 GiB of KV
#    cache from a 16 MB file) is refused when loaded (`continuo info`,
#    `continuo continue`): exit 1, one line;
#  - a file within the limits (seq_len 65536: 384 MiB of cache) under a
#    400 MB address-space cap (ulimit -v) fails to make its run state with one
#    line and exit 1, where GLib used to abort ("failed to allocate");
#  - an empty file is called empty.
set -euo pipefail
build=${CONTINUO_BUILD:-build}
bin=$build/bin/continuo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
unset CONTINUO_MODEL

# The seq_len field (bytes 36..39, little-endian int32 after magic, version,
# header_size, dim, n_layers, n_heads, hidden_dim, vocab_size) is not under
# the payload's checksum, so patching it keeps the file valid.
set_seq_len() { # FILE N
  python3 -c 'import struct,sys; f=open(sys.argv[1],"r+b"); f.seek(36); f.write(struct.pack("<i",int(sys.argv[2])))' "$1" "$2"
}
"$build/bin/continuo-mkmodel" -o "$tmp/m.bin" --seq-len 1024 --seed 1 > /dev/null 2>&1
cp "$tmp/m.bin" "$tmp/huge.bin"; set_seq_len "$tmp/huge.bin" $((1 << 20))
cp "$tmp/m.bin" "$tmp/big.bin"; set_seq_len "$tmp/big.bin" 65536
echo "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_50 NOTE_OFF_60" > "$tmp/p.txt"
"$bin" tokens --decode "$tmp/p.txt" -o "$tmp/p.mid"

one_line() { # STATUS NEEDLE -- COMMAND...: exit STATUS, one line on stderr holding NEEDLE
  local want=$1 needle=$2; shift 3
  set +e
  OPENBLAS_NUM_THREADS=1 timeout 120 "$@" > /dev/null 2> "$tmp/err"
  local rc=$?
  set -e
  grep -v '^continuo continue: .*: [0-9]* notes, ' "$tmp/err" > "$tmp/err1" || true
  [ $rc -eq "$want" ] || fail "$* exited $rc, expected $want: $(cat "$tmp/err")"
  [ "$(wc -l < "$tmp/err1")" -eq 1 ] || fail "$*: expected one error line: $(cat "$tmp/err")"
  grep -q -- "$needle" "$tmp/err1" || fail "$*: '$(cat "$tmp/err1")' lacks '$needle'"
  echo "ok: $(cat "$tmp/err1")"
}
one_line 1 "seq_len out of range 1..65536" -- "$bin" info "$tmp/huge.bin"
one_line 1 "seq_len out of range" -- "$bin" continue "$tmp/p.mid" -o "$tmp/o.mid" --seconds 1 \
  --model "$tmp/huge.bin"
"$bin" info "$tmp/big.bin" | grep -qx "context: 65536 tokens" || fail "big.bin does not load"
one_line 1 "model state: out of memory (the KV cache alone is 384 MiB" -- \
  bash -c 'ulimit -v 400000 && exec "$@"' sh "$bin" continue "$tmp/p.mid" -o "$tmp/o.mid" \
  --seconds 1 --model "$tmp/big.bin"
[ ! -e "$tmp/o.mid" ] || fail "a failed run wrote $tmp/o.mid"
: > "$tmp/empty.bin"
one_line 1 "empty file (0 bytes)" -- "$bin" info "$tmp/empty.bin"
echo "PASS e2e_model_limits"
