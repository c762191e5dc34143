#!/usr/bin/env bash
# Starts the already-built release server with the built site (used by run.sh
# and by the browser tests). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$TARGET_DIR/site}"
exec "$TARGET_DIR/release/server" "$@"
