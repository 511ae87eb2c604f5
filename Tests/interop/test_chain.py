"""Chained authorization over `neosec up --profile full`: the demo resource server calls the print
service on the user's behalf by token exchange (RFC 8693, `act`), and a second Token Service —
another issuer with its own database — accepts the first one's JWT authorization grant (RFC 7523,
draft-ietf-oauth-identity-chaining). Authlib drives both grants; joserfc checks the tokens
against each issuer's JWKS; `neosec demo chain` runs to its end."""
import os
import subprocess
import time
import uuid

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from conftest import binary, start_suite, stop_suite

TE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AT = "urn:ietf:params:oauth:token-type:access_token"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
PARTNER_API = "https://partner-api.example"


@pytest.fixture(scope="module")
def full():
    running = start_suite(profile="full")
    yield running
    stop_suite(running)


def admin(suite, base, method, path, **kwargs):
    return requests.request(method, base + path, headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=10, **kwargs)


def register(suite, base, **metadata):
    body = {"client_name": "chain " + uuid.uuid4().hex[:8], "token_endpoint_auth_method": "client_secret_basic"}
    body.update(metadata)
    response = admin(suite, base, "POST", "/admin/clients", json=body)
    assert response.status_code == 201, response.text
    return response.json()["client_id"], response.json()["client_secret"]


def keys(base):
    return KeySet.import_key_set(requests.get(base + "/.well-known/jwks.json", timeout=5).json())


def claims_of(base, token):
    return jwt.decode(token, keys(base), algorithms=["ES256", "RS256", "EdDSA"]).claims


@pytest.fixture(scope="module")
def alice(full):
    """Alice's access token for the demo resource server (password grant here; the browser flow
    runs in `neosec demo chain` below)."""
    app = register(
        full, full["urls"]["token"], grant_types=["password"], scope="openid documents:read documents:write",
        allowed_audiences=[full["urls"]["resource"]], access_token_format="opaque",
    )
    response = requests.post(
        full["urls"]["token"] + "/oauth2/token", auth=app, timeout=10,
        data={"grant_type": "password", "username": "alice", "password": "alice-demo-password", "scope": "openid documents:read documents:write"},
    )
    assert response.status_code == 200, response.text
    token = response.json()
    token["app"] = app
    token["sub"] = claims_of(full["urls"]["token"], token["id_token"])["sub"]
    return token


def api(base, path, token, method="GET", **kwargs):
    return requests.request(method, base + path, headers={"Authorization": "Bearer " + token}, timeout=10, **kwargs)


def test_the_resource_server_prints_through_the_print_service_by_token_exchange(full, alice):
    created = api(full["urls"]["resource"], "/api/documents", alice["access_token"], "POST", json={"title": "Ticket", "content": "Row 4"})
    assert created.status_code == 201, created.text
    printed = api(full["urls"]["resource"], f"/api/documents/{created.json()['id']}/print", alice["access_token"], "POST")
    assert printed.status_code == 201, printed.text
    job = printed.json()
    assert job["printed_for"] == alice["sub"]
    assert job["client_id"] == "demo-resource-server"
    assert job["act"] == {"sub": "demo-resource-server"}
    assert job["title"] == "Ticket"


