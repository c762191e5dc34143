#!/usr/bin/env bash
# Starts the release server for the browser tests on a fresh database, with
# a local fake of the Mistral API (streaming at a fixed token rate).
set -euo pipefail
PORT="${1:-3100}"
FAKE_PORT=$((PORT + 800))
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
DIR="$(mktemp -d -t mistralchat-e2e-XXXXXX)"
"$TARGET_DIR/release/fake_upstreams" --addr "127.0.0.1:$FAKE_PORT" --token-delay-ms "${E2E_TOKEN_DELAY_MS:-60}" \
  --transcript "${E2E_TRANSCRIPT:-Tell me about Paris. [[fake:long words=100 tps=10]]}" &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null || true' EXIT INT TERM
export DATABASE_URL="sqlite://$DIR/e2e.db?mode=rwc"
export DATA_DIR="$DIR"
export APP_SECRET="e2e-secret-0123456789abcdef"
export PUBLIC_URL="http://127.0.0.1:$PORT"
export LEPTOS_SITE_ADDR="127.0.0.1:$PORT"
export MISTRAL_API_BASE="http://127.0.0.1:$FAKE_PORT"
# Accounts only unless the caller says otherwise: playwright.config.ts starts
# a second server with ALLOW_GUESTS=true (the default) for guests.spec.ts.
export ALLOW_GUESTS="${ALLOW_GUESTS:-false}"
export RUST_LOG="${RUST_LOG:-warn}"
scripts/serve.sh
