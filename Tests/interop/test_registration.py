"""Dynamic client registration (RFC 7591) and management (RFC 7592) over running suites: initial
access tokens from the admin API, the registration policy they carry, every forbidden redirect
URI and every URI that would reach inside the network — with no outbound request made for them —
registration access token rotation, and `oic` registering a client and then running the whole
code flow with it. A second suite, with open registration and loopback fetches allowed (the
development setting for local tests), checks that a `jwks_uri` really is fetched and used for
`private_key_jwt`, including a key rotation."""
import http.server
import json
import secrets
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey
from oic.oic import Client
from oic.oic.message import AccessTokenResponse, AuthorizationResponse, IdToken, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

import browser
from conftest import start_suite, stop_suite

REDIRECT = "http://127.0.0.1:9999/dcr-callback"


class Recorder(http.server.BaseHTTPRequestHandler):
    """A loopback HTTP server that counts every request and serves `documents` by path."""
    hits = []
    documents = {}

    def do_GET(self):
        Recorder.hits.append(self.path)
        body = Recorder.documents.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode() if body is not None else b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def recorder():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def admin_iat(suite, **options):
    response = requests.post(
        suite["urls"]["token"] + "/admin/initial-access-tokens", json=options,
        headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=10,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"token", "expires_in"}
    return body["token"]


def register(suite, metadata, token=None):
    headers = {"Authorization": "Bearer " + token} if token else {}
    return requests.post(suite["urls"]["token"] + "/oauth2/register", json=metadata, headers=headers, timeout=15)


def base(**extra):
    metadata = {"client_name": "dcr " + uuid.uuid4().hex[:6], "redirect_uris": [REDIRECT], "grant_types": ["authorization_code"]}
    metadata.update(extra)
    return metadata


def test_discovery_names_the_registration_endpoint(suite):
    metadata = requests.get(suite["urls"]["token"] + "/.well-known/openid-configuration", timeout=5).json()
    assert metadata["registration_endpoint"] == suite["urls"]["token"] + "/oauth2/register"


def test_register_with_an_initial_access_token_then_manage_the_registration(suite):
    token = admin_iat(suite)
    created = register(suite, base(scope="openid profile"), token)
    assert created.status_code == 201, created.text
    assert created.headers["Cache-Control"] == "no-store"
    info = created.json()
    assert info["client_secret"].startswith("neo_cs_") and info["client_secret_expires_at"] == 0
    assert info["registration_access_token"].startswith("neo_rat_")
    assert info["registration_client_uri"] == suite["urls"]["token"] + "/oauth2/register/" + info["client_id"]
    assert info["redirect_uris"] == [REDIRECT] and info["scope"] == "openid profile"
    # The initial access token was single use.
    again = register(suite, base(), token)
    assert again.status_code == 401 and 'error="invalid_token"' in again.headers["WWW-Authenticate"]

    uri, rat = info["registration_client_uri"], info["registration_access_token"]
    read = requests.get(uri, headers={"Authorization": "Bearer " + rat}, timeout=10)
    assert read.status_code == 200 and read.json()["client_id"] == info["client_id"] and "client_secret" not in read.json()
    # RFC 7592 §3: the read response carries both REQUIRED fields.
    assert read.json()["registration_access_token"] == rat and read.json()["registration_client_uri"] == uri
    assert requests.get(uri, headers={"Authorization": "Bearer " + rat + "x"}, timeout=10).status_code == 401
    assert requests.get(uri, timeout=10).status_code == 401
    # Another client's registration access token opens nothing here.
    other = register(suite, base(), admin_iat(suite)).json()
    assert requests.get(uri, headers={"Authorization": "Bearer " + other["registration_access_token"]}, timeout=10).status_code == 401

    update = dict(base(redirect_uris=[REDIRECT, "https://app.example/cb"]), client_id=info["client_id"])
    updated = requests.put(uri, json=update, headers={"Authorization": "Bearer " + rat}, timeout=10)
    assert updated.status_code == 200, updated.text
    rotated = updated.json()["registration_access_token"]
    assert rotated != rat and updated.json()["redirect_uris"] == [REDIRECT, "https://app.example/cb"]
    assert requests.get(uri, headers={"Authorization": "Bearer " + rat}, timeout=10).status_code == 401
    assert requests.get(uri, headers={"Authorization": "Bearer " + rotated}, timeout=10).status_code == 200
    # RFC 7592 §2.2: client_id required and equal; server-owned fields refused; policy still holds.
    bad_updates = [
        base(),
        dict(base(), client_id="someone-else"),
        dict(base(), client_id=info["client_id"], registration_access_token=rotated),
        dict(base(), client_id=info["client_id"], client_secret="wrong"),
        dict(base(grant_types=["client_credentials"]), client_id=info["client_id"]),
    ]
    for body in bad_updates:
        refused = requests.put(uri, json=body, headers={"Authorization": "Bearer " + rotated}, timeout=10)
        assert refused.status_code == 400, (body, refused.text)
    # The client works at the token endpoint until it deletes itself.
    ok = requests.post(suite["urls"]["token"] + "/oauth2/token", data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT},
                       auth=(info["client_id"], info["client_secret"]), timeout=10)
    assert ok.json()["error"] == "invalid_grant"
    assert requests.delete(uri, headers={"Authorization": "Bearer " + rotated}, timeout=10).status_code == 204
    assert requests.get(uri, headers={"Authorization": "Bearer " + rotated}, timeout=10).status_code == 401
    gone = requests.post(suite["urls"]["token"] + "/oauth2/token", data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT},
                         auth=(info["client_id"], info["client_secret"]), timeout=10)
    assert gone.status_code == 401 and gone.json()["error"] == "invalid_client"


