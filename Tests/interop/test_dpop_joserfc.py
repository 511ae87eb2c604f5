"""DPoP (RFC 9449) end to end over a running suite, with proofs made by joserfc (a JOSE library
nobody here wrote): the token endpoint binds the token to the proof's key, the resource server
and userinfo demand a matching proof for every request, and each way a proof can be wrong is
refused with the RFC's error."""
import base64
import hashlib
import json
import time
import uuid

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from test_resource_server import challenge, register


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def proof(key, method, url, token=None, alg="ES256", **overrides):
    claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
    if token is not None:
        claims["ath"] = b64(hashlib.sha256(token.encode()).digest())
    claims.update(overrides.pop("claims", {}))
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    header.update(overrides.pop("header", {}))
    return jwt.encode(header, claims, key, algorithms=[alg])


def thumbprint(key) -> str:
    return key.thumbprint()


@pytest.fixture(scope="module")
def key():
    return ECKey.generate_key("P-256")


@pytest.fixture(scope="module")
def bound(suite, key):
    """A DPoP-bound JWT access token of demo-service."""
    url = suite["urls"]["token"] + "/oauth2/token"
    response = requests.post(
        url, data={"grant_type": "client_credentials"}, auth=("demo-service", suite["clients"]["demo-service"]),
        headers={"DPoP": proof(key, "POST", url)}, timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    return body["access_token"]


def call(suite, token, key, path="/api/documents", method="GET", scheme="DPoP", dpop=True, **proof_options):
    url = suite["urls"]["resource"] + path
    headers = {"Authorization": f"{scheme} {token}"}
    if dpop:
        headers["DPoP"] = proof(key, method, url, token, **proof_options)
    return requests.request(method, url, headers=headers, timeout=10)


def test_discovery_advertises_dpop_algorithms(suite):
    metadata = requests.get(suite["urls"]["token"] + "/.well-known/openid-configuration", timeout=5).json()
    assert set(metadata["dpop_signing_alg_values_supported"]) >= {"ES256", "RS256", "EdDSA"}
    assert "none" not in metadata["dpop_signing_alg_values_supported"]


def test_bound_token_carries_the_key_thumbprint(suite, key, bound):
    claims = json.loads(base64.urlsafe_b64decode(bound.split(".")[1] + "=="))
    assert claims["cnf"] == {"jkt": thumbprint(key)}
    answer = requests.post(
        suite["urls"]["introspect"] + "/oauth2/introspect", data={"token": bound},
        auth=("demo-resource-server", suite["clients"]["demo-resource-server"]), timeout=10,
    ).json()
    assert answer["active"] is True
    assert answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": thumbprint(key)}


def test_happy_path_with_each_algorithm(suite):
    url = suite["urls"]["token"] + "/oauth2/token"
    for key, alg in [(ECKey.generate_key("P-256"), "ES256"), (RSAKey.generate_key(2048), "RS256"), (RSAKey.generate_key(2048), "PS256"), (OKPKey.generate_key("Ed25519"), "EdDSA")]:
        response = requests.post(
            url, data={"grant_type": "client_credentials"}, auth=("demo-service", suite["clients"]["demo-service"]),
            headers={"DPoP": proof(key, "POST", url, alg=alg)}, timeout=10,
        )
        assert response.status_code == 200, (alg, response.text)
        token = response.json()["access_token"]
        ok = call(suite, token, key, alg=alg)
        assert ok.status_code == 200, (alg, ok.text)


def test_opaque_token_bound_too(suite):
    client, secret = register(suite, access_token_format="opaque")
    key = ECKey.generate_key("P-256")
    url = suite["urls"]["token"] + "/oauth2/token"
    response = requests.post(url, data={"grant_type": "client_credentials"}, auth=(client, secret), headers={"DPoP": proof(key, "POST", url)}, timeout=10)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert token.startswith("neo_at_")
    assert call(suite, token, key).status_code == 200
    assert call(suite, token, ECKey.generate_key("P-256")).status_code == 401
    refused = call(suite, token, key, scheme="Bearer", dpop=False)
    assert refused.status_code == 401


def test_refusals(suite, key, bound):
    url = suite["urls"]["resource"] + "/api/documents"
    cases = {
        "no proof": call(suite, bound, key, dpop=False),
        "another key": call(suite, bound, ECKey.generate_key("P-256")),
        "wrong htm": requests.get(url, headers={"Authorization": "DPoP " + bound, "DPoP": proof(key, "POST", url, bound)}, timeout=10),
        "wrong htu": requests.get(url, headers={"Authorization": "DPoP " + bound, "DPoP": proof(key, "GET", url + "/other", bound)}, timeout=10),
        "wrong ath": requests.get(url, headers={"Authorization": "DPoP " + bound, "DPoP": proof(key, "GET", url, "another-token")}, timeout=10),
        "no ath": requests.get(url, headers={"Authorization": "DPoP " + bound, "DPoP": proof(key, "GET", url)}, timeout=10),
        "stale iat": call(suite, bound, key, claims={"iat": int(time.time()) - 600}),
        "future iat": call(suite, bound, key, claims={"iat": int(time.time()) + 600}),
        "wrong typ": call(suite, bound, key, header={"typ": "JWT"}),
    }
    for name, response in cases.items():
        assert response.status_code == 401, (name, response.text)
        assert challenge(response, "DPoP")["error"] == "invalid_dpop_proof", name


def test_replayed_proof_is_refused(suite, key, bound):
    url = suite["urls"]["resource"] + "/api/documents"
    headers = {"Authorization": "DPoP " + bound, "DPoP": proof(key, "GET", url, bound)}
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    again = requests.get(url, headers=headers, timeout=10)
    assert again.status_code == 401
    assert challenge(again, "DPoP")["error"] == "invalid_dpop_proof"


def test_alg_none_and_private_key_in_header_are_refused(suite, key, bound):
    url = suite["urls"]["resource"] + "/api/documents"
    claims = {"jti": str(uuid.uuid4()), "htm": "GET", "htu": url, "iat": int(time.time()), "ath": b64(hashlib.sha256(bound.encode()).digest())}
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": key.as_dict(private=False)}
    unsigned = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode()) + "."
    response = requests.get(url, headers={"Authorization": "DPoP " + bound, "DPoP": unsigned}, timeout=10)
    assert response.status_code == 401
    assert challenge(response, "DPoP")["error"] == "invalid_dpop_proof"
    leaked = call(suite, bound, key, header={"jwk": key.as_dict(private=True)})
    assert leaked.status_code == 401
    assert challenge(leaked, "DPoP")["error"] == "invalid_dpop_proof"


