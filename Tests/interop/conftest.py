"""Starts `neosec up` (the built binary) on free loopback ports for the interoperability tests."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

SERVICES = ["token", "authn", "uma", "introspect", "resource"]
# `neosec up` prints its banner once every service is ready *and* the demo clients and users are
# seeded (SPEC §4), which happens after /health/ready already answers 200.
BANNER_END = "Press Ctrl-C to stop every service."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary(name: str) -> str:
    bin_dir = os.environ.get("NEOSEC_BIN_DIR")
    if not bin_dir:
        bin_dir = subprocess.check_output(["swift", "build", "--show-bin-path"], text=True).strip()
    return str(pathlib.Path(bin_dir) / name)


@pytest.fixture(scope="session")
def suite():
    ports = {name: free_port() for name in SERVICES}
    data = tempfile.mkdtemp(prefix="neosec-interop-")
    store = os.path.join(data, "store")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEOSEC_") or k == "NEOSEC_BIN_DIR"}
    env.update({f"NEOSEC_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env["NEOSEC_LOG_LEVEL"] = "warning"
    log_path = os.path.join(data, "up.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [binary("neosec"), "up", "--data-dir", store, "--ready-timeout", "20"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )

    def output() -> str:
        with open(log_path) as f:
            return f.read()

    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if all(requests.get(u + "/health/ready", timeout=1).status_code == 200 for u in urls.values()):
                break
        except requests.RequestException:
            pass
        assert proc.poll() is None, output()
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("neosec up did not become ready\n" + output())
    # Then wait for the seeding of the demo fixtures (two scrypt hashes and four registrations).
    deadline = time.time() + 60
    while BANNER_END not in output():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail("neosec up did not finish seeding the demo fixtures\n" + output())
        time.sleep(0.2)
    with open(os.path.join(store, "admin.token")) as f:
        admin_token = f.read().strip()
    with open(os.path.join(store, "fixtures.json")) as f:
        clients = {entry["client_id"]: entry.get("client_secret") for entry in json.load(f)}
    yield {"urls": urls, "admin_token": admin_token, "data_dir": data, "clients": clients}
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
