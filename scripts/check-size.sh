#!/usr/bin/env bash
# First-load size budget (issue 13): what a phone on a fresh cache downloads
# for the signed-in, empty chat page `/` — the HTML document plus the CSS,
# JS and WASM it references (and the JS modules that JS imports) — each
# counted at the size the release server actually sends for
# `Accept-Encoding: br, gzip`. Compares the WASM and the total with
# budgets.json (firstLoad.wasmBrotliBytes, firstLoad.totalBytes), prints
# OK or OVER BUDGET with figure and budget, and exits 1 when over.
#
# Needs the release build: `cargo leptos build --release --split`,
# `scripts/compress-site.sh` and `cargo build --release -p testkit --bin
# fake_upstreams` (scripts/test.sh does all three). Starts the server with
# end2end/serve-e2e.sh on a fresh database (port SIZE_CHECK_PORT, default
# 3290), registers a user and fetches `/` with its session cookie.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${SIZE_CHECK_PORT:-3290}"
BASE="http://127.0.0.1:$PORT"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
for bin in server fake_upstreams; do
  if [ ! -x "$TARGET_DIR/release/$bin" ]; then
    echo "check-size: $TARGET_DIR/release/$bin not found: build the release site and the fake first (see the header of $0)" >&2
    exit 2
  fi
done
for tool in curl brotli python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "check-size: $tool is not installed" >&2; exit 2; }
done

WORK="$(mktemp -d -t mistralchat-size-XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -- -"$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
# Its own process group, so that the server and the fake stop with it.
setsid bash end2end/serve-e2e.sh "$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null && break
  sleep 1
done
if ! curl -fsS -o /dev/null "$BASE/readyz"; then
  echo "check-size: the server did not start on $BASE:" >&2
  cat "$WORK/server.log" >&2
  exit 2
fi

# A signed-in visitor: register, keep the session cookie.
curl -fsS -o /dev/null -c "$WORK/cookies" -H 'content-type: application/json' \
  -d '{"email":"size-check@example.com","password":"correct horse battery","name":"Size Check"}' \
  "$BASE/api/auth/email/register"

# fetch URL → writes body to $WORK/body, prints "status encoding bytes"
fetch() {
  curl -sS -b "$WORK/cookies" -H 'accept-encoding: br, gzip' -D "$WORK/headers" -o "$WORK/body" \
    -w '%{http_code} %{size_download}\n' "$1" >"$WORK/w"
  local status size enc
  read -r status size <"$WORK/w"
  enc="$(tr -d '\r' <"$WORK/headers" | awk -F': *' 'tolower($1)=="content-encoding" {print tolower($2)}' | tail -1)"
  echo "$status ${enc:-identity} $size"
}
decoded_size() {
  case "$1" in
    br) brotli -d -c "$WORK/body" | wc -c ;;
    gzip) gzip -d -c "$WORK/body" | wc -c ;;
    *) wc -c <"$WORK/body" ;;
  esac
}

ROWS=()
TOTAL=0
WASM_SERVED=0
add_row() { ROWS+=("$1|$2|$3|$4"); TOTAL=$((TOTAL + $3)); }

read -r status enc served <<<"$(fetch "$BASE/")"
# Without a session `/` redirects to /login (303): 200 is the chat page.
if [ "$status" != 200 ]; then
  echo "check-size: GET / answered $status, not the signed-in chat page" >&2
  exit 2
fi
# The page as the browser reads it (decoded), to find what it references.
case "$enc" in
  br) brotli -d -c "$WORK/body" >"$WORK/page.html" ;;
  gzip) gzip -d -c "$WORK/body" >"$WORK/page.html" ;;
  *) cp "$WORK/body" "$WORK/page.html" ;;
esac
HTML_RAW=$(decoded_size "$enc")
if [ "$enc" = identity ]; then
  # The server does not compress pages on the fly: count what brotli makes
  # of it (what a compressing reverse proxy would send).
  HTML_BR=$(brotli -q 11 -c "$WORK/page.html" | wc -c)
  add_row "/ (HTML)" "$HTML_RAW" "$HTML_BR" "br (estimate: server sends identity, $HTML_RAW B)"
