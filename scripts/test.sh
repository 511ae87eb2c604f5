#!/usr/bin/env bash
# Runs every NeoSec test: unit, in-process router, storage (SQLite and PostgreSQL), end-to-end
# over the built executables, and third-party interoperability (Python joserfc).
#
# PostgreSQL: if NEOSEC_TEST_POSTGRES_URL is unset and Debian's PostgreSQL server is installed,
# a throwaway cluster is started on 127.0.0.1 for the run and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

PG_DIR=""
QR_DIR=""
cleanup() {
    if [ -n "$QR_DIR" ]; then rm -rf "$QR_DIR"; fi
    if [ -n "$PG_DIR" ]; then
        run_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}
trap cleanup EXIT

# initdb refuses to run as root: run the cluster as the `postgres` system user when we are root.
run_pg() {
    if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Below the ephemeral range, so that no outgoing connection takes it first (see the script).
free_port() { python3 Tests/interop/ports.py; }

if [ -z "${NEOSEC_TEST_POSTGRES_URL:-}" ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ]; then
        PG_DIR=$(mktemp -d /tmp/neosec-pg.XXXXXX)
        chmod 755 "$PG_DIR"
        [ "$(id -u)" = "0" ] && chown postgres "$PG_DIR"
        PG_PORT=$(free_port)
        log "starting a throwaway PostgreSQL on 127.0.0.1:$PG_PORT"
        run_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U neosec --auth=trust --locale=C.UTF-8 -E UTF8 >"$PG_DIR/initdb.log"
        run_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=200" start >/dev/null
        run_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U neosec neosec_test
        export NEOSEC_TEST_POSTGRES_URL="postgres://neosec@127.0.0.1:$PG_PORT/neosec_test?sslmode=disable"
        # A login role without rights of its own: the Introspection Service's read-only role.
        run_pg "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U neosec -d neosec_test -c "CREATE ROLE neosec_reader LOGIN" >/dev/null
        export NEOSEC_TEST_POSTGRES_READER_URL="postgres://neosec_reader@127.0.0.1:$PG_PORT/neosec_test?sslmode=disable"
    else
        log "PostgreSQL server not installed: storage tests run on SQLite only"
    fi
fi

log "building (debug) with tests"
swift build --build-tests
BIN_DIR=$(swift build --show-bin-path)
export NEOSEC_BIN_DIR="$BIN_DIR"

# The QR Code tests write their symbols here; Tests/interop/test_qrcode_interop.py compares them
# with the Python `qrcode` package's.
QR_DIR=$(mktemp -d /tmp/neosec-qr.XXXXXX)
export NEOSEC_QR_VECTORS="$QR_DIR/qr.json"

log "swift test"
swift test --skip-build

log "interoperability tests (Python: joserfc, requests)"
VENV="${NEOSEC_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r Tests/interop/requirements.txt
"$VENV/bin/python" -m pytest -q Tests/interop