def test_audiences_keep_the_two_servers_apart(full, alice):
    # The user's token is for the resource server, not for the print service.
    direct = api(full["urls"]["print"], "/api/print", alice["access_token"], "POST", json={"title": "x", "content": "y"})
    assert direct.status_code == 401
    assert 'error="invalid_token"' in direct.headers["WWW-Authenticate"]
    # A token exchanged for the print service is refused by the resource server.
    exchanged = requests.post(
        full["urls"]["token"] + "/oauth2/token", auth=("demo-resource-server", full["clients"]["demo-resource-server"]), timeout=10,
        data={"grant_type": TE, "subject_token": alice["access_token"], "subject_token_type": AT, "audience": full["urls"]["print"]},
    )
    assert exchanged.status_code == 200, exchanged.text
    token = exchanged.json()["access_token"]
    assert api(full["urls"]["print"], "/api/print", token, "POST", json={"title": "x", "content": "y"}).status_code == 201
    refused = api(full["urls"]["resource"], "/api/whoami", token)
    assert refused.status_code == 401
    # The resource server's client may not widen the scope it passes on, nor pick another audience.
    wider = requests.post(
        full["urls"]["token"] + "/oauth2/token", auth=("demo-resource-server", full["clients"]["demo-resource-server"]), timeout=10,
        data={"grant_type": TE, "subject_token": alice["access_token"], "subject_token_type": AT, "audience": full["urls"]["print"],
              "scope": "documents:write"},
    )
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


