"""RFC 8693 token exchange and the RFC 7523 JWT bearer grant over a running suite, driven by
Authlib (token exchange through `OAuth2Session.fetch_token`, the JWT bearer grant through
`AssertionSession`) and checked with joserfc against the JWKS: delegation with `act`, a
three-hop `act` chain, `may_act`, impersonation only where allowed, scope and audience never
widening, and revocation cascading from a parent token to everything exchanged from it."""
import time
import uuid

import pytest
import requests
from authlib.integrations.requests_client import AssertionSession, OAuth2Session
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

TE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AT = "urn:ietf:params:oauth:token-type:access_token"
RT = "urn:ietf:params:oauth:token-type:refresh_token"
IDT = "urn:ietf:params:oauth:token-type:id_token"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
HOP = ["https://photos.example", "https://print.example", "https://archive.example", "https://billing.example"]


def admin(suite, method, path, **kwargs):
    return requests.request(
        method, suite["urls"]["token"] + path, headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=10, **kwargs
    )


def register(suite, **metadata):
    body = {
        "client_name": "exchange " + uuid.uuid4().hex[:8],
        "grant_types": ["client_credentials", TE],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "documents:read documents:write",
        "allowed_audiences": [HOP[1]],
    }
    body.update(metadata)
    response = admin(suite, "POST", "/admin/clients", json=body)
    assert response.status_code == 201, response.text
    return response.json()["client_id"], response.json()["client_secret"]


def token_endpoint(suite):
    return suite["urls"]["token"] + "/oauth2/token"


def post_token(suite, client, **data):
    return requests.post(token_endpoint(suite), data=data, auth=client, timeout=10)


def exchange(suite, client, subject_token, subject_type=AT, **params):
    return post_token(suite, client, grant_type=TE, subject_token=subject_token, subject_token_type=subject_type, **params)


def claims_of(suite, token):
    keys = KeySet.import_key_set(requests.get(suite["urls"]["token"] + "/.well-known/jwks.json", timeout=5).json())
    return jwt.decode(token, keys, algorithms=["ES256", "RS256", "EdDSA"]).claims


def error_of(response):
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.text
    return response.status_code, response.json()["error"]


@pytest.fixture(scope="module")
def user_app(suite):
    """A client allowed the password grant, so that user tokens come without a browser here (the
    browser flows have their own tests); its tokens are meant for the first hop."""
    return register(
        suite, grant_types=["password", "refresh_token", TE], scope="openid documents:read documents:write offline_access",
        allowed_audiences=[HOP[0]], access_token_format="opaque",
    )


def user_token(suite, app, scope="openid documents:read documents:write offline_access", **extra):
    response = post_token(suite, app, grant_type="password", username="alice", password="alice-demo-password", scope=scope, **extra)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def hops(suite):
    """Resource servers 0 → 1 → 2 → 3: each serves its own audience and may ask for the next."""
    servers = []
    for index in range(3):
        servers.append(register(
            suite, client_name=f"hop {index}", introspection_audiences=[HOP[index]], allowed_audiences=[HOP[index + 1]],
        ))
    return servers


@pytest.fixture(scope="module")
def introspector(suite):
    return register(suite, grant_types=["client_credentials"], scope="introspection", introspection_audiences=HOP, allowed_audiences=[HOP[0]])


