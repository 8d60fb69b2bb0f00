#!/usr/bin/env bash
# e2e_model_info.sh — continuo-mkmodel writes a model file; `continuo info`
# prints its header and checks it; damaged copies are refused with one line
# naming the file and exit status 1.
set -eu
build=${CONTINUO_BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$build/bin/continuo-mkmodel" -o "$tmp/m.bin" --dim 64 --layers 2 --heads 4 --hidden 96 \
    --seq-len 128 --seed 3 2>/dev/null
"$build/bin/continuo" info "$tmp/m.bin" > "$tmp/info.txt"
cat "$tmp/info.txt"
# parameters: 396*64 + 2*64 + 4*2*64*64 + 2*64 + 2*2*96*64 + 64 (tied) = 83008
grep -qx "parameters: 83008" "$tmp/info.txt"
grep -qx "vocabulary: 1 (performance v1)" "$tmp/info.txt"
grep -qx "dim: 64" "$tmp/info.txt"
grep -qx "layers: 2" "$tmp/info.txt"
grep -qx "context: 128 tokens" "$tmp/info.txt"
grep -q "^checksum: ok (sha256 [0-9a-f]\{64\})$" "$tmp/info.txt"
# the checksum printed is the payload's (bytes 256..end)
want=$(tail -c +257 "$tmp/m.bin" | sha256sum | cut -d' ' -f1)
grep -q "$want" "$tmp/info.txt"

# same seed, same file; another seed, another file
"$build/bin/continuo-mkmodel" -o "$tmp/m2.bin" --dim 64 --layers 2 --heads 4 --hidden 96 \
    --seq-len 128 --seed 3 2>/dev/null
cmp -s "$tmp/m.bin" "$tmp/m2.bin"
"$build/bin/continuo-mkmodel" -o "$tmp/m3.bin" --dim 64 --layers 2 --heads 4 --hidden 96 \
    --seq-len 128 --seed 4 2>/dev/null
! cmp -s "$tmp/m.bin" "$tmp/m3.bin"

expect_fail() { # file, pattern
    if "$build/bin/continuo" info "$1" 2> "$tmp/err.txt"; then
        echo "accepted a bad file: $1"; exit 1
    fi
    [ "$(wc -l < "$tmp/err.txt")" -eq 1 ] || { echo "error is not one line"; cat "$tmp/err.txt"; exit 1; }
    grep -q "$1: .*$2" "$tmp/err.txt" || { echo "unexpected error:"; cat "$tmp/err.txt"; exit 1; }
}
cp "$tmp/m.bin" "$tmp/flip.bin"   # one bit flipped in the payload
printf '\x55' | dd of="$tmp/flip.bin" bs=1 seek=5000 conv=notrunc status=none
expect_fail "$tmp/flip.bin" "SHA-256"
head -c 100000 "$tmp/m.bin" > "$tmp/short.bin"
expect_fail "$tmp/short.bin" "truncated"
head -c 100 "$tmp/m.bin" > "$tmp/stub.bin"
expect_fail "$tmp/stub.bin" "truncated"
printf 'MThd\0\0\0\6' > "$tmp/song.mid"
expect_fail "$tmp/song.mid" "not a continuo model file"
cp "$tmp/m.bin" "$tmp/v2.bin"
printf '\x02' | dd of="$tmp/v2.bin" bs=1 seek=8 conv=notrunc status=none
expect_fail "$tmp/v2.bin" "version 2"
expect_fail "$tmp/missing.bin" "cannot open"
# usage errors exit 2
set +e
"$build/bin/continuo" info > /dev/null 2>&1; [ $? -eq 2 ] || { echo "usage exit"; exit 1; }
"$build/bin/continuo-mkmodel" --dim 30 --heads 4 -o "$tmp/x.bin" 2> /dev/null; [ $? -eq 2 ] || { echo "bad config exit"; exit 1; }
echo "e2e_model_info: ok"
