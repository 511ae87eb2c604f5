"""Starts `neosec up` (the built binary) on free loopback ports for the interoperability tests."""
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEOSEC_") or k == "NEOSEC_BIN_DIR"}
    env.update({f"NEOSEC_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env["NEOSEC_LOG_LEVEL"] = "warning"
    log = open(os.path.join(data, "up.log"), "w")
    proc = subprocess.Popen(
        [binary("neosec"), "up", "--data-dir", os.path.join(data, "store"), "--ready-timeout", "20"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if all(requests.get(u + "/health/ready", timeout=1).status_code == 200 for u in urls.values()):
                break
        except requests.RequestException:
            pass
        assert proc.poll() is None, open(os.path.join(data, "up.log")).read()
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("neosec up did not become ready")
    admin_token = open(os.path.join(data, "store", "admin.token")).read().strip()
    yield {"urls": urls, "admin_token": admin_token}
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