else
  add_row "/ (HTML)" "$HTML_RAW" "$served" "$enc"
fi

# Stylesheets, scripts, module preloads and the WASM the page references.
mapfile -t ASSETS < <(python3 - "$WORK/page.html" <<'PY'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
seen = []
for tag in re.findall(r"<(?:link|script)\b[^>]*>", html):
    rel = re.search(r'\brel="([^"]*)"', tag)
    url = re.search(r'\b(?:href|src)="([^"]*)"', tag)
    if not url:
        continue
    u = url.group(1)
    if tag.startswith("<link") and (not rel or rel.group(1) not in ("stylesheet", "modulepreload", "preload")):
        continue
    if u.startswith("/") and not u.startswith("//") and u not in seen:
        seen.append(u)
# The hydration module imports the JS glue and fetches the WASM by name.
for u in re.findall(r"""['"](/pkg/[^'"]+\.(?:js|wasm|css))['"]""", html):
    if u not in seen:
        seen.append(u)
print("\n".join(seen))
PY
)
i=0
while [ $i -lt ${#ASSETS[@]} ]; do
  url="${ASSETS[$i]}"; i=$((i + 1))
  read -r status enc served <<<"$(fetch "$BASE$url")"
  if [ "$status" != 200 ]; then
    echo "check-size: $url answered $status" >&2
    exit 2
  fi
  raw=$(decoded_size "$enc")
  add_row "$url" "$raw" "$served" "$enc"
  case "$url" in
    *.wasm) WASM_SERVED=$((WASM_SERVED + served)) ;;
    *.js)
      # Modules the glue imports (wasm-bindgen snippets) load before the app runs.
      dir="${url%/*}"
      while IFS= read -r rel; do
        next="$dir/${rel#./}"
        if ! printf '%s\n' "${ASSETS[@]}" | grep -qxF -- "$next"; then ASSETS+=("$next"); fi
      done < <(case "$enc" in br) brotli -d -c "$WORK/body" ;; gzip) gzip -d -c "$WORK/body" ;; *) cat "$WORK/body" ;; esac \
        | grep -oE "(from|import)[[:space:]]*\(?[[:space:]]*['\"]\./[^'\"]+\.js['\"]" | grep -oE "\./[^'\"]+\.js" || true)
      ;;
  esac
done

budget() { python3 -c "import json,sys; print(json.load(open('budgets.json'))['firstLoad'][sys.argv[1]])" "$1"; }
WASM_BUDGET=$(budget wasmBrotliBytes)
TOTAL_BUDGET=$(budget totalBytes)

echo
echo "First load of the signed-in empty chat page (/), Accept-Encoding: br, gzip"
printf '%-58s %12s %12s  %s\n' "file" "raw bytes" "served bytes" "encoding"
for row in "${ROWS[@]}"; do
  IFS='|' read -r f raw served enc <<<"$row"
  printf '%-58s %12s %12s  %s\n' "$f" "$raw" "$served" "$enc"
done
printf '%-58s %12s %12s\n' "total" "" "$TOTAL"
echo
fail=0
verdict() { # name figure budget
  if [ "$2" -le "$3" ]; then
    printf 'OK           %-28s %9s bytes (budget %s)\n' "$1" "$2" "$3"
  else
    printf 'OVER BUDGET  %-28s %9s bytes (budget %s, %s over)\n' "$1" "$2" "$3" "$(($2 - $3))"
    fail=1
  fi
}
if [ "$WASM_SERVED" -eq 0 ]; then
  echo "check-size: the page references no WASM" >&2
  exit 2
fi
verdict "WASM (as served)" "$WASM_SERVED" "$WASM_BUDGET"
verdict "first-load total" "$TOTAL" "$TOTAL_BUDGET"
exit $fail
