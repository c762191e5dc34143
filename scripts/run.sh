#!/usr/bin/env bash
# Run MistralChat: install missing tools, build the release site, serve it at
# http://127.0.0.1:3000 on an embedded SQLite database under ./data/ (created
# and migrated automatically). Configuration: environment variables or .env.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
cargo leptos build --release --split
# brotli/gzip versions of the bundle, served to browsers that accept them.
scripts/compress-site.sh
exec scripts/serve.sh