def test_admission_needs_a_valid_initial_access_token(suite):
    assert register(suite, base()).status_code == 401  # no token, no open registration
    bad = register(suite, base(), "neo_iat_" + secrets.token_urlsafe(32))
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    assert register(suite, base(), admin_iat(suite) + "x").status_code == 401
    unauthenticated = requests.post(suite["urls"]["token"] + "/admin/initial-access-tokens", json={}, timeout=10)
    assert unauthenticated.status_code == 401
    basic = requests.post(suite["urls"]["token"] + "/oauth2/register", json=base(), auth=("a", "b"), timeout=10)
    assert basic.status_code == 401


@pytest.mark.parametrize("uri", [
    "http://app.example/cb",  # http beyond loopback
    "https://app.example/cb#fragment",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "com.example.app:/cb",  # private-use schemes are for natively registered apps, not here
    "https://user:pass@app.example/cb",
    "file:///etc/passwd",
    "//app.example/cb",
    "https:///cb",
])
def test_forbidden_redirect_uris(suite, uri):
    token = admin_iat(suite)
    response = register(suite, base(redirect_uris=[uri]), token)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_redirect_uri"
    # Refused metadata spends nothing: the same token still registers a good client.
    assert register(suite, base(), token).status_code == 201


def test_uris_that_would_reach_inside_the_network_are_refused_without_a_request(suite, recorder):
    Recorder.hits.clear()
    port = recorder
    inside = [
        f"http://127.0.0.1:{port}/jwks", f"https://127.0.0.1:{port}/jwks", f"https://localhost:{port}/jwks", f"https://[::1]:{port}/jwks",
        f"https://127.1:{port}/jwks", f"https://2130706433:{port}/jwks", f"https://0x7f000001:{port}/jwks", f"https://[::ffff:127.0.0.1]:{port}/jwks",
        "https://10.0.0.1/jwks", "https://172.16.0.1/jwks", "https://192.168.1.1/jwks", "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/jwks", "https://0.0.0.0/jwks", "https://[fe80::1]/jwks", "https://[fc00::1]/jwks", "https://224.0.0.1/jwks",
        f"https://app.localhost:{port}/jwks",
    ]
    # The machine's own name resolves to a loopback address on Debian: refused after resolution.
    own = socket.gethostname()
    try:
        if socket.gethostbyname(own).startswith("127."):
            inside.append(f"https://{own}:{port}/jwks")
    except OSError:
        pass
    token = admin_iat(suite, max_registrations=100)
    for uri in inside:
        for field in ["jwks_uri", "sector_identifier_uri"]:
            metadata = base(**{field: uri})
            if field == "jwks_uri":
                metadata["token_endpoint_auth_method"] = "private_key_jwt"
            response = register(suite, metadata, token)
            assert response.status_code == 400, (field, uri, response.text)
            assert response.json()["error"] == "invalid_client_metadata", (field, uri)
    for field in ["logo_uri", "client_uri", "policy_uri", "tos_uri"]:
        for uri in [f"http://127.0.0.1:{port}/x", "http://app.example/x", "https://192.168.0.1/x", f"https://localhost:{port}/x"]:
            response = register(suite, base(**{field: uri}), token)
            assert response.status_code == 400 and response.json()["error"] == "invalid_client_metadata", (field, uri, response.text)
    refused = register(suite, base(request_uris=["https://app.example/request.jwt"]), token)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client_metadata"
    assert Recorder.hits == [], Recorder.hits


