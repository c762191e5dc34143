#!/usr/bin/env bash
# Runs every test: unit, integration (SQLite always; MariaDB/PostgreSQL when
# TEST_MYSQL_URL / TEST_POSTGRES_URL are set), the browser suite against
# the release build in headless Chromium, and schemathesis against the
# release server's OpenAPI document (scripts/fuzz-api.sh), and Lighthouse on
# the chat page and a long thread (scripts/lighthouse.sh). Without those services or Chromium
# the parts that need them say SKIPPED and why; with CI=true nothing may skip.
set -euo pipefail
cd "$(dirname "$0")/.."
CI="${CI:-false}"
# Same compile-time environment as the site build (see scripts/tools.sh).
export LEPTOS_OUTPUT_NAME=mistralchat
START=$(date +%s)
stage() { printf '\n==== %s (%ss elapsed) ====\n' "$*" "$(( $(date +%s) - START ))"; }
skip() {
  if [ "$CI" = "true" ]; then echo "FAILED: $* (CI=true: nothing may be skipped)"; exit 1; fi
  printf '\n**** SKIPPED: %s ****\n\n' "$*"
}

for var in TEST_MYSQL_URL TEST_POSTGRES_URL; do
  if [ -z "${!var:-}" ]; then
    skip "$var is not set: the integration tests run on SQLite only (e.g. $var=$( [ $var = TEST_MYSQL_URL ] && echo mysql://root@127.0.0.1:3306/test || echo postgres://postgres@127.0.0.1:5432/postgres ))"
  fi
done

stage "unit tests: app (ssr), migration, testkit (fakes, SSE parser)"
cargo test -p app --features ssr --lib
cargo test -p migration
cargo test -p testkit

stage "unit + integration tests: server (SQLite$( [ -n "${TEST_MYSQL_URL:-}" ] && echo ', MariaDB')$( [ -n "${TEST_POSTGRES_URL:-}" ] && echo ', PostgreSQL'))"
cargo test -p server

stage "browser tests"
RELEASE_BUILT=false
CHROMIUM="${CHROMIUM_PATH:-$(command -v chromium || command -v chromium-browser || true)}"
if [ -z "$CHROMIUM" ]; then
  skip "browser tests: no Chromium found (install Debian's chromium, or set CHROMIUM_PATH)"
elif ! command -v npm >/dev/null 2>&1; then
  skip "browser tests: npm is not installed"
else
  source scripts/tools.sh
  cargo leptos build --release --split
  # brotli/gzip versions of the bundle, as scripts/run.sh serves them.
  scripts/compress-site.sh
  # The fake Mistral the browser tests chat with (shares the release build).
  cargo build --release -p testkit --bin fake_upstreams
  RELEASE_BUILT=true
  stage "first-load size budget (budgets.json firstLoad)"
  scripts/check-size.sh
  stage "browser tests (playwright)"
  (cd end2end && if [ ! -d node_modules/@playwright/test ] || [ ! -x node_modules/.bin/lighthouse ]; then PUPPETEER_SKIP_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund; fi)
  (cd end2end && CHROMIUM_PATH="$CHROMIUM" npx playwright test)
fi

stage "Lighthouse: empty chat and a thread of 200 messages (minimums in budgets.json)"
if [ "$RELEASE_BUILT" != true ]; then
  skip "Lighthouse: it runs against the release build of the browser stage, which did not run"
else
  CHROME_PATH="$CHROMIUM" scripts/lighthouse.sh
fi

stage "API fuzzing: schemathesis against /api/openapi.json"
if [ "$RELEASE_BUILT" != true ]; then
  skip "API fuzzing: it runs against the release build of the browser stage, which did not run"
elif ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  skip "API fuzzing: python3 with venv is not installed (Debian: apt-get install python3-venv)"
else
  scripts/fuzz-api.sh
fi
stage "all tests passed"
