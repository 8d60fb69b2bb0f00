#!/usr/bin/env bash
# e2e_train.sh — continuo-train and continuo-eval as a user runs them, on a
# token file written here (no corpus needed): SIGTERM mid-run writes a
# checkpoint and exits 0; --resume continues to the end of the schedule; the
# outputs (weights, best weights, CSV log, SVG) exist; --init fine-tunes from
# the weights; continuo-eval prints its figures and scores every token
# after each document's BOS; bad input exits non-zero with one line.
set -euo pipefail
build=${CONTINUO_BUILD:-build}
train=$build/bin/continuo-train
eval=$build/bin/continuo-eval
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

. "$(dirname "$0")/train_lib.sh"
gen_tokens "$tmp/train.bin" 4000
gen_tokens "$tmp/val.bin" 1200

shape=(--dim 32 --layers 2 --heads 2 --hidden 64 --ctx 64 --batch 4 --window 64
       --lr 3e-3 --warmup 10 --val-every 20 --val-windows 8 --threads 2 -q)

# 1. SIGTERM: checkpoint, exit 0
"$train" --train "$tmp/train.bin" --val "$tmp/val.bin" --out "$tmp/run" "${shape[@]}" \
  --steps 100000 --ckpt-every 10 2> "$tmp/a.err" &
pid=$!
for _ in $(seq 1 200); do [ -f "$tmp/run/ckpt.bin" ] && break; sleep 0.1; done
[ -f "$tmp/run/ckpt.bin" ] || fail "no checkpoint after 20 s"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=
[ $rc -eq 0 ] || fail "SIGTERM exit status $rc"
grep -q "after a stop request" "$tmp/a.err" || fail "no stop-request checkpoint line"
for f in ckpt.bin model.bin log.csv curves.svg; do [ -s "$tmp/run/$f" ] || fail "missing $f"; done
head -1 "$tmp/run/log.csv" | grep -q '^step,train_loss,val_loss,lr,tokens_per_s,elapsed_s$' || fail "log header"
grep -q '<svg' "$tmp/run/curves.svg" || fail "curves.svg is not an SVG"

# 2. resume to the end of a shorter schedule (--steps overrides the recipe)
stopped=$(tail -1 "$tmp/run/log.csv" | cut -d, -f1)
end=$((stopped + 80))
"$train" --resume "$tmp/run/ckpt.bin" --train "$tmp/train.bin" --val "$tmp/val.bin" \
  --out "$tmp/run" --steps "$end" -q 2> "$tmp/b.err" || { cat "$tmp/b.err"; fail "resume"; }
last=$(tail -1 "$tmp/run/log.csv" | cut -d, -f1)
[ "$last" = "$end" ] || fail "resumed run ended at step $last, not $end"
[ "$(grep -c '' "$tmp/run/log.csv")" -eq $((end + 1)) ] || fail "log rows are not one per step"
[ -s "$tmp/run/model-best.bin" ] || fail "no model-best.bin"
val=$(awk -F, 'NR > 1 && $3 != "" { v = $3 } END { print v }' "$tmp/run/log.csv")
awk -v v="$val" 'BEGIN { exit !(v < 2.0) }' || fail "validation loss $val: did not learn the phrase"

# 3. evaluation: figures and coverage (3 documents of 400 tokens: 3 * 399 scored)
"$eval" "$tmp/run/model.bin" "$tmp/val.bin" --train "$tmp/train.bin" > "$tmp/eval.txt"
cat "$tmp/eval.txt"
grep -q '^scored_tokens: 1197 tokens$' "$tmp/eval.txt" || fail "scored tokens"
for k in model_nll model_perplexity model_nll_per_note unigram_nll kn3_nll; do
  grep -q "^$k: " "$tmp/eval.txt" || fail "no $k line"
done
nll=$(awk '/^model_nll:/ { print $2 }' "$tmp/eval.txt")
uni=$(awk '/^unigram_nll:/ { print $2 }' "$tmp/eval.txt")
awk -v a="$nll" -v b="$uni" 'BEGIN { exit !(a < b) }' || fail "model ($nll) no better than unigram ($uni)"

# 4. fine-tuning from the weights
"$train" --init "$tmp/run/model.bin" --train "$tmp/val.bin" --out "$tmp/ft" --steps 5 --lr 1e-4 \
  --batch 2 --val-every 0 -q 2> /dev/null || fail "--init fine-tuning"
[ -s "$tmp/ft/model.bin" ] || fail "fine-tuned model.bin"

# 5. errors: one line, non-zero
if "$eval" "$tmp/run/model.bin" "$tmp/nonexistent.bin" 2> "$tmp/e.err"; then fail "eval of a missing file succeeded"; fi
[ "$(grep -c '' "$tmp/e.err")" -eq 1 ] || fail "error is not one line"
if "$train" --resume "$tmp/train.bin" --train "$tmp/train.bin" --out "$tmp/x" 2> "$tmp/e.err"; then fail "resume from a token file succeeded"; fi
grep -q "not a continuo training checkpoint" "$tmp/e.err" || fail "resume error message"
echo "e2e_train: ok"
