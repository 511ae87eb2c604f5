"""Starts `neosec up` (the built binary) on free loopback ports for the interoperability tests.

`start_suite` / `stop_suite` are shared: the session fixture `suite` below runs one suite, and
the federation tests (`test_federation_chromium.py`) run two, the second federating to the first.
"""
import json
import os
import pathlib
import signal
import subprocess
import tempfile
import time

import pytest
import requests

from ports import free_port

SERVICES = ["token", "authn", "uma", "introspect", "resource"]
# `neosec up` prints its banner once every service is ready *and* the demo clients and users are
# seeded (SPEC §4), which happens after /health/ready already answers 200.
BANNER_END = "Press Ctrl-C to stop every service."


def free_ports() -> dict:
    """One free loopback port per service, to give `start_suite` (or to know a suite's URLs
    before it starts, as a federation test must to register its callback upstream)."""
    return {name: free_port() for name in SERVICES}


def binary(name: str) -> str:
    bin_dir = os.environ.get("NEOSEC_BIN_DIR")
    if not bin_dir:
        bin_dir = subprocess.check_output(["swift", "build", "--show-bin-path"], text=True).strip()
    return str(pathlib.Path(bin_dir) / name)


def start_suite(extra_env=None, ports=None, host="127.0.0.1", profile="standard"):
    """Runs `neosec up` in a fresh data directory and waits for it to be ready and seeded.

    The services always listen on 127.0.0.1; `host` is the name in their public URLs
    (`NEOSEC_<SERVICE>_URL`, `NEOSEC_ISSUER`), e.g. `localhost`, so that a browser keeps the
    cookies of two suites apart (cookies are per host, not per port). `extra_env` is added to
    the environment last. Returns the dict the tests use (`urls`, `admin_token`, `data_dir`,
    `clients`, `ports`); pass it to `stop_suite`. `profile="full"` adds the print service and the
    second issuer (`urls["print"]`, `urls["issuer_b"]`)."""
    ports = dict(ports or free_ports())
    extra_ports = {"print": free_port(), "issuer_b": free_port()} if profile == "full" else {}
    data = tempfile.mkdtemp(prefix="neosec-interop-")
    store = os.path.join(data, "store")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEOSEC_") or k == "NEOSEC_BIN_DIR"}
    env.update({f"NEOSEC_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env["NEOSEC_LOG_LEVEL"] = "warning"
    urls = {name: f"http://{host}:{port}" for name, port in ports.items()}
    for name, port in extra_ports.items():
        env[f"NEOSEC_{name.upper()}_PORT"] = str(port)
        urls[name] = f"http://127.0.0.1:{port}"
    if host != "127.0.0.1":
        env.update({f"NEOSEC_{name.upper()}_URL": url for name, url in urls.items()})
        env["NEOSEC_ISSUER"] = urls["token"]
    env.update(extra_env or {})
    log_path = os.path.join(data, "up.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [binary("neosec"), "up", "--data-dir", store, "--ready-timeout", "20", "--profile", profile],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )

    def output() -> str:
        with open(log_path) as f:
            return f.read()

    def give_up(message):
        proc.kill()
        proc.wait(timeout=20)
        log.close()
        pytest.fail(message + "\n" + output())

    # Readiness is probed where the services listen, whatever name their URLs carry.
    probes = [f"http://127.0.0.1:{port}/health/ready" for port in list(ports.values()) + list(extra_ports.values())]
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if all(requests.get(u, timeout=1).status_code == 200 for u in probes):
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            give_up("neosec up exited early")
        time.sleep(0.2)
    else:
        give_up("neosec up did not become ready")
    # Then wait for the seeding of the demo fixtures (two scrypt hashes and four registrations).
    deadline = time.time() + 60
    while BANNER_END not in output():
        if proc.poll() is not None or time.time() > deadline:
            give_up("neosec up did not finish seeding the demo fixtures")
        time.sleep(0.2)
    with open(os.path.join(store, "admin.token")) as f:
        admin_token = f.read().strip()
    with open(os.path.join(store, "fixtures.json")) as f:
        clients = {entry["client_id"]: entry.get("client_secret") for entry in json.load(f)}
    return {
        "urls": urls, "admin_token": admin_token, "data_dir": data, "clients": clients, "ports": ports,
        "_process": proc, "_log": log,
    }


def stop_suite(suite):
    """Ctrl-C to `neosec up`, which stops every service; it must exit cleanly."""
    proc = suite["_process"]
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=20)
        suite["_log"].close()


@pytest.fixture(scope="session")
def suite():
    running = start_suite()
    yield running
    stop_suite(running)
