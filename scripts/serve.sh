#!/usr/bin/env bash
# Starts the already-built release server with the built site (used by run.sh
# and by the browser tests). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
# cargo-leptos writes the site under the workspace (site-root in Cargo.toml),
# whatever CARGO_TARGET_DIR says; only the binary lives in the target dir.
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
exec "$TARGET_DIR/release/server" "$@"
