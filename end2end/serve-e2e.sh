#!/usr/bin/env bash
# Starts the release server for the browser tests on a fresh database.
set -euo pipefail
PORT="${1:-3100}"
cd "$(dirname "$0")/.."
DIR="$(mktemp -d -t mistralchat-e2e-XXXXXX)"
export DATABASE_URL="sqlite://$DIR/e2e.db?mode=rwc"
export DATA_DIR="$DIR"
export APP_SECRET="e2e-secret-0123456789abcdef"
export PUBLIC_URL="http://127.0.0.1:$PORT"
export LEPTOS_SITE_ADDR="127.0.0.1:$PORT"
export RUST_LOG="${RUST_LOG:-warn}"
exec scripts/serve.sh
