#!/usr/bin/env bash
# Lighthouse (npm lighthouse, pinned in end2end/package.json; mobile preset)
# against the release build, in Debian's Chromium:
#
#   scripts/lighthouse.sh            # needs the release site, server and fake_upstreams built
#
# Starts the release server on a fresh SQLite database with the fake Mistral
# (end2end/serve-e2e.sh), then end2end/lighthouse/run.mjs signs up, writes a
# thread of 200 messages through POST /api/chat, and audits the signed-in
# empty chat `/` and that thread `/t/<id>`. Prints the category scores,
# LCP / TBT / CLS and the failing audits of each page; exits 1 when a score
# is below its minimum in budgets.json `lighthouse`. Reports (HTML + JSON) go
# to end2end/lighthouse/reports/. LIGHTHOUSE_PORT (default 3200) picks the port;
# LIGHTHOUSE_RUNS (default 3) how many times each page is audited: the run
# with the median performance score is the one reported and checked.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${LIGHTHOUSE_PORT:-3200}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
export CHROME_PATH="${CHROME_PATH:-${CHROMIUM_PATH:-$(command -v chromium || command -v chromium-browser || true)}}"

for f in "$TARGET_DIR/release/server" "$TARGET_DIR/release/fake_upstreams"; do
  if [ ! -x "$f" ]; then
    echo "lighthouse: $f is missing; build it first (cargo leptos build --release --split; cargo build --release -p testkit --bin fake_upstreams)" >&2
    exit 2
  fi
done
if [ -z "$CHROME_PATH" ] || [ ! -x "$CHROME_PATH" ]; then
  echo "lighthouse: no Chromium found (install Debian's chromium, or set CHROME_PATH)" >&2
  exit 2
fi
if [ ! -x end2end/node_modules/.bin/lighthouse ]; then
  (cd end2end && PUPPETEER_SKIP_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

# Its own process group, so that stopping it stops the server and the fake.
LOG="$(mktemp -t mistralchat-lighthouse-XXXXXX.log)"
E2E_TOKEN_DELAY_MS=1 setsid bash end2end/serve-e2e.sh "$PORT" >"$LOG" 2>&1 &
SERVER_PGID=$!
stop() { kill -TERM -- "-$SERVER_PGID" 2>/dev/null || true; wait "$SERVER_PGID" 2>/dev/null || true; }
trap stop EXIT INT TERM

for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PGID" 2>/dev/null; then
    echo "lighthouse: the server exited; its log:" >&2
    cat "$LOG" >&2
    exit 2
  fi
  sleep 0.5
done
if ! curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
  echo "lighthouse: the server did not become ready in 60 s; its log:" >&2
  cat "$LOG" >&2
  exit 2
fi

set +e
node end2end/lighthouse/run.mjs --base "http://127.0.0.1:$PORT" --budgets budgets.json
STATUS=$?
set -e
if [ "$STATUS" -ne 0 ] && [ "$STATUS" -ne 1 ]; then
  echo "lighthouse: the run failed (status $STATUS); the server's log:" >&2
  tail -n 50 "$LOG" >&2
fi
rm -f "$LOG"
exit "$STATUS"
