"""Client credentials at the Token Service, driven by Authlib (a client nobody here wrote)."""
import time
import uuid

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

RESOURCE = "http://127.0.0.1:9004"


def register(suite, metadata):
    response = requests.post(
        suite["urls"]["token"] + "/admin/clients",
        json=metadata,
        headers={"Authorization": "Bearer " + suite["admin_token"]},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def jwks(suite):
    return KeySet.import_key_set(requests.get(suite["urls"]["token"] + "/.well-known/jwks.json", timeout=5).json())


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials_with_authlib(suite, method):
    client = register(suite, {
        "client_name": "authlib " + method,
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": method,
        "scope": "reports:read reports:write",
        "allowed_audiences": [RESOURCE],
    })
    session = OAuth2Session(client["client_id"], client["client_secret"], scope="reports:read", token_endpoint_auth_method=method)
    token = session.fetch_token(suite["urls"]["token"] + "/oauth2/token", grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "reports:read"
    claims = jwt.decode(token["access_token"], jwks(suite), algorithms=["ES256", "RS256", "EdDSA"])
    assert claims.header["alg"] == "ES256"
    assert claims.header["typ"] == "at+jwt"
    assert claims.claims["client_id"] == client["client_id"]
    assert claims.claims["aud"] == RESOURCE
    assert claims.claims["iss"] == suite["urls"]["token"]


def test_wrong_secret_is_invalid_client(suite):
    client = register(suite, {"grant_types": ["client_credentials"], "scope": "a", "allowed_audiences": [RESOURCE]})
    session = OAuth2Session(client["client_id"], client["client_secret"] + "x")
    with pytest.raises(Exception) as failure:
        session.fetch_token(suite["urls"]["token"] + "/oauth2/token", grant_type="client_credentials")
    assert "invalid_client" in str(failure.value)


def test_private_key_jwt_with_authlib(suite):
    key = ECKey.generate_key("P-256", parameters={"kid": "authlib-" + uuid.uuid4().hex[:8], "alg": "ES256"})
    client = register(suite, {
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [key.as_dict(private=False)]},
        "scope": "a",
        "allowed_audiences": [RESOURCE],
    })
    token_url = suite["urls"]["token"] + "/oauth2/token"
    session = OAuth2Session(client["client_id"], key.as_dict(private=True), token_endpoint_auth_method=PrivateKeyJWT(token_url, alg="ES256"))
    session.register_client_auth_method(PrivateKeyJWT(token_url, alg="ES256"))
    token = session.fetch_token(token_url, grant_type="client_credentials")
    assert token["access_token"]


def test_opaque_tokens_are_prefixed(suite):
    client = register(suite, {"grant_types": ["client_credentials"], "scope": "a", "access_token_format": "opaque", "allowed_audiences": [RESOURCE]})
    response = requests.post(
        suite["urls"]["token"] + "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=5,
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json()["access_token"].startswith("neo_at_")


def test_rfc8414_metadata_lists_only_what_is_served(suite):
    base = suite["urls"]["token"]
    metadata = requests.get(base + "/.well-known/oauth-authorization-server", timeout=5).json()
    assert metadata["issuer"] == base
    assert metadata["token_endpoint"] == base + "/oauth2/token"
    assert metadata["grant_types_supported"] == sorted([
        "authorization_code", "client_credentials", "implicit", "password", "refresh_token", "urn:ietf:params:oauth:grant-type:uma-ticket",
        "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:device_code", "urn:openid:params:grant-type:ciba",
    ])
    assert metadata["authorization_endpoint"] == base + "/oauth2/authorize"
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
    jwks = requests.get(metadata["jwks_uri"], timeout=5)
    assert jwks.status_code == 200
    # Every advertised endpoint answers (a POST without credentials is a 4xx protocol error, not a 404).
    probe = requests.post(metadata["token_endpoint"], data={"grant_type": "client_credentials"}, timeout=5)
    assert probe.status_code == 401 and probe.json()["error"] == "invalid_client"


def test_revocation_with_authlib(suite):
    client = register(suite, {"grant_types": ["client_credentials"], "scope": "a", "access_token_format": "opaque", "allowed_audiences": [RESOURCE]})
    session = OAuth2Session(client["client_id"], client["client_secret"])
    base = suite["urls"]["token"]
    token = session.fetch_token(base + "/oauth2/token", grant_type="client_credentials")
    response = session.revoke_token(base + "/oauth2/revoke", token["access_token"], token_type_hint="access_token")
    assert response.status_code == 200
    metadata = requests.get(base + "/.well-known/oauth-authorization-server", timeout=5).json()
    assert metadata["revocation_endpoint"] == base + "/oauth2/revoke"
