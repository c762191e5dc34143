#!/usr/bin/env bash
# Writes brotli (quality 11) and gzip (-9) versions beside every compressible
# file of the built site (.wasm .js .css .svg .json .webmanifest .txt), once,
# at build time: the server sends them to clients that accept them
# (server/src/static_files.rs) and never compresses a file per request.
# Run it after every `cargo leptos build --release --split` (scripts/run.sh and
# scripts/test.sh do). A version that would not be smaller is not kept.
# Usage: scripts/compress-site.sh [site-root]   (default: target/site)
set -euo pipefail
cd "$(dirname "$0")/.."
SITE="${1:-${LEPTOS_SITE_ROOT:-target/site}}"
if [ ! -d "$SITE/pkg" ]; then
  echo "compress-site: $SITE/pkg not found: build the site first (cargo leptos build --release --split)" >&2
  exit 1
fi
for tool in brotli gzip; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "compress-site: $tool is not installed (Debian: apt-get install $tool)" >&2
    exit 1
  fi
done
count=0
while IFS= read -r -d '' f; do
  size=$(stat -c %s "$f")
  brotli -q 11 -f -o "$f.br" -- "$f"
  gzip -9 -n -c -- "$f" >"$f.gz"
  for c in "$f.br" "$f.gz"; do
    if [ "$(stat -c %s "$c")" -ge "$size" ]; then rm -f -- "$c"; fi
  done
  count=$((count + 1))
done < <(find "$SITE" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.svg' \
  -o -name '*.json' -o -name '*.webmanifest' -o -name '*.txt' \) -print0)
echo "compress-site: $count files in $SITE precompressed (brotli -q 11, gzip -9)"
