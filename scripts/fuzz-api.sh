#!/usr/bin/env bash
# Fuzzes the JSON API against its own OpenAPI document (/api/openapi.json)
# with schemathesis: examples, coverage (edge and negative values), fuzzing
# (positive and negative data) and stateful phases (following the document's
# links: send → events/stop/regenerate/edit → thread), as a signed-in user.
#
# Fails on any 5xx, any response that does not match the documented schema,
# status or content type, and any request slower than 1 s.
#
# Needs the release binaries `server` (cargo leptos build --release --split) and
# `fake_upstreams` (the fake Mistral; cargo build --release --bin fake_upstreams)
# in $CARGO_TARGET_DIR/release — scripts/test.sh builds both in its browser stage.
# Installs schemathesis once into a venv under ~/.cache/mistralchat/venv.
#
# Not fuzzed, and why:
#   DELETE /api/auth/delete and POST /api/auth/logout would end the run's own
#     session mid-run (every later request would be a 401);
#   POST /api/auth/google/token needs Google, which has no local fake process:
#     without GOOGLE_CLIENT_ID it answers 501 by design.
# Their contracts are covered by the integration tests (server/tests/api).
#
# Tunables: FUZZ_PROFILE (release; `debug` runs the binaries of a plain
# `cargo build` for a quick local look, slower answers included), FUZZ_PORT (3400), FUZZ_MAX_EXAMPLES (30 per operation and phase),
# FUZZ_MAX_TIME (seconds for the whole run, 180), FUZZ_SEED (fixed by default so
# a failure reproduces; FUZZ_SEED=random for a new one).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
CACHE="${MISTRALCHAT_CACHE:-$HOME/.cache/mistralchat}"
VENV="$CACHE/venv"
SCHEMATHESIS_VERSION="4.32.5"
PORT="${FUZZ_PORT:-3400}"
FAKE_PORT=$((PORT + 800))
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-30}"
MAX_TIME="${FUZZ_MAX_TIME:-180}"
SEED="${FUZZ_SEED:-20261130}"
PROFILE="${FUZZ_PROFILE:-release}"
KEY="fuzz-mistral-key-0123456789"
log() { printf '[fuzz] %s\n' "$*" >&2; }

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV (one-time)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

for bin in server fake_upstreams; do
  if [ ! -x "$TARGET_DIR/$PROFILE/$bin" ]; then
    log "$TARGET_DIR/$PROFILE/$bin is missing: build the release binaries first (see scripts/test.sh, browser stage)"
    exit 1
  fi
done

WORK="$(mktemp -d -t mistralchat-fuzz-XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Without --valid-key the fake accepts any key (but `invalid…`): the fuzzer
# replaces the user's key with random ones and the answers must still run.
"$TARGET_DIR/$PROFILE/fake_upstreams" --addr "127.0.0.1:$FAKE_PORT" \
  >"$WORK/fake.log" 2>&1 &
PIDS+=($!)
(
  export DATABASE_URL="sqlite://$WORK/fuzz.db?mode=rwc"
  export DATA_DIR="$WORK"
  export APP_SECRET="fuzz-secret-0123456789abcdef"
  export PUBLIC_URL="http://127.0.0.1:$PORT"
  export LEPTOS_SITE_ADDR="127.0.0.1:$PORT"
  export MISTRAL_API_BASE="http://127.0.0.1:$FAKE_PORT"
  # The operator's key: answers run even after the fuzzer removed the user's.
  export MISTRAL_API_KEY="$KEY"
  export ALLOW_SERVER_KEY=true
  export RUST_LOG="${RUST_LOG:-warn}"
  export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
  exec "$TARGET_DIR/$PROFILE/server"
) >"$WORK/server.log" 2>&1 &
PIDS+=($!)

BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
if ! curl -fsS "$BASE/readyz" >/dev/null; then
  log "the server did not become ready; its log:"
  cat "$WORK/server.log" >&2
  exit 1
