"""OpenID Connect against the Token Service with pyoidc (`oic`), a relying party nobody here
wrote: discovery, the code flow with the ID token verified against the published JWKS, nonce
and at_hash, userinfo per scope, and RP-initiated logout ending the browser session."""
import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import requests
from oic.oic import Client
from oic.oic.message import AccessTokenResponse, AuthorizationResponse, IdToken, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

import browser

WEB = "demo-web"
WEB_NAME = "NeoSec Demo Web App"
WEB_REDIRECT = "http://127.0.0.1:9999/callback"
POST_LOGOUT = "http://127.0.0.1:9999/"
ALICE = ("alice", "alice-demo-password")


def relying_party(suite):
    """A pyoidc client configured by discovery, registered out of band as demo-web."""
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(suite["urls"]["token"])
    client.store_registration_info(
        RegistrationResponse(client_id=WEB, client_secret=suite["clients"][WEB], redirect_uris=[WEB_REDIRECT])
    )
    client.redirect_uris = [WEB_REDIRECT]
    return client


@dataclass
class SignIn:
    state: str
    nonce: str
    request: object
    token: AccessTokenResponse
    id_token: IdToken
    raw_id_token: str
    visitor: requests.Session


def authorization_url(client, scope, state, nonce, challenge, **extra):
    request_args = {
        "response_type": "code", "scope": scope.split(), "state": state, "nonce": nonce, "redirect_uri": WEB_REDIRECT,
        "code_challenge": challenge, "code_challenge_method": "S256",
    }
    request_args.update(extra)
    request = client.construct_AuthorizationRequest(request_args=request_args)
    return request, request.request(client.authorization_endpoint)


def sign_in(suite, client, scope, user=ALICE, visitor=None):
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    verifier, challenge = browser.pkce_pair()
    request, url = authorization_url(client, scope, state, nonce, challenge)
    visitor = visitor or requests.Session()
    final = browser.login_and_consent(visitor, url, user[0], user[1], WEB_REDIRECT)

    response = client.parse_response(AuthorizationResponse, info=urlsplit(final).query, sformat="urlencoded")
    assert isinstance(response, AuthorizationResponse), response
    assert response["state"] == state
    assert response["iss"] == suite["urls"]["token"]

    token = client.do_access_token_request(
        state=state,
        request_args={"code": response["code"], "redirect_uri": WEB_REDIRECT, "code_verifier": verifier},
        authn_method="client_secret_basic",
    )
    assert isinstance(token, AccessTokenResponse), token
    # pyoidc replaced the JWT by the IdToken it verified against the provider's keys.
    id_token = token["id_token"]
    assert isinstance(id_token, IdToken), type(id_token)
    client.verify_id_token(id_token, request)  # iss, aud, azp, exp, nonce (Core §3.1.3.7)
    raw = token["id_token_jwt"] if "id_token_jwt" in token else id_token.jwt
    return SignIn(state, nonce, request, token, id_token, raw, visitor)