def introspect(suite, introspector, token):
    response = requests.post(suite["urls"]["introspect"] + "/oauth2/introspect", data={"token": token}, auth=introspector, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_authlib_exchanges_a_user_token_for_a_delegated_one(suite, user_app, hops, introspector):
    subject = user_token(suite, user_app)["access_token"]
    session = OAuth2Session(hops[0][0], hops[0][1], token_endpoint_auth_method="client_secret_basic")
    token = session.fetch_token(
        token_endpoint(suite), grant_type=TE, subject_token=subject, subject_token_type=AT, audience=HOP[1], scope="documents:read",
    )
    assert token["issued_token_type"] == AT
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "documents:read"
    claims = claims_of(suite, token["access_token"])
    original = introspect(suite, introspector, subject)
    assert claims["sub"] == original["sub"]
    assert claims["aud"] == HOP[1]
    assert claims["client_id"] == hops[0][0]
    assert claims["act"] == {"sub": hops[0][0]}
    assert claims["exp"] <= original["exp"]


def test_three_hop_act_chain_and_revocation_cascades_from_the_parent(suite, user_app, hops, introspector):
    original = user_token(suite, user_app)["access_token"]
    tokens = [original]
    for index in range(3):
        response = exchange(suite, hops[index], tokens[-1], audience=HOP[index + 1])
        assert response.status_code == 200, response.text
        tokens.append(response.json()["access_token"])
    # The outermost act is the current actor; prior actors nest inside (RFC 8693 §4.1).
    assert claims_of(suite, tokens[3])["act"] == {"sub": hops[2][0], "act": {"sub": hops[1][0], "act": {"sub": hops[0][0]}}}
    answer = introspect(suite, introspector, tokens[3])
    assert answer["active"] is True
    assert answer["act"]["act"]["act"] == {"sub": hops[0][0]}
    # Revoking the user's token (by the client that holds it) revokes every hop derived from it.
    assert requests.post(suite["urls"]["token"] + "/oauth2/revoke", data={"token": original}, auth=user_app, timeout=10).status_code == 200
    deadline = time.time() + 10
    while time.time() < deadline and any(introspect(suite, introspector, t)["active"] for t in tokens[1:]):
        time.sleep(0.5)
    for token in tokens:
        assert introspect(suite, introspector, token) == {"active": False}
    # And they can no longer be exchanged.
    assert error_of(exchange(suite, hops[2], tokens[2], audience=HOP[3])) == (400, "invalid_request")


def test_revoking_a_refresh_family_revokes_what_was_exchanged_from_its_access_token(suite, user_app, hops, introspector):
    issued = user_token(suite, user_app)
    exchanged = exchange(suite, hops[0], issued["access_token"], audience=HOP[1]).json()["access_token"]
    assert introspect(suite, introspector, exchanged)["active"] is True
    requests.post(suite["urls"]["token"] + "/oauth2/revoke", data={"token": issued["refresh_token"]}, auth=user_app, timeout=10)
    deadline = time.time() + 10
    while time.time() < deadline and introspect(suite, introspector, exchanged)["active"]:
        time.sleep(0.5)
    assert introspect(suite, introspector, exchanged) == {"active": False}


def test_actor_token_names_the_actor(suite, user_app, hops):
    subject = user_token(suite, user_app)["access_token"]
    actor = post_token(suite, hops[0], grant_type="client_credentials", resource=HOP[1]).json()["access_token"]
    response = exchange(suite, hops[0], subject, audience=HOP[1], actor_token=actor, actor_token_type=AT)
    assert response.status_code == 200, response.text
    assert claims_of(suite, response.json()["access_token"])["act"] == {"sub": hops[0][0]}
    # Another client's token is not this client's actor.
    other = post_token(suite, hops[1], grant_type="client_credentials", resource=HOP[2]).json()["access_token"]
    assert error_of(exchange(suite, hops[0], subject, audience=HOP[1], actor_token=other, actor_token_type=AT)) == (400, "invalid_request")
    assert error_of(exchange(suite, hops[0], subject, audience=HOP[1], actor_token=actor)) == (400, "invalid_request")


def test_refresh_and_id_tokens_as_subject_tokens(suite, user_app, hops):
    issued = user_token(suite, user_app)
    # A refresh token only by its own client; the result keeps within the grant's scope.
    own = exchange(suite, user_app, issued["refresh_token"], subject_type=RT, audience=HOP[0], scope="documents:read")
    assert own.status_code == 200, own.text
    assert error_of(exchange(suite, hops[0], issued["refresh_token"], subject_type=RT, audience=HOP[1])) == (400, "invalid_request")
    # An ID token carries identity, not authorization: no scope comes with it.
    by_id = exchange(suite, user_app, issued["id_token"], subject_type=IDT, audience=HOP[0])
    assert by_id.status_code == 200, by_id.text
    assert "scope" not in by_id.json()
    assert error_of(exchange(suite, user_app, issued["id_token"], subject_type=IDT, audience=HOP[0], scope="documents:read")) == (400, "invalid_scope")
    # Someone else's ID token is not ours to exchange.
    assert error_of(exchange(suite, hops[0], issued["id_token"], subject_type=IDT, audience=HOP[1])) == (400, "invalid_request")


def test_scope_and_audience_never_widen(suite, user_app, hops):
    subject = user_token(suite, user_app, scope="documents:read")["access_token"]
    assert error_of(exchange(suite, hops[0], subject, audience=HOP[1], scope="documents:write")) == (400, "invalid_scope")
    assert error_of(exchange(suite, hops[0], subject, audience=HOP[2])) == (400, "invalid_target")
    assert error_of(exchange(suite, hops[0], subject, resource=HOP[3])) == (400, "invalid_target")
    granted = exchange(suite, hops[0], subject, audience=HOP[1]).json()
    assert granted["scope"] == "documents:read"


def test_refused_subject_tokens(suite, user_app, hops):
    subject = user_token(suite, user_app)["access_token"]
    # Meant for hop 0: hop 1 does not serve that audience.
    assert error_of(exchange(suite, hops[1], subject, audience=HOP[2])) == (400, "invalid_request")
    assert error_of(exchange(suite, hops[0], subject + "x", audience=HOP[1])) == (400, "invalid_request")
    assert error_of(exchange(suite, hops[0], subject, subject_type="urn:ietf:params:oauth:token-type:saml2", audience=HOP[1])) == (400, "invalid_request")
    assert error_of(exchange(suite, hops[0], subject, audience=HOP[1], requested_token_type=RT)) == (400, "invalid_request")
    missing = post_token(suite, hops[0], grant_type=TE, subject_token=subject)
    assert error_of(missing) == (400, "invalid_request")
    # A client not registered for the grant.
    plain = register(suite, grant_types=["client_credentials"], introspection_audiences=[HOP[0]])
    assert error_of(exchange(suite, plain, subject, audience=HOP[1])) == (400, "unauthorized_client")


def test_expired_subject_token_is_refused_and_what_came_from_it_expires_with_it(suite, hops, introspector):
    short = register(suite, grant_types=["client_credentials"], allowed_audiences=[HOP[0]], access_token_lifetime=30)
    subject = post_token(suite, short, grant_type="client_credentials").json()["access_token"]
    exchanged = exchange(suite, hops[0], subject, audience=HOP[1])
    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.json()["expires_in"] <= 30
    time.sleep(31)
    assert error_of(exchange(suite, hops[0], subject, audience=HOP[1])) == (400, "invalid_request")
    assert introspect(suite, introspector, exchanged.json()["access_token"]) == {"active": False}


def test_impersonation_only_where_the_client_is_allowed_it(suite, user_app):
    impersonator = register(suite, token_exchange_impersonation=True, introspection_audiences=[HOP[0]])
    subject = user_token(suite, user_app)["access_token"]
    response = exchange(suite, impersonator, subject, audience=HOP[1])
    assert response.status_code == 200, response.text
    assert "act" not in claims_of(suite, response.json()["access_token"])
    refused = admin(suite, "POST", "/admin/clients", json={"grant_types": ["client_credentials"], "token_exchange_impersonation": True})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client_metadata"


# MARK: trusted issuers, may_act, JWT bearer


@pytest.fixture(scope="module")
def external(suite):
    """An external issuer trusted with an inline key for any subject and two scopes."""
    key = ECKey.generate_key("P-256", parameters={"kid": "ext-" + uuid.uuid4().hex[:8], "alg": "ES256"})
    issuer = "https://idp-" + uuid.uuid4().hex[:8] + ".example"
    response = admin(suite, "POST", "/admin/trusts", json={
        "issuer": issuer, "jwks": {"keys": [key.as_dict(private=False)]}, "allowed_subjects": ["*"],
        "scope": "documents:read documents:write", "max_assertion_lifetime": 300,
    })
    assert response.status_code == 201, response.text
    return {"issuer": issuer, "key": key}


def external_jwt(suite, external, key=None, header=None, **claims):
    now = int(time.time())
    body = {"iss": external["issuer"], "sub": "carol", "aud": token_endpoint(suite), "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex}
    body.update(claims)
    return jwt.encode(header or {"alg": "ES256", "kid": (key or external["key"]).kid}, {k: v for k, v in body.items() if v is not None}, key or external["key"])


def test_may_act_is_honoured(suite, hops, external):
    allowed = external_jwt(suite, external, may_act={"sub": hops[0][0]})
    response = exchange(suite, hops[0], allowed, subject_type=JWT_TYPE, audience=HOP[1], scope="documents:read")
    assert response.status_code == 200, response.text
    claims = claims_of(suite, response.json()["access_token"])
    assert claims["sub"] == "carol" and claims["act"] == {"sub": hops[0][0]}
    denied = external_jwt(suite, external, may_act={"sub": "someone-else"})
    assert error_of(exchange(suite, hops[0], denied, subject_type=JWT_TYPE, audience=HOP[1])) == (400, "invalid_request")
    # The same external JWT twice: its jti is single-use.
    again = external_jwt(suite, external)
    assert exchange(suite, hops[0], again, subject_type=JWT_TYPE, audience=HOP[1]).status_code == 200
    assert error_of(exchange(suite, hops[0], again, subject_type=JWT_TYPE, audience=HOP[1])) == (400, "invalid_request")


def test_authlib_drives_the_jwt_bearer_grant(suite, external):
    client = register(suite, grant_types=[JWT_BEARER], allowed_audiences=[suite["urls"]["resource"]])
    session = AssertionSession(
        token_endpoint(suite), issuer=external["issuer"], subject="carol", audience=token_endpoint(suite),
        key=external["key"].as_dict(private=True), header={"alg": "ES256", "kid": external["key"].kid},
        claims={"jti": uuid.uuid4().hex}, expires_in=120, scope="documents:read",
    )
    session.auth = client
    token = session.refresh_token()
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "documents:read"
    who = requests.get(suite["urls"]["resource"] + "/api/whoami", headers={"Authorization": "Bearer " + token["access_token"]}, timeout=10)
    assert who.status_code == 200, who.text
    assert who.json()["sub"] == "carol"
    assert who.json()["client_id"] == client[0]


def test_jwt_bearer_refusals(suite, external):
    client = register(suite, grant_types=[JWT_BEARER], allowed_audiences=[suite["urls"]["resource"]])

    def grant(assertion, **extra):
        return post_token(suite, client, grant_type=JWT_BEARER, assertion=assertion, **extra)

    good = external_jwt(suite, external)
    assert grant(good).status_code == 200
    assert error_of(grant(good)) == (400, "invalid_grant")  # replayed jti
    assert error_of(grant(external_jwt(suite, external, aud=suite["urls"]["token"] + "/other"))) == (400, "invalid_grant")
    assert error_of(grant(external_jwt(suite, external, aud=suite["urls"]["resource"]))) == (400, "invalid_grant")
    assert error_of(grant(external_jwt(suite, external, jti=None))) == (400, "invalid_grant")
    now = int(time.time())
    assert error_of(grant(external_jwt(suite, external, iat=now - 400, exp=now - 100))) == (400, "invalid_grant")  # expired
    assert error_of(grant(external_jwt(suite, external, exp=now + 3000))) == (400, "invalid_grant")  # beyond the trust's lifetime
    assert error_of(grant(external_jwt(suite, external, iat=now + 600, exp=now + 700))) == (400, "invalid_grant")  # from the future
    stranger = ECKey.generate_key("P-256", parameters={"kid": external["key"].kid, "alg": "ES256"})
    assert error_of(grant(external_jwt(suite, external, key=stranger))) == (400, "invalid_grant")  # another key, same kid
    untrusted = external_jwt(suite, external, iss="https://untrusted.example")
    assert error_of(grant(untrusted)) == (400, "invalid_grant")
    typed = external_jwt(suite, external, header={"alg": "ES256", "kid": external["key"].kid, "typ": "at+jwt"})
    assert error_of(grant(typed)) == (400, "invalid_grant")
    unsigned = good.rsplit(".", 1)[0].split(".")[1]
    assert error_of(grant("eyJhbGciOiJub25lIiwia2lkIjoieCJ9." + unsigned + ".")) == (400, "invalid_grant")
    assert error_of(grant(external_jwt(suite, external), scope="openid")) == (400, "invalid_scope")


def test_trust_subjects_and_clients_are_enforced(suite):
    key = ECKey.generate_key("P-256", parameters={"kid": "narrow", "alg": "ES256"})
    issuer = "https://narrow-" + uuid.uuid4().hex[:8] + ".example"
    client = register(suite, grant_types=[JWT_BEARER], allowed_audiences=[suite["urls"]["resource"]])
    other = register(suite, grant_types=[JWT_BEARER], allowed_audiences=[suite["urls"]["resource"]])
    assert admin(suite, "POST", "/admin/trusts", json={
        "issuer": issuer, "jwks": {"keys": [key.as_dict(private=False)]}, "allowed_subjects": ["dave"], "scope": "documents:read",
        "allowed_clients": [client[0]],
    }).status_code == 201
    trust = {"issuer": issuer, "key": key}
    assert post_token(suite, client, grant_type=JWT_BEARER, assertion=external_jwt(suite, trust, sub="dave")).status_code == 200
    assert error_of(post_token(suite, client, grant_type=JWT_BEARER, assertion=external_jwt(suite, trust, sub="erin"))) == (400, "invalid_grant")
    assert error_of(post_token(suite, other, grant_type=JWT_BEARER, assertion=external_jwt(suite, trust, sub="dave"))) == (400, "invalid_grant")
    listed = admin(suite, "GET", "/admin/trusts").json()["trusts"]
    assert any(entry["issuer"] == issuer for entry in listed)
    assert admin(suite, "DELETE", "/admin/trusts", params={"issuer": issuer}).status_code == 204
    assert admin(suite, "DELETE", "/admin/trusts", params={"issuer": issuer}).status_code == 404
    assert error_of(post_token(suite, client, grant_type=JWT_BEARER, assertion=external_jwt(suite, trust, sub="dave"))) == (400, "invalid_grant")


@pytest.mark.parametrize("metadata", [
    {"allowed_subjects": ["*"]},  # no keys
    {"allowed_subjects": ["*"], "jwks_uri": "http://10.0.0.1/jwks.json"},
    {"allowed_subjects": ["*"], "jwks_uri": "ftp://keys.example/jwks.json"},
    {"allowed_subjects": [], "jwks_uri": "https://keys.example/jwks.json"},
    {"allowed_subjects": ["*"], "jwks_uri": "https://keys.example/jwks.json", "max_assertion_lifetime": 86400},
    {"allowed_subjects": ["*"], "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}]}},
])
def test_bad_trust_metadata_is_refused(suite, metadata):
    response = admin(suite, "POST", "/admin/trusts", json={"issuer": "https://bad.example", **metadata})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


def test_trusts_need_the_admin_token(suite):
    response = requests.post(suite["urls"]["token"] + "/admin/trusts", json={"issuer": "https://x.example", "allowed_subjects": ["*"]}, timeout=10)
    assert response.status_code == 401
