#!/usr/bin/env bash
# No function over 120 lines and no file over 700 lines outside tests/
# (tools/check-sizes). Also checks that the checker sees a long function: a
# 130-line function in a scratch repository must be reported.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
git init -q "$tmp/r"
{ echo 'int f(void)'; echo '{'; for i in $(seq 128); do echo "    x++; /* { */"; done; echo '}'; } > "$tmp/r/long.c"
{ echo 'static int g(int a)'; echo '{'; echo '    return a;'; echo '}'; } > "$tmp/r/short.c"
git -C "$tmp/r" add long.c short.c
if out=$(cd "$tmp/r" && python3 "$OLDPWD/tools/check-sizes"); then
  echo "FAIL: the checker missed a 130-line function"; echo "$out"; exit 1
fi
echo "$out" | grep -q 'long.c:2 f: 130 lines' || { echo "FAIL: unexpected report: $out"; exit 1; }
echo "$out" | grep -q short.c && { echo "FAIL: a short function reported: $out"; exit 1; }
python3 tools/check-sizes