def left_half_hash(value, alg):
    digest = (hashlib.sha512 if alg == "EdDSA" else hashlib.sha256)(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def test_discovery(suite):
    issuer = suite["urls"]["token"]
    client = relying_party(suite)
    info = client.provider_info
    assert info["issuer"] == issuer
    assert info["response_types_supported"] == ["code", "id_token token", "token"]
    assert "S256" in info["code_challenge_methods_supported"]
    assert "plain" not in info["code_challenge_methods_supported"]
    assert info["end_session_endpoint"] == issuer + "/oauth2/logout"
    assert client.authorization_endpoint == issuer + "/oauth2/authorize"
    assert client.token_endpoint == issuer + "/oauth2/token"
    assert client.userinfo_endpoint == issuer + "/oauth2/userinfo"
    assert client.end_session_endpoint == issuer + "/oauth2/logout"
    assert "RS256" in info["id_token_signing_alg_values_supported"]
    assert {"openid", "profile", "email", "address", "phone", "offline_access"} <= set(info["scopes_supported"])
    raw = requests.get(issuer + "/.well-known/openid-configuration", timeout=5)
    assert raw.status_code == 200
    assert raw.json()["authorization_response_iss_parameter_supported"] is True


def test_code_flow_verifies_the_id_token(suite):
    client = relying_party(suite)
    signed = sign_in(suite, client, "openid profile email")
    id_token = signed.id_token
    assert id_token["iss"] == suite["urls"]["token"]
    assert id_token["aud"] == [WEB]
    assert id_token["nonce"] == signed.nonce
    assert id_token["azp"] == WEB
    assert "pwd" in id_token["amr"]
    assert id_token["acr"] in client.provider_info["acr_values_supported"]
    assert id_token["exp"] > id_token["iat"] >= id_token["auth_time"]
    # at_hash (Core §3.1.3.6), which pyoidc does not check on a token response: we do.
    alg = id_token.jws_header["alg"]
    assert alg == "RS256"  # demo-web registers no id_token_signed_response_alg
    assert id_token["at_hash"] == left_half_hash(signed.token["access_token"], alg)

    # The signature really is checked against the published keys: a changed claim is refused.
    header, payload, signature = signed.raw_id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = ".".join([header, forged_payload, signature])
    with pytest.raises(Exception):
        IdToken().from_jwt(forged, keyjar=client.keyjar)
    assert IdToken().from_jwt(signed.raw_id_token, keyjar=client.keyjar)["sub"] == id_token["sub"]


def test_sub_is_stable_across_sign_ins(suite):
    first = sign_in(suite, relying_party(suite), "openid")
    second = sign_in(suite, relying_party(suite), "openid")
    assert first.id_token["sub"] == second.id_token["sub"]
    assert first.id_token["sid"] != second.id_token["sid"]  # two browsers, two sessions


def test_userinfo_releases_the_claims_of_each_scope(suite):
    client = relying_party(suite)
    signed = sign_in(suite, client, "openid profile email phone address")
    info = client.do_user_info_request(state=signed.state, method="GET")
    assert info["sub"] == signed.id_token["sub"]
    assert info["name"] == "Alice Martin"
    assert info["email"] == "alice@example.com"
    assert info["email_verified"] is True
    assert info["phone_number"] == "+33 1 23 45 67 01"
    assert info["address"]["formatted"] == "1 rue de Rivoli\n75001 Paris\nFrance"


def test_userinfo_with_only_openid_is_just_sub(suite):
    client = relying_party(suite)
    signed = sign_in(suite, client, "openid")
    info = client.do_user_info_request(state=signed.state, method="GET")
    assert info.to_dict() == {"sub": signed.id_token["sub"]}
    raw = requests.get(
        client.userinfo_endpoint, headers={"Authorization": "Bearer " + signed.token["access_token"]}, timeout=10
    )
    assert raw.status_code == 200
    assert raw.json() == {"sub": signed.id_token["sub"]}


def silent_authorize(client, visitor):
    """prompt=none with the visitor's cookies: (final redirect URL, state)."""
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    _, challenge = browser.pkce_pair()
    _, url = authorization_url(client, "openid", state, nonce, challenge, prompt=["none"])
    page, location = browser.visit(visitor, url, WEB_REDIRECT)
    assert location is not None, f"prompt=none must not show a page: {page.status_code} {page.url}"
    return location, state


def test_rp_initiated_logout_ends_the_session(suite):
    issuer = suite["urls"]["token"]
    client = relying_party(suite)
    signed = sign_in(suite, client, "openid profile")
    visitor = signed.visitor

    # While signed in, prompt=none gets a code without any page.
    location, state = silent_authorize(client, visitor)
    params = browser.query(location)
    assert params["state"] == state and params["code"], params
    cookies_before = visitor.cookies.copy()

    logout_state = secrets.token_urlsafe(12)
    url = client.end_session_endpoint + "?" + urlencode({
        "id_token_hint": signed.raw_id_token, "post_logout_redirect_uri": POST_LOGOUT, "state": logout_state,
    })
    started = visitor.get(url, allow_redirects=False, timeout=10)
    assert started.status_code == 303, started.text
    confirm_url = started.headers["Location"]
    assert confirm_url.startswith(suite["urls"]["authn"] + "/logout?")
    challenge = browser.query(confirm_url)["logout_challenge"]

    page = visitor.get(confirm_url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    browser.assert_page_headers(page)
    assert WEB_NAME in page.text
    form = browser.form_with(page.text, "logout_challenge")
    assert form.method == "post"
    assert urlsplit(urljoin(page.url, form.action)).path.endswith("/logout")
    assert form.field("csrf_token")
    assert form.field("logout_challenge") == challenge
    done = browser.submit(visitor, page, form)
    assert done.status_code == 303, done.text
    assert done.headers["Location"] == POST_LOGOUT + "?" + urlencode({"state": logout_state})

    # The session is gone: prompt=none now answers login_required, at the redirect URI ...
    location, state = silent_authorize(client, visitor)
    params = browser.query(location)
    assert params["error"] == "login_required"
    assert params["state"] == state
    assert params["iss"] == issuer
    assert "code" not in params
    # ... even for a browser that kept the old cookies: it was ended on the server, not only forgotten.
    stale = requests.Session()
    stale.cookies.update(cookies_before)
    location, _ = silent_authorize(client, stale)
    assert browser.query(location)["error"] == "login_required"