def test_the_registration_policy_holds(suite):
    token = admin_iat(suite, max_registrations=20)
    for extra in [
        {"grant_types": ["client_credentials"]},
        {"grant_types": ["authorization_code", "password"]},
        {"scope": "openid admin"},
        {"allowed_audiences": ["http://127.0.0.1:9004"]},
        {"introspection_audiences": ["http://127.0.0.1:9004"], "token_endpoint_auth_method": "client_secret_basic"},
        {"token_exchange_impersonation": True},
        {"access_token_lifetime": 86400},
        {"refresh_without_offline_access": True},
    ]:
        response = register(suite, base(**extra), token)
        assert response.status_code == 400, (extra, response.text)
        assert response.json()["error"] == "invalid_client_metadata", extra
    statement = register(suite, base(software_statement="eyJhbGciOiJub25lIn0.e30."), token)
    assert statement.status_code == 400 and statement.json()["error"] == "unapproved_software_statement"
    # An administrator can admit more through the token's own policy.
    service = admin_iat(suite, grant_types=["client_credentials"], scope="documents:read", allowed_audiences=[suite["urls"]["resource"]])
    created = register(suite, {"grant_types": ["client_credentials"], "scope": "documents:read", "allowed_audiences": [suite["urls"]["resource"]]}, service)
    assert created.status_code == 201, created.text
    info = created.json()
    issued = requests.post(suite["urls"]["token"] + "/oauth2/token", data={"grant_type": "client_credentials"},
                           auth=(info["client_id"], info["client_secret"]), timeout=10)
    assert issued.status_code == 200 and issued.json()["scope"] == "documents:read"


