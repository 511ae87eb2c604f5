"""NeoSec's JWKS and error responses, checked with software nobody here wrote (joserfc, requests)."""
import requests
from joserfc.jwk import JWKRegistry, KeySet


def test_token_jwks_imports_and_thumbprints_match_kid(suite):
    response = requests.get(suite["urls"]["token"] + "/.well-known/jwks.json", timeout=5)
    assert response.status_code == 200
    assert "max-age" in response.headers["Cache-Control"]
    keys = response.json()["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES256", "EdDSA"}
    KeySet.import_key_set({"keys": keys})  # the whole set parses
    for jwk in keys:
        assert not ({"d", "p", "q", "dp", "dq", "qi"} & jwk.keys()), "private members published"
        key = JWKRegistry.import_key(jwk)
        # RFC 7638 thumbprint computed by joserfc equals our kid.
        assert key.thumbprint() == jwk["kid"]


def test_internal_jwks_is_es256_and_separate(suite):
    internal = requests.get(suite["urls"]["authn"] + "/internal/jwks.json", timeout=5).json()["keys"]
    assert [k["alg"] for k in internal] == ["ES256"]
    for jwk in internal:
        assert JWKRegistry.import_key(jwk).thumbprint() == jwk["kid"]
    token_kids = {k["kid"] for k in requests.get(suite["urls"]["token"] + "/.well-known/jwks.json", timeout=5).json()["keys"]}
    assert not token_kids & {k["kid"] for k in internal}


def test_rotation_keeps_old_keys_published(suite):
    url = suite["urls"]["token"]
    before = {k["kid"] for k in requests.get(url + "/.well-known/jwks.json", timeout=5).json()["keys"]}
    rotated = requests.post(url + "/admin/keys/rotate", headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=30)
    assert rotated.status_code == 200
    active = set(rotated.json()["active"].values())
    assert not active & before
    after = {k["kid"] for k in requests.get(url + "/.well-known/jwks.json", timeout=5).json()["keys"]}
    assert before <= after and active <= after


def test_admin_api_refuses_without_token(suite):
    response = requests.post(suite["urls"]["token"] + "/admin/keys/rotate", timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_route_and_oversized_body(suite):
    for name, url in suite["urls"].items():
        missing = requests.get(url + "/definitely/not/here", timeout=5)
        assert missing.status_code == 404, name
        assert missing.json()["error"] == "invalid_request"
        big = requests.post(url + "/internal/revocations", data=b"x" * (200 * 1024),
                            headers={"Content-Type": "application/json"}, timeout=5)
        assert big.status_code == 413, name
        assert big.json()["error"] == "invalid_request"


def test_internal_endpoint_refuses_unauthenticated_callers(suite):
    response = requests.post(suite["urls"]["token"] + "/internal/revocations", json={"subject": "alice", "reason": "logout"}, timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="neosec-internal"'
