#!/usr/bin/env bash
# Introspection Service and demo resource server throughput, each against a no-op route of the
# same server (GET /health/live), keep-alive, on loopback:
#   - introspection of an opaque token, cache hit (the same token every request)
#   - introspection of an opaque token, cache miss (a second suite with the cache off,
#     NEOSEC_INTROSPECT_CACHE_CAPACITY=0: every answer read from the token store)
#   - resource server GET /api/whoami with a JWT access token (verified once, then cached)
#   - resource server GET /api/whoami with a DPoP-bound JWT and a fresh ES256 proof per request
# Runs `neosec up` from a release build (.build-release) unless NEOSEC_BENCH_BIN names a
# directory holding `neosec` and the service executables. Needs wrk, curl, and the Python venv
# of the interop tests (joserfc makes the DPoP proofs).
#
#   Benchmarks/resource.sh [duration-seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-32}
PY=${NEOSEC_VENV:-.venv}/bin/python

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
if [ -z "${NEOSEC_BENCH_BIN:-}" ]; then
    swift build -c release --scratch-path .build-release --product neosec >&2
    NEOSEC_BENCH_BIN=$(swift build -c release --scratch-path .build-release --show-bin-path)
fi
export NEOSEC_BIN_DIR=$NEOSEC_BENCH_BIN

WORK=$(mktemp -d /tmp/neosec-bench.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill -INT "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# Starts a suite in $WORK/$1 with the extra environment in the remaining arguments.
start_suite() {
    local dir=$WORK/$1; shift
    mkdir -p "$dir"
    # Ports below the ephemeral range (Tests/interop/ports.py says why), distinct from each other.
    read -r -d '' NEOSEC_TOKEN_PORT NEOSEC_AUTHN_PORT NEOSEC_UMA_PORT NEOSEC_INTROSPECT_PORT NEOSEC_RESOURCE_PORT \
        < <(python3 Tests/interop/ports.py 5) || true
    export NEOSEC_TOKEN_PORT NEOSEC_AUTHN_PORT NEOSEC_UMA_PORT NEOSEC_INTROSPECT_PORT NEOSEC_RESOURCE_PORT
    env NEOSEC_LOG_LEVEL=error "$@" "$NEOSEC_BENCH_BIN/neosec" up --data-dir "$dir/store" >"$dir/up.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 300); do grep -q 'Press Ctrl-C' "$dir/up.log" 2>/dev/null && break; sleep 0.2; done
    grep -q 'Press Ctrl-C' "$dir/up.log" || { cat "$dir/up.log" >&2; exit 1; }
    TOKEN_URL=http://127.0.0.1:$NEOSEC_TOKEN_PORT
    INTROSPECT_URL=http://127.0.0.1:$NEOSEC_INTROSPECT_PORT
    RESOURCE_URL=http://127.0.0.1:$NEOSEC_RESOURCE_PORT
    ADMIN=$(cat "$dir/store/admin.token")
    secret() { "$PY" -c 'import json,sys; print([c for c in json.load(open(sys.argv[1])) if c["client_id"]==sys.argv[2]][0]["client_secret"])' "$dir/store/fixtures.json" "$1"; }
    RS_AUTH="Basic $(printf '%s:%s' demo-resource-server "$(secret demo-resource-server)" | base64 -w0)"
    SERVICE_AUTH="Basic $(printf '%s:%s' demo-service "$(secret demo-service)" | base64 -w0)"
    OPAQUE=$(curl -fsS -X POST "$TOKEN_URL/admin/clients" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
        -d "{\"grant_types\":[\"client_credentials\"],\"scope\":\"documents:read\",\"allowed_audiences\":[\"$RESOURCE_URL\"],\"access_token_format\":\"opaque\",\"access_token_lifetime\":3600}")
    OPAQUE_AUTH="Basic $(echo "$OPAQUE" | "$PY" -c 'import json,sys,base64; c=json.load(sys.stdin); print(base64.b64encode((c["client_id"]+":"+c["client_secret"]).encode()).decode())')"
    OPAQUE_TOKEN=$(curl -fsS -X POST "$TOKEN_URL/oauth2/token" -H "Authorization: $OPAQUE_AUTH" -d grant_type=client_credentials | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
}
stop_suite() { kill -INT "$PID"; wait "$PID" || true; PID=""; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency, keep-alive, loopback"
source Benchmarks/steal.sh
run() {
    local name=$1 script=$2 url=$3
    echo "## $name"
    local before; before=$(cpu_times)
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "Benchmarks/$script" "$url" | grep -E 'Requests/sec|^ +50%|^ +99%|non-2xx|Latency  '
    steal_since "$before"
}

start_suite cached
run "introspection service: no-op route (GET /health/live)" bearer.lua "$INTROSPECT_URL/health/live"
NEOSEC_BENCH_AUTH=$RS_AUTH NEOSEC_BENCH_TOKEN=$OPAQUE_TOKEN run "introspection of an opaque token, cache hit" introspect.lua "$INTROSPECT_URL/oauth2/introspect"

JWT=$(curl -fsS -X POST "$TOKEN_URL/oauth2/token" -H "Authorization: $SERVICE_AUTH" -d grant_type=client_credentials | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
run "resource server: no-op route (GET /health/live)" bearer.lua "$RESOURCE_URL/health/live"
NEOSEC_BENCH_AUTH="Bearer $JWT" run "resource server GET /api/whoami, JWT access token" bearer.lua "$RESOURCE_URL/api/whoami"
NEOSEC_BENCH_AUTH="Bearer $OPAQUE_TOKEN" run "resource server GET /api/whoami, opaque access token (phantom JWT, cached 5 s)" bearer.lua "$RESOURCE_URL/api/whoami"

KEY=$WORK/dpop-key.json
PROOF=$("$PY" Benchmarks/dpop_proofs.py "$KEY" --token-proof "$TOKEN_URL/oauth2/token")
BOUND=$(curl -fsS -X POST "$TOKEN_URL/oauth2/token" -H "Authorization: $SERVICE_AUTH" -H "DPoP: $PROOF" -d grant_type=client_credentials | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
PROOFS=${NEOSEC_BENCH_PROOFS_COUNT:-120000}
"$PY" Benchmarks/dpop_proofs.py "$KEY" "$PROOFS" "$RESOURCE_URL/api/whoami" "$BOUND" >"$WORK/proofs.txt"
NEOSEC_BENCH_TOKEN=$BOUND NEOSEC_BENCH_PROOFS=$WORK/proofs.txt run "resource server GET /api/whoami, DPoP-bound JWT, new ES256 proof per request ($PROOFS proofs)" dpop.lua "$RESOURCE_URL/api/whoami"
stop_suite

start_suite uncached NEOSEC_INTROSPECT_CACHE_CAPACITY=0
run "introspection service (cache off): no-op route (GET /health/live)" bearer.lua "$INTROSPECT_URL/health/live"
NEOSEC_BENCH_AUTH=$RS_AUTH NEOSEC_BENCH_TOKEN=$OPAQUE_TOKEN run "introspection of an opaque token, cache miss (store read each time)" introspect.lua "$INTROSPECT_URL/oauth2/introspect"
stop_suite