def test_bad_bodies(suite):
    token = admin_iat(suite, max_registrations=5)
    not_json = requests.post(suite["urls"]["token"] + "/oauth2/register", data="redirect_uris=x",
                             headers={"Authorization": "Bearer " + token, "Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_client_metadata"
    garbage = requests.post(suite["urls"]["token"] + "/oauth2/register", data="{",
                            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"}, timeout=10)
    assert garbage.status_code == 400 and garbage.json()["error"] == "invalid_client_metadata"
    huge = register(suite, base(client_name="x" * 100_000), token)
    assert huge.status_code == 413
    assert register(suite, base(), token).status_code == 201


# MARK: a suite with open registration and loopback fetches (development setting)


@pytest.fixture(scope="module")
def open_suite():
    running = start_suite(extra_env={"NEOSEC_TOKEN_OPEN_REGISTRATION": "true", "NEOSEC_TOKEN_OUTBOUND_FETCH": "loopback"})
    yield running
    stop_suite(running)


def test_oic_registers_a_client_and_runs_the_code_flow_with_it(open_suite):
    suite = open_suite
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(suite["urls"]["token"])
    client.redirect_uris = [REDIRECT]
    registration = client.register(
        client.registration_endpoint, redirect_uris=[REDIRECT], response_types=["code"], client_name="oic dynamic client",
        token_endpoint_auth_method="client_secret_basic",
    )
    assert isinstance(registration, RegistrationResponse), registration
    assert registration["registration_access_token"].startswith("neo_rat_")
    assert client.client_id == registration["client_id"] and client.client_secret

    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    verifier, challenge = browser.pkce_pair()
    request = client.construct_AuthorizationRequest(request_args={
        "response_type": "code", "scope": ["openid", "email"], "state": state, "nonce": nonce, "redirect_uri": REDIRECT,
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    final = browser.login_and_consent(requests.Session(), request.request(client.authorization_endpoint), "alice", "alice-demo-password", REDIRECT,
                                      expect_client="oic dynamic client")
    response = client.parse_response(AuthorizationResponse, info=urlsplit(final).query, sformat="urlencoded")
    assert response["state"] == state
    token = client.do_access_token_request(
        state=state, request_args={"code": response["code"], "redirect_uri": REDIRECT, "code_verifier": verifier}, authn_method="client_secret_basic",
    )
    assert isinstance(token, AccessTokenResponse), token
    assert isinstance(token["id_token"], IdToken)
    client.verify_id_token(token["id_token"], request)
    assert token["id_token"]["aud"] == [client.client_id]
    userinfo = client.do_user_info_request(state=state)
    assert userinfo["email"] == "alice@example.com"


def test_jwks_uri_is_fetched_and_used_for_private_key_jwt_with_rotation(open_suite, recorder):
    suite = open_suite
    path = "/keys-" + uuid.uuid4().hex
    first = ECKey.generate_key("P-256", parameters={"kid": "k1-" + uuid.uuid4().hex[:6], "alg": "ES256"})
    Recorder.documents[path] = {"keys": [first.as_dict(private=False)]}
    jwks_uri = f"http://127.0.0.1:{recorder}{path}"
    Recorder.hits.clear()
    created = register(suite, {"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwks_uri,
                               "scope": "openid"})
    # client_credentials is beyond the open policy: refused, and its jwks_uri never fetched.
    assert created.status_code == 400
    assert Recorder.hits == []
    created = register(suite, base(token_endpoint_auth_method="private_key_jwt", jwks_uri=jwks_uri))
    assert created.status_code == 201, created.text
    assert Recorder.hits == [path]  # fetched once, to check it serves a usable key
    client_id = created.json()["client_id"]
    endpoint = suite["urls"]["token"] + "/oauth2/token"

    def attempt(key):
        return requests.post(endpoint, data={"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT,
                                             "client_id": client_id, "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                                             "client_assertion": assertion(key, client_id, endpoint)}, timeout=10)

    # Authenticated with the fetched key: the grant then fails on its own merits (invalid_grant).
    assert attempt(first).json()["error"] == "invalid_grant"
    stranger = ECKey.generate_key("P-256", parameters={"kid": first.kid, "alg": "ES256"})
    assert attempt(stranger).json()["error"] == "invalid_client"
    # Rotation at the client: a new kid is fetched (at most every 10 s).
    second = ECKey.generate_key("P-256", parameters={"kid": "k2-" + uuid.uuid4().hex[:6], "alg": "ES256"})
    Recorder.documents[path] = {"keys": [second.as_dict(private=False)]}
    time.sleep(10.5)
    assert attempt(second).json()["error"] == "invalid_grant"


def assertion(key, client_id, audience):
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}
    return jose_jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)
