"""Introspection (RFC 7662) and its signed answers (RFC 9701) on a running suite, checked with
software nobody here wrote (joserfc, requests). The demo fixtures provide the caller:
`demo-resource-server` holds the `introspection` scope for the demo API's audience."""
import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet


def access_token(suite):
    response = requests.post(
        suite["urls"]["token"] + "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("demo-service", suite["clients"]["demo-service"]),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def introspect(suite, token, headers=None):
    return requests.post(
        suite["urls"]["introspect"] + "/oauth2/introspect",
        data={"token": token},
        auth=("demo-resource-server", suite["clients"]["demo-resource-server"]),
        headers=headers or {},
        timeout=10,
    )


def test_unauthenticated_caller_is_refused(suite):
    response = requests.post(suite["urls"]["introspect"] + "/oauth2/introspect", data={"token": "x"}, timeout=5)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_discovery_names_the_introspection_endpoint(suite):
    metadata = requests.get(suite["urls"]["token"] + "/.well-known/oauth-authorization-server", timeout=5).json()
    assert metadata["introspection_endpoint"] == suite["urls"]["introspect"] + "/oauth2/introspect"
    assert metadata["introspection_signing_alg_values_supported"] == ["ES256"]


def test_active_and_inactive_answers(suite):
    token = access_token(suite)
    response = introspect(suite, token)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.json()
    assert answer["active"] is True
    assert answer["client_id"] == "demo-service"
    assert answer["aud"] == suite["urls"]["resource"]
    assert answer["iss"] == suite["urls"]["token"]
    assert answer["token_type"] == "Bearer"
    assert token not in response.text
    assert introspect(suite, "nonsense").json() == {"active": False}


def test_jwt_answer_verifies_with_joserfc(suite):
    token = access_token(suite)
    response = introspect(suite, token, headers={"Accept": "application/token-introspection+jwt"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/token-introspection+jwt"
    keys = KeySet.import_key_set(requests.get(suite["urls"]["introspect"] + "/.well-known/introspection-jwks.json", timeout=5).json())
    decoded = jwt.decode(response.text, keys, algorithms=["ES256"])
    assert decoded.header["typ"] == "token-introspection+jwt"
    assert decoded.claims["iss"] == suite["urls"]["token"]
    assert decoded.claims["aud"] == "demo-resource-server"
    assert isinstance(decoded.claims["iat"], int)
    inner = decoded.claims["token_introspection"]
    assert inner["active"] is True
    assert inner["client_id"] == "demo-service"
    assert inner["aud"] == suite["urls"]["resource"]
    # The Token Service's keys do not verify it: the key sets are disjoint.
    token_keys = KeySet.import_key_set(requests.get(suite["urls"]["token"] + "/.well-known/jwks.json", timeout=5).json())
    with pytest.raises(Exception):
        jwt.decode(response.text, token_keys, algorithms=["ES256", "RS256", "EdDSA"])


def test_a_bearer_token_with_the_introspection_scope_may_introspect(suite):
    """RFC 7662 §2.1: instead of client authentication, a bearer token issued for the
    Introspection Service with the `introspection` scope."""
    introspect = suite["urls"]["introspect"]
    admin = {"Authorization": "Bearer " + suite["admin_token"]}
    caller = requests.post(suite["urls"]["token"] + "/admin/clients", headers=admin, timeout=10, json={
        "grant_types": ["client_credentials"], "scope": "introspection other", "allowed_audiences": [introspect, suite["urls"]["resource"]],
        "introspection_audiences": [suite["urls"]["resource"]],
    }).json()

    def token(scope, resource=introspect):
        answer = requests.post(suite["urls"]["token"] + "/oauth2/token", auth=(caller["client_id"], caller["client_secret"]), timeout=10,
                               data={"grant_type": "client_credentials", "scope": scope, "resource": resource})
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    subject = requests.post(suite["urls"]["token"] + "/oauth2/token", auth=("demo-service", suite["clients"]["demo-service"]), timeout=10,
                            data={"grant_type": "client_credentials"}).json()["access_token"]

    def ask(bearer):
        return requests.post(introspect + "/oauth2/introspect", data={"token": subject}, headers={"Authorization": "Bearer " + bearer}, timeout=10)

    answer = ask(token("introspection"))
    assert answer.status_code == 200 and answer.json()["active"] is True and answer.json()["client_id"] == "demo-service"
    without_scope = ask(token("other"))
    assert without_scope.status_code == 403 and 'error="insufficient_scope"' in without_scope.headers["WWW-Authenticate"]
    other_audience = ask(token("introspection", resource=suite["urls"]["resource"]))
    assert other_audience.status_code == 401 and 'error="invalid_token"' in other_audience.headers["WWW-Authenticate"]
    assert ask("garbage").status_code == 401
    assert ask(subject).status_code in (401, 403)  # a token without the scope, for another audience


def test_a_token_meant_for_another_resource_server_is_inactive_to_this_one(suite):
    """RFC 7662 §4: the answer is `{"active": false}`, nothing more, when the token was not
    issued for the calling resource server's audience, while its own resource server sees it."""
    admin = {"Authorization": "Bearer " + suite["admin_token"]}
    other = requests.post(suite["urls"]["token"] + "/admin/clients", headers=admin, timeout=10, json={
        "grant_types": ["client_credentials"], "scope": "introspection", "allowed_audiences": [suite["urls"]["introspect"]],
        "introspection_audiences": ["https://photos.example/api"],
    })
    assert other.status_code == 201, other.text
    other = other.json()
    token = access_token(suite)  # for the demo API's audience
    for _ in range(2):  # the second answer may come from the cache: it must not differ
        response = requests.post(suite["urls"]["introspect"] + "/oauth2/introspect", data={"token": token},
                                 auth=(other["client_id"], other["client_secret"]), timeout=10)
        assert response.status_code == 200
        assert response.json() == {"active": False}
    assert introspect(suite, token).json()["active"] is True
