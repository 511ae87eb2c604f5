"""The demo resource server over a running suite, driven as a client would: JWT and opaque access
tokens, audiences, scopes, expiry, revocation, and every token that is not an access token.
Errors are checked as RFC 6750 §3 words them (status, `WWW-Authenticate` scheme and `error`)."""
import time
import uuid

import pytest
import requests


def register(suite, **metadata):
    body = {
        "client_name": "interop " + uuid.uuid4().hex[:8],
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "documents:read documents:write",
        "allowed_audiences": [suite["urls"]["resource"]],
    }
    body.update(metadata)
    response = requests.post(
        suite["urls"]["token"] + "/admin/clients", json=body,
        headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=10,
    )
    assert response.status_code == 201, response.text
    registered = response.json()
    return registered["client_id"], registered["client_secret"]


def client_token(suite, client, secret, **params):
    response = requests.post(
        suite["urls"]["token"] + "/oauth2/token", data={"grant_type": "client_credentials", **params},
        auth=(client, secret), timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def api(suite, path, token=None, method="GET", scheme="Bearer", **kwargs):
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    return requests.request(method, suite["urls"]["resource"] + path, headers=headers, timeout=10, **kwargs)


def challenge(response, scheme="Bearer"):
    """The parameters of the response's `WWW-Authenticate` challenge of `scheme` (one field per
    challenge, as the server sends them)."""
    values = response.raw.headers.getlist("WWW-Authenticate")
    for value in values:
        if value.startswith(scheme + " "):
            params = {}
            for part in value[len(scheme) + 1:].split(", "):
                name, _, quoted = part.partition("=")
                params[name] = quoted.strip('"')
            return params
    raise AssertionError(f"no {scheme} challenge in {values}")


@pytest.fixture(scope="module")
def service(suite):
    return "demo-service", suite["clients"]["demo-service"]


def test_jwt_access_token_is_accepted(suite, service):
    token = client_token(suite, *service)["access_token"]
    assert token.count(".") == 2
    response = api(suite, "/api/whoami", token)
    assert response.status_code == 200, response.text
    assert response.json()["client_id"] == "demo-service"
    created = api(suite, "/api/documents", token, method="POST", json={"title": "jwt", "content": "by value"})
    assert created.status_code == 201
    assert api(suite, "/api/documents/" + created.json()["id"], token).json()["title"] == "jwt"


def test_opaque_access_token_is_accepted_and_revocation_applies_within_the_bound(suite):
    client, secret = register(suite, access_token_format="opaque")
    token = client_token(suite, client, secret)["access_token"]
    assert token.startswith("neo_at_")
    response = api(suite, "/api/whoami", token)
    assert response.status_code == 200, response.text
    assert response.json()["client_id"] == client
    revoked = requests.post(suite["urls"]["token"] + "/oauth2/revoke", data={"token": token}, auth=(client, secret), timeout=10)
    assert revoked.status_code == 200
    # Documented bound: 5 s at the Introspection Service plus 5 s at the resource server.
    started = time.time()
    while True:
        response = api(suite, "/api/whoami", token)
        if response.status_code == 401:
            break
        assert time.time() - started < 11, "revoked opaque token still accepted after 11 s"
        time.sleep(0.5)
    assert challenge(response)["error"] == "invalid_token"


def test_missing_token_gets_both_challenges_without_error_code(suite):
    response = api(suite, "/api/documents")
    assert response.status_code == 401
    bearer = challenge(response, "Bearer")
    assert "error" not in bearer and bearer["realm"]
    assert "ES256" in challenge(response, "DPoP")["algs"].split(" ")


def test_token_in_query_string_is_refused(suite, service):
    token = client_token(suite, *service)["access_token"]
    response = api(suite, "/api/documents", params={"access_token": token})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_wrong_audience_is_refused(suite):
    other = "https://other-api.example.com"
    client, secret = register(suite, allowed_audiences=[suite["urls"]["resource"], other])
    token = client_token(suite, client, secret, resource=other)["access_token"]
    response = api(suite, "/api/whoami", token)
    assert response.status_code == 401
    assert challenge(response)["error"] == "invalid_token"


def test_missing_scope_is_insufficient_scope_naming_it(suite):
    client, secret = register(suite, scope="documents:read")
    token = client_token(suite, client, secret)["access_token"]
    assert api(suite, "/api/documents", token).status_code == 200
    response = api(suite, "/api/documents", token, method="POST", json={"title": "x", "content": "y"})
    assert response.status_code == 403
    params = challenge(response)
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == "documents:write"


def test_garbage_and_forged_tokens_are_invalid(suite, service):
    token = client_token(suite, *service)["access_token"]
    head, payload, signature = token.split(".")
    forged = ".".join([head, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    for bad in ["nonsense", "neo_at_" + "x" * 43, forged]:
        response = api(suite, "/api/whoami", bad)
        assert response.status_code == 401, bad
        assert challenge(response)["error"] == "invalid_token"


def test_id_token_and_refresh_token_are_not_access_tokens(suite):
    client, secret = register(
        suite, grant_types=["password", "refresh_token"], scope="openid offline_access documents:read",
    )
    response = requests.post(
        suite["urls"]["token"] + "/oauth2/token",
        data={"grant_type": "password", "username": "alice", "password": "alice-demo-password", "scope": "openid offline_access documents:read"},
        auth=(client, secret), timeout=30,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert api(suite, "/api/documents", tokens["access_token"]).status_code == 200
    for not_access in [tokens["id_token"], tokens["refresh_token"]]:
        refused = api(suite, "/api/documents", not_access)
        assert refused.status_code == 401
        assert challenge(refused)["error"] == "invalid_token"


def test_expired_token_is_refused(suite):
    client, secret = register(suite, access_token_lifetime=30)
    token = client_token(suite, client, secret)["access_token"]
    assert api(suite, "/api/whoami", token).status_code == 200
    time.sleep(31)
    response = api(suite, "/api/whoami", token)
    assert response.status_code == 401
    assert challenge(response)["error"] == "invalid_token"