fi

# A signed-in user whose answers go to the fake Mistral.
REG_HEADERS="$(curl -fsS -o /dev/null -D - -H 'content-type: application/json' \
  -d '{"email":"fuzz@example.com","password":"fuzz-password-123","name":"Fuzz"}' \
  "$BASE/api/auth/email/register")"
TOKEN="$(printf '%s' "$REG_HEADERS" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(__Host-\)\{0,1\}access_token=\([^;]*\).*/\2/p' | head -1)"
if [ -z "$TOKEN" ]; then
  log "registration gave no session token:"
  printf '%s\n' "$REG_HEADERS" >&2
  exit 1
fi
curl -fsS -o /dev/null -X PUT -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"apiKey\":\"$KEY\"}" "$BASE/api/settings/key"
# One conversation, so the read operations have something to find.
curl -fsS -o /dev/null -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"text":"Hello fuzzer"}' "$BASE/api/chat"

CHECKS="not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
SEED_ARGS=(--seed "$SEED")
[ "$SEED" = random ] && SEED_ARGS=()
log "schemathesis $SCHEMATHESIS_VERSION against $BASE/api/openapi.json (max $MAX_EXAMPLES examples, ${MAX_TIME}s)"
set +e
# From the scratch directory: schemathesis keeps a cache in the working directory.
(cd "$WORK" && "$VENV/bin/schemathesis" run "$BASE/api/openapi.json" \
  --url "$BASE" \
  --header "Authorization: Bearer $TOKEN" \
  --phases examples,coverage,fuzzing,stateful \
  --mode all \
  --checks "$CHECKS" \
  --max-response-time 1 \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  --request-timeout 10 \
  --workers 1 \
  "${SEED_ARGS[@]}" \
  --exclude-path /api/auth/delete \
  --exclude-path /api/auth/logout \
  --exclude-path /api/auth/google/token \
  --no-color \
  --report junit --report-junit-path "$WORK/junit.xml" \
  2>&1) | tee "$WORK/schemathesis.log"
STATUS=${PIPESTATUS[0]}
set -e

# The summary: operations covered, checks and test cases run, failures.
python3 - "$WORK/junit.xml" "$WORK/schemathesis.log" "$BASE/api/openapi.json" "$STATUS" "$CHECKS" <<'PY' || true
import json, re, sys, urllib.request, xml.etree.ElementTree as ET
junit, log, doc_url, status, checks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
try:
    doc = json.load(urllib.request.urlopen(doc_url))
    ops = sum(1 for item in doc["paths"].values() for m in ("get", "put", "post", "delete", "patch") if m in item)
except Exception:
    ops = "?"
try:
    cases = list(ET.parse(junit).getroot().iter("testcase"))
except Exception as e:  # no report: schemathesis did not get that far
    print(f"[fuzz] no JUnit report ({e})")
    cases = []
names = [c.get("name") or "" for c in cases]
operations = [n for n in names if re.match(r"^(GET|PUT|POST|DELETE|PATCH) ", n)]
failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
text = open(log, encoding="utf-8", errors="replace").read()
generated = re.search(r"(\d+) generated[^\n]*", text)
print(f"[fuzz] summary: {len(operations)} of {ops} documented operations fuzzed "
      f"(+ stateful scenarios: {'yes' if 'Stateful tests' in names or 'Stateful' in text else 'no'}); "
      f"checks: {checks}, max response time 1 s; "
      f"test cases: {generated.group(0) if generated else '?'}; "
      f"operations with failures: {len(failed)}; schemathesis exit status {status}")
for name in failed:
    print(f"[fuzz]   FAILED: {name}")
PY
if [ "$STATUS" -ne 0 ]; then
  log "schemathesis found failures (server log: below)"
  tail -n 50 "$WORK/server.log" >&2
  exit "$STATUS"
fi
log "no failures"
