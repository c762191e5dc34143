#!/usr/bin/env bash
# Installs (once) and puts on PATH the build tools the site needs, from the
# package registries only — nothing is downloaded from GitHub:
#   - the wasm32-unknown-unknown target
#   - cargo-leptos 0.3.6 (builds on rustc 1.95; --features no_downloads)
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock
#   - wasm-opt >= 116 (the wasm-opt crate, which builds binaryen from source)
# Tools live in $MISTRALCHAT_TOOLS (default ~/.cache/mistralchat/tools) and are
# reused by every later run. Source this file; it exports PATH.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${MISTRALCHAT_TOOLS:-$HOME/.cache/mistralchat/tools}"
CARGO_LEPTOS_VERSION="0.3.6"
mkdir -p "$TOOLS/bin"
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH"
# leptos reads this at compile time to name the hydration files; cargo-leptos
# sets it too, so plain cargo builds must match or they rebuild leptos with
# another name (and the page then asks for mistralchat_bg.wasm).
export LEPTOS_OUTPUT_NAME=mistralchat

log() { printf '[tools] %s\n' "$*" >&2; }

# Tool builds do not need fat LTO; this cuts their install time several-fold.
fast_install() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_TARGET_DIR="$TOOLS/build" cargo install --root "$TOOLS" "$@"
}

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown >&2
fi

if ! cargo-leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (one-time, several minutes)"
  fast_install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads >&2
fi

WB_VERSION="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' "$ROOT_DIR/Cargo.lock")"
if [ -z "$WB_VERSION" ]; then
  echo "[tools] cannot find the wasm-bindgen version in Cargo.lock" >&2
  exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WB_VERSION\$"; then
  log "installing wasm-bindgen-cli $WB_VERSION (one-time)"
  # Not --locked: the CLI's own lock file names a webpki-roots the registry no longer has.
  fast_install wasm-bindgen-cli --version "$WB_VERSION" --force >&2
fi

# wasm-opt >= 116 is required: binaryen 108 (Debian bookworm) corrupts the
# externref table that wasm-bindgen emits for rustc's default reference-types,
# and the hydrated page dies with "WebAssembly.Table.set(): Argument 1 is invalid".
# The wasm-opt crate builds a current binaryen from source (one-time, ~10 min).
wasm_opt_version() { wasm-opt --version 2>/dev/null | grep -oE '[0-9]+' | head -1; }
if [ "$(wasm_opt_version || echo 0)" -lt 116 ] 2>/dev/null || ! command -v wasm-opt >/dev/null 2>&1; then
  log "building wasm-opt (binaryen 116) from the wasm-opt crate (one-time, slow)"
  fast_install wasm-opt --version 0.116.1 --locked >&2
fi
log "cargo-leptos $(cargo-leptos --version | awk '{print $2}'), wasm-bindgen $WB_VERSION, $(wasm-opt --version)"