def test_printing_needs_the_read_scope_and_a_live_token(full):
    app = register(
        full, full["urls"]["token"], grant_types=["password"], scope="documents:read documents:write",
        allowed_audiences=[full["urls"]["resource"]], access_token_format="opaque",
    )

    def token(scope):
        response = requests.post(
            full["urls"]["token"] + "/oauth2/token", auth=app, timeout=10,
            data={"grant_type": "password", "username": "bob", "password": "bob-demo-password", "scope": scope},
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    writer = token("documents:write")
    document = api(full["urls"]["resource"], "/api/documents", writer, "POST", json={"title": "Bob's", "content": "z"}).json()["id"]
    refused = api(full["urls"]["resource"], f"/api/documents/{document}/print", writer, "POST")
    assert refused.status_code == 403
    assert 'scope="documents:read"' in refused.headers["WWW-Authenticate"]
    reader = token("documents:read documents:write")
    assert api(full["urls"]["resource"], f"/api/documents/{document}/print", reader, "POST").status_code == 201
    requests.post(full["urls"]["token"] + "/oauth2/revoke", data={"token": reader}, auth=app, timeout=10)
    # The exchange reads the token store, so the very next print is refused (403: no delegation),
    # until the resource server's own bounded cache lets go of the token too (401).
    deadline = time.time() + 15
    seen = []
    while time.time() < deadline:
        seen.append(api(full["urls"]["resource"], f"/api/documents/{document}/print", reader, "POST").status_code)
        if seen[-1] == 401:
            break
        time.sleep(0.5)
    assert seen[-1] == 401
    assert set(seen) <= {403, 401}, seen


def test_a_second_issuer_accepts_the_first_ones_jwt_authorization_grant(full, alice):
    a, b = full["urls"]["token"], full["urls"]["issuer_b"]
    endpoint_b = b + "/oauth2/token"
    assert requests.get(b + "/.well-known/openid-configuration", timeout=5).json()["issuer"] == b
    gateway = register(full, a, grant_types=[TE], scope="documents:read", allowed_audiences=[endpoint_b],
                       introspection_audiences=[full["urls"]["resource"]])
    partner = register(full, b, grant_types=[JWT_BEARER], scope="documents:read documents:write", allowed_audiences=[PARTNER_API])
    # Two databases: neither issuer knows the other's clients.
    unknown = requests.post(endpoint_b, auth=gateway, data={"grant_type": JWT_BEARER, "assertion": "x"}, timeout=10)
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"

    session_a = OAuth2Session(*gateway, token_endpoint_auth_method="client_secret_basic")
    grant = session_a.fetch_token(
        a + "/oauth2/token", grant_type=TE, subject_token=alice["access_token"], subject_token_type=AT,
        requested_token_type=JWT_TYPE, audience=endpoint_b, scope="documents:read",
    )
    assert grant["issued_token_type"] == JWT_TYPE
    assert grant["token_type"] == "N_A"
    assertion = grant["access_token"]
    decoded = jwt.decode(assertion, keys(a), algorithms=["ES256"])
    assert decoded.header["typ"] == "JWT"
    assert decoded.claims["aud"] == endpoint_b and decoded.claims["sub"] == alice["sub"] and decoded.claims["exp"] - decoded.claims["iat"] <= 300

    def bearer(token, **extra):
        return requests.post(endpoint_b, auth=partner, data={"grant_type": JWT_BEARER, "assertion": token, **extra}, timeout=10)

    # Not trusted yet.
    refused = bearer(assertion)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    trust = admin(full, b, "POST", "/admin/trusts", json={
        "issuer": a, "jwks_uri": a + "/.well-known/jwks.json", "allowed_subjects": [alice["sub"]], "scope": "documents:read",
    })
    assert trust.status_code == 201, trust.text
    # A fresh grant (the refused one's jti was not consumed, but take no chances), then B's token.
    grant = session_a.fetch_token(
        a + "/oauth2/token", grant_type=TE, subject_token=alice["access_token"], subject_token_type=AT,
        requested_token_type=JWT_TYPE, audience=endpoint_b,
    )
    session_b = OAuth2Session(*partner, token_endpoint_auth_method="client_secret_basic")
    token_b = session_b.fetch_token(endpoint_b, grant_type=JWT_BEARER, assertion=grant["access_token"], resource=PARTNER_API)
    assert token_b["scope"] == "documents:read"
    claims = claims_of(b, token_b["access_token"])
    assert claims["iss"] == b
    assert claims["sub"] == alice["sub"]
    assert claims["aud"] == PARTNER_API
    assert claims["client_id"] == partner[0]
    assert claims["act"] == {"sub": gateway[0], "iss": a}
    # Replayed: refused. Scope beyond the trust: refused. A's own access token is no grant.
    assert bearer(grant["access_token"]).json()["error"] == "invalid_grant"
    wider = session_a.fetch_token(a + "/oauth2/token", grant_type=TE, subject_token=alice["access_token"], subject_token_type=AT,
                                  requested_token_type=JWT_TYPE, audience=endpoint_b)
    assert bearer(wider["access_token"], scope="documents:write").json()["error"] == "invalid_scope"
    at_jwt = session_a.fetch_token(a + "/oauth2/token", grant_type=TE, subject_token=alice["access_token"], subject_token_type=AT,
                                   audience=endpoint_b)
    assert bearer(at_jwt["access_token"]).json()["error"] == "invalid_grant"
    # Another subject than the trust allows.
    bob = register(full, a, grant_types=["password", TE], scope="documents:read", allowed_audiences=[endpoint_b])
    bob_token = requests.post(a + "/oauth2/token", auth=bob, timeout=10, data={
        "grant_type": "password", "username": "bob", "password": "bob-demo-password", "scope": "documents:read", "resource": endpoint_b,
    }).json()["access_token"]
    bob_grant = requests.post(a + "/oauth2/token", auth=bob, timeout=10, data={
        "grant_type": TE, "subject_token": bob_token, "subject_token_type": AT, "requested_token_type": JWT_TYPE, "audience": endpoint_b,
    })
    assert bob_grant.status_code == 200, bob_grant.text
    assert bearer(bob_grant.json()["access_token"]).json()["error"] == "invalid_grant"


def test_neosec_demo_chain_runs_to_the_end(full):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEOSEC_")}
    env.update({f"NEOSEC_{name.upper()}_PORT": str(port) for name, port in full["ports"].items()})
    env["NEOSEC_ISSUER_B_PORT"] = full["urls"]["issuer_b"].rsplit(":", 1)[1]
    store = os.path.join(full["data_dir"], "store")
    result = subprocess.run([binary("neosec"), "demo", "chain", "--data-dir", store], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"act":{"sub":"demo-resource-server"}' in out
    assert "(jwt-bearer) → 200" in out
    assert "same assertion) → 400 invalid_grant" in out
    assert out.rstrip().endswith("Done: delegation by token exchange within one issuer, and a JWT authorization grant across two.")