def test_downgrade_to_bearer_is_refused(suite, key, bound):
    response = call(suite, bound, key, scheme="Bearer", dpop=False)
    assert response.status_code == 401
    assert challenge(response, "DPoP")["error"] == "invalid_token"
    # Even with a valid proof alongside, the Bearer scheme is not accepted for a bound token.
    with_proof = call(suite, bound, key, scheme="Bearer")
    assert with_proof.status_code == 401


def test_unbound_token_with_dpop_scheme_is_refused(suite, key):
    response = requests.post(
        suite["urls"]["token"] + "/oauth2/token", data={"grant_type": "client_credentials"},
        auth=("demo-service", suite["clients"]["demo-service"]), timeout=10,
    )
    token = response.json()["access_token"]
    assert response.json()["token_type"] == "Bearer"
    refused = call(suite, token, key)
    assert refused.status_code == 401
    assert challenge(refused, "DPoP")["error"] == "invalid_token"


def test_token_endpoint_refuses_bad_proofs_and_issues_nothing(suite, key):
    url = suite["urls"]["token"] + "/oauth2/token"
    auth = ("demo-service", suite["clients"]["demo-service"])
    bad = {
        "wrong htu": proof(key, "POST", url + "x"),
        "wrong htm": proof(key, "GET", url),
        "stale": proof(key, "POST", url, claims={"iat": int(time.time()) - 3600}),
        "garbage": "not.a.proof",
    }
    for name, value in bad.items():
        response = requests.post(url, data={"grant_type": "client_credentials"}, auth=auth, headers={"DPoP": value}, timeout=10)
        assert response.status_code == 400, name
        assert response.json()["error"] == "invalid_dpop_proof", name
        assert "access_token" not in response.json()
    replayed = proof(key, "POST", url)
    assert requests.post(url, data={"grant_type": "client_credentials"}, auth=auth, headers={"DPoP": replayed}, timeout=10).status_code == 200
    again = requests.post(url, data={"grant_type": "client_credentials"}, auth=auth, headers={"DPoP": replayed}, timeout=10)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_dpop_proof"


def test_client_registered_for_dpop_must_send_a_proof(suite):
    client, secret = register(suite, dpop_bound_access_tokens=True)
    response = requests.post(suite["urls"]["token"] + "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client, secret), timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"
