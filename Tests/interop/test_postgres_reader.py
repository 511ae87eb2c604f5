"""The whole suite on PostgreSQL, with the Introspection Service reading the Token Service's
schema through a role that PostgreSQL itself keeps from writing (RFC 7662 answers unchanged).

Needs `NEOSEC_TEST_POSTGRES_URL` (a role that may create databases) and
`NEOSEC_TEST_POSTGRES_READER_URL` (a login role without rights), which `scripts/test.sh`
provides; each test gets a database of its own, since the schemas are named per service."""
import glob
import os
import shutil
import subprocess
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from conftest import binary, free_ports, start_suite, stop_suite

ADMIN_URL = os.environ.get("NEOSEC_TEST_POSTGRES_URL")
READER_URL = os.environ.get("NEOSEC_TEST_POSTGRES_READER_URL")
REQUIRED = os.environ.get("NEOSEC_REQUIRE_POSTGRES") == "1"

if not (ADMIN_URL and READER_URL):
    if REQUIRED:
        raise RuntimeError("NEOSEC_REQUIRE_POSTGRES=1 but NEOSEC_TEST_POSTGRES_URL / NEOSEC_TEST_POSTGRES_READER_URL are not set")
    pytestmark = pytest.mark.skip(reason="no PostgreSQL server configured")


def psql(url, sql):
    program = shutil.which("psql") or sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]
    subprocess.run([program, "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True, capture_output=True, timeout=30)


def with_database(url, name):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
def database():
    name = "neosec_e2e_" + uuid.uuid4().hex[:12]
    psql(ADMIN_URL, f"CREATE DATABASE {name}")
    yield with_database(ADMIN_URL, name), with_database(READER_URL, name)
    psql(ADMIN_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def reader_role():
    return urlsplit(READER_URL).username


def test_introspection_reads_the_token_store_through_a_read_only_role(database):
    owner, reader = database
    suite = start_suite(extra_env={
        "NEOSEC_DATABASE_URL": owner,
        "NEOSEC_TOKEN_STORE_READER_ROLE": reader_role(),
        "NEOSEC_INTROSPECT_TOKEN_STORE_URL": reader,
    })
    try:
        urls = suite["urls"]
        admin = {"Authorization": "Bearer " + suite["admin_token"]}
        client = requests.post(urls["token"] + "/admin/clients", headers=admin, timeout=10, json={
            "grant_types": ["client_credentials"], "scope": "a", "access_token_format": "opaque", "allowed_audiences": [urls["resource"]],
        }).json()
        credentials = (client["client_id"], client["client_secret"])
        token = requests.post(urls["token"] + "/oauth2/token", auth=credentials, timeout=10, data={
            "grant_type": "client_credentials", "scope": "a", "resource": urls["resource"],
        }).json()["access_token"]
        assert token.startswith("neo_at_")

        def introspect(value):
            response = requests.post(
                urls["introspect"] + "/oauth2/introspect", data={"token": value}, timeout=10,
                auth=("demo-resource-server", suite["clients"]["demo-resource-server"]),
            )
            assert response.status_code == 200, response.text
            return response.json()

        answer = introspect(token)
        assert answer["active"] is True and answer["client_id"] == client["client_id"] and answer["scope"] == "a"
        assert introspect("neo_at_" + "A" * 43) == {"active": False}
        # The resource server takes the opaque token through the Introspection Service.
        assert requests.get(urls["resource"] + "/api/whoami", headers={"Authorization": "Bearer " + token}, timeout=10).status_code == 200

        # A revocation at the Token Service is seen through the reader role within the cache bound.
        assert requests.post(urls["token"] + "/oauth2/revoke", data={"token": token}, auth=credentials, timeout=10).status_code == 200
        deadline = time.time() + 7
        while introspect(token)["active"] and time.time() < deadline:
            time.sleep(0.5)
        assert introspect(token) == {"active": False}

        # What the Introspection Service connects as: PostgreSQL refuses its writes.
        with pytest.raises(subprocess.CalledProcessError) as refused:
            psql(reader, "UPDATE neosec_token.issued_tokens SET revoked = 0")
        assert b"permission denied" in refused.value.stderr
        with pytest.raises(subprocess.CalledProcessError):
            psql(reader, "SELECT COUNT(*) FROM neosec_token.signing_keys")
    finally:
        stop_suite(suite)


def test_a_reader_url_with_write_rights_stops_the_introspection_service(database):
    """Misconfiguration is refused at start-up, not discovered later: the owner's URL given as
    the reader's."""
    owner, _ = database
    ports = free_ports()
    data = os.path.join(os.environ.get("TMPDIR", "/tmp"), "neosec-pg-" + uuid.uuid4().hex[:8])
    os.makedirs(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEOSEC_")}
    env.update({f"NEOSEC_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update({"NEOSEC_DATABASE_URL": owner, "NEOSEC_INTROSPECT_TOKEN_STORE_URL": owner, "NEOSEC_LOG_LEVEL": "warning"})
    # The Token Service creates the schema; the Introspection Service is then started alone.
    token = subprocess.Popen([binary("neosec-token")], env=env | {"NEOSEC_DATA_DIR": data}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{ports['token']}/health/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        result = subprocess.run([binary("neosec-introspect")], env=env | {"NEOSEC_DATA_DIR": data}, capture_output=True, timeout=60)
        assert result.returncode != 0
        output = (result.stdout + result.stderr).decode()
        assert "NEOSEC_INTROSPECT_TOKEN_STORE_URL" in output and "may write" in output, output
    finally:
        token.terminate()
        token.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)
