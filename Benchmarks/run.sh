#!/usr/bin/env bash
# Token Service throughput: client credentials (JWT and opaque access tokens) against a no-op
# route of the same server, keep-alive, on loopback. Builds release binaries into .build-release
# unless NEOSEC_BENCH_BIN names a directory holding neosec-token.
#
#   Benchmarks/run.sh [duration-seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-15}
CONNECTIONS=${2:-32}

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
if [ -z "${NEOSEC_BENCH_BIN:-}" ]; then
    swift build -c release --scratch-path .build-release --product neosec-token >&2
    NEOSEC_BENCH_BIN=$(swift build -c release --scratch-path .build-release --show-bin-path)
fi

WORK=$(mktemp -d /tmp/neosec-bench.XXXXXX)
PORT=$(python3 Tests/interop/ports.py)
ADMIN="bench-admin-token-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

NEOSEC_TOKEN_PORT=$PORT NEOSEC_DATA_DIR=$WORK NEOSEC_ADMIN_TOKEN=$ADMIN NEOSEC_LOG_LEVEL=error \
    "$NEOSEC_BENCH_BIN/neosec-token" 2>"$WORK/token.log" &
PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -fsS "$BASE/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done

register() {
    curl -fsS -X POST "$BASE/admin/clients" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
        -d "{\"grant_types\":[\"client_credentials\"],\"scope\":\"bench\",\"allowed_audiences\":[\"http://127.0.0.1:9004\"],\"access_token_format\":\"$1\",\"access_token_signing_alg\":\"${2:-ES256}\"}"
}
basic() { python3 -c 'import json,sys,base64; c=json.load(sys.stdin); print("Basic "+base64.b64encode((c["client_id"]+":"+c["client_secret"]).encode()).decode())'; }
JWT_AUTH=$(register jwt ES256 | basic)
RSA_AUTH=$(register jwt RS256 | basic)
OPAQUE_AUTH=$(register opaque | basic)

echo "# $(date -u +%FT%TZ) $(nproc) cores, wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency, keep-alive, loopback"
source Benchmarks/steal.sh
run() {
    local name=$1 script=$2 path=$3 auth=${4:-}
    echo "## $name"
    local before; before=$(cpu_times)
    NEOSEC_BENCH_AUTH=$auth wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "Benchmarks/$script" "$BASE$path" \
        | grep -E 'Requests/sec|^ +50%|^ +99%|non-2xx|Latency  '
    steal_since "$before"
}
run "no-op route (GET /health/live)" noop.lua /health/live
run "client_credentials, JWT access token (ES256, the default)" client_credentials.lua /oauth2/token "$JWT_AUTH"
run "client_credentials, JWT access token (RS256)" client_credentials.lua /oauth2/token "$RSA_AUTH"
run "client_credentials, opaque access token (stored hash, SQLite synchronous=FULL, group commit)" client_credentials.lua /oauth2/token "$OPAQUE_AUTH"
