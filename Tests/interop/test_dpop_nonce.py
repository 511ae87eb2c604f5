"""DPoP server nonces (RFC 9449 §8, §9) on a suite started with NEOSEC_DPOP_NONCE=required: a
proof without the nonce is answered `use_dpop_nonce` with a `DPoP-Nonce` header, and the same
request with that nonce succeeds — at the token endpoint and at the resource server."""
import pytest
import requests
from joserfc.jwk import ECKey

from conftest import start_suite, stop_suite
from test_dpop_joserfc import proof
from test_resource_server import challenge


@pytest.fixture(scope="module")
def nonce_suite():
    running = start_suite(extra_env={"NEOSEC_DPOP_NONCE": "required"})
    yield running
    stop_suite(running)


def test_nonce_round_trip(nonce_suite):
    suite = nonce_suite
    key = ECKey.generate_key("P-256")
    url = suite["urls"]["token"] + "/oauth2/token"
    auth = ("demo-service", suite["clients"]["demo-service"])
    first = requests.post(url, data={"grant_type": "client_credentials"}, auth=auth, headers={"DPoP": proof(key, "POST", url)}, timeout=10)
    assert first.status_code == 400
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    wrong = requests.post(url, data={"grant_type": "client_credentials"}, auth=auth, headers={"DPoP": proof(key, "POST", url, claims={"nonce": "forged"})}, timeout=10)
    assert wrong.json()["error"] == "use_dpop_nonce"
    issued = requests.post(url, data={"grant_type": "client_credentials"}, auth=auth, headers={"DPoP": proof(key, "POST", url, claims={"nonce": nonce})}, timeout=10)
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]

    api = suite["urls"]["resource"] + "/api/documents"
    refused = requests.get(api, headers={"Authorization": "DPoP " + token, "DPoP": proof(key, "GET", api, token)}, timeout=10)
    assert refused.status_code == 401
    assert challenge(refused, "DPoP")["error"] == "use_dpop_nonce"
    server_nonce = refused.headers["DPoP-Nonce"]
    ok = requests.get(api, headers={"Authorization": "DPoP " + token, "DPoP": proof(key, "GET", api, token, claims={"nonce": server_nonce})}, timeout=10)
    assert ok.status_code == 200, ok.text
