# train_lib.sh — sourced by the training e2e scripts: synthetic token files.
#
# gen_tokens PATH N: a token file (tokfile.h: 32-byte header, then uint16
# little-endian tokens) of N tokens in documents of 400: BOS, then a
# repeating phrase of velocity, note on, time shift, note off tokens whose
# pitch walks up and down — a pattern a tiny model learns in a few steps.
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf -v h '%02x' $((v & 255)); printf "\\x$h"; v=$((v >> 8)); done; }
gen_tokens() {
  local path=$1 n=$2 docs=$(( ($2 + 399) / 400 )) i t p
  {
    printf 'CNTNTOK1'; le 1 4; le 1 4; le "$n" 8; le "$docs" 4; le 0 4
    for ((i = 0; i < n; i++)); do
      if (( i % 400 == 0 )); then t=1
      else
        p=$(( 60 + (i / 4) % 7 ))
        case $(( i % 4 )) in 0) t=$((364 + 20));; 1) t=$((8 + p));; 2) t=$((263 + 12));; 3) t=$((136 + p));; esac
      fi
      le "$t" 2
    done
  } > "$path"
}
