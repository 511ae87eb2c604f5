"""Authorization code + PKCE through the real login and consent pages, driven by Authlib (a
client nobody here wrote): refresh rotation and reuse detection, RFC 7009 revocation, code
replay, the login form's failure path, redirect URI checks, a public client, partial consent."""
import secrets
from urllib.parse import urlencode

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

import browser

WEB = "demo-web"
WEB_NAME = "NeoSec Demo Web App"
WEB_REDIRECT = "http://127.0.0.1:9999/callback"
SPA = "demo-spa"
SPA_REDIRECT = "http://127.0.0.1:9999/spa/callback"
SCOPE = "openid profile email offline_access documents:read"
USERS = {"alice": "alice-demo-password", "bob": "bob-demo-password"}
BAD_CREDENTIALS = "The username or password is incorrect."


def endpoint(suite, path):
    return suite["urls"]["token"] + path


def web_session(suite, scope=SCOPE):
    return OAuth2Session(
        WEB, suite["clients"][WEB], scope=scope, redirect_uri=WEB_REDIRECT,
        code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic",
    )


def record_responses(session):
    """Every HTTP response the session receives, in order (Authlib returns only the JSON)."""
    seen = []
    session.hooks["response"].append(lambda response, *args, **kwargs: seen.append(response))
    return seen


def authorize_with_authlib(suite, session, username="alice", untick=(), expect_client=None, **extra):
    """Authlib builds the request, the browser signs in, Authlib redeems the code."""
    verifier = generate_token(48)
    url, state = session.create_authorization_url(endpoint(suite, "/oauth2/authorize"), code_verifier=verifier, **extra)
    assert "code_challenge_method=S256" in url and "code_challenge=" in url
    final = browser.login_and_consent(
        requests.Session(), url, username, USERS[username], session.redirect_uri, untick=untick, expect_client=expect_client
    )
    params = browser.query(final)
    assert params["state"] == state
    assert params["iss"] == suite["urls"]["token"]  # RFC 9207
    assert params["code"]
    return session.fetch_token(
        endpoint(suite, "/oauth2/token"), authorization_response=final, code_verifier=verifier, state=state
    )


def oauth_error(failure):
    """The OAuth `error` code behind an exception from Authlib (its OAuthError, or the HTTP
    error some versions raise before reading the body)."""
    error = getattr(failure, "error", None)
    if error:
        return error
    response = getattr(failure, "response", None)
    if response is not None:
        try:
            return response.json().get("error")
        except ValueError:
            pass
    return str(failure)


def userinfo(suite, access_token):
    return requests.get(
        endpoint(suite, "/oauth2/userinfo"), headers={"Authorization": "Bearer " + access_token}, timeout=10
    )


def raw_token(suite, data, client=WEB):
    secret = suite["clients"][client]
    return requests.post(
        endpoint(suite, "/oauth2/token"), data=data, auth=(client, secret) if secret else None, timeout=10
    )


def id_token_claims(suite, token):
    keys = KeySet.import_key_set(requests.get(endpoint(suite, "/.well-known/jwks.json"), timeout=5).json())
    return jwt.decode(token, keys, algorithms=["RS256", "ES256", "EdDSA"]).claims


def test_code_flow_with_pkce_refresh_rotation_and_reuse_detection(suite):
    session = web_session(suite)
    responses = record_responses(session)
    nonce = secrets.token_urlsafe(16)
    token = authorize_with_authlib(suite, session, expect_client=WEB_NAME, nonce=nonce)

    issued = responses[-1]
    assert issued.status_code == 200
    assert issued.headers["Cache-Control"] == "no-store"
    assert issued.request.headers["Authorization"].startswith("Basic ")
    assert token["token_type"].lower() == "bearer"
    assert token["access_token"]
    assert token["refresh_token"].startswith("neo_rt_")
    assert token["id_token"]
    assert token["refresh_count"] == 0
    assert set(token["scope"].split()) == set(SCOPE.split())

    claims = id_token_claims(suite, token["id_token"])
    assert claims["iss"] == suite["urls"]["token"]
    assert claims["aud"] == WEB
    assert claims["nonce"] == nonce
    info = userinfo(suite, token["access_token"])
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"]

    first = token["refresh_token"]
    refreshed = session.refresh_token(endpoint(suite, "/oauth2/token"), refresh_token=first)
    assert responses[-1].headers["Cache-Control"] == "no-store"
    assert refreshed["refresh_token"].startswith("neo_rt_")
    assert refreshed["refresh_token"] != first
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_count"] == 1
    assert userinfo(suite, refreshed["access_token"]).status_code == 200

    # Presenting the retired token again is taken as theft (RFC 9700 §4.14.2) ...
    replay = raw_token(suite, {"grant_type": "refresh_token", "refresh_token": first})
    assert replay.status_code == 400, replay.text
    assert replay.json()["error"] == "invalid_grant"
    # ... and the whole family dies, the newest refresh token and its access token included.
    with pytest.raises(Exception) as failure:
        session.refresh_token(endpoint(suite, "/oauth2/token"), refresh_token=refreshed["refresh_token"])
    assert oauth_error(failure.value) == "invalid_grant"
    assert responses[-1].status_code == 400
    assert userinfo(suite, refreshed["access_token"]).status_code == 401


def test_revoked_refresh_token_cannot_refresh(suite):
    session = web_session(suite)
    token = authorize_with_authlib(suite, session)
    revoked = session.revoke_token(endpoint(suite, "/oauth2/revoke"), token["refresh_token"], token_type_hint="refresh_token")
    assert revoked.status_code == 200, revoked.text
    with pytest.raises(Exception) as failure:
        session.refresh_token(endpoint(suite, "/oauth2/token"), refresh_token=token["refresh_token"])
    assert oauth_error(failure.value) == "invalid_grant"
    # RFC 7009 §2.1: the access tokens of the same grant go with it.
    assert userinfo(suite, token["access_token"]).status_code == 401


def test_code_replay_fails_and_revokes_what_the_code_gave(suite):
    verifier, challenge = browser.pkce_pair()
    state = secrets.token_urlsafe(12)
    url = endpoint(suite, "/oauth2/authorize") + "?" + urlencode({
        "response_type": "code", "client_id": WEB, "redirect_uri": WEB_REDIRECT, "scope": SCOPE, "state": state,
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    final = browser.login_and_consent(requests.Session(), url, "alice", USERS["alice"], WEB_REDIRECT)
    params = browser.query(final)
    assert params["state"] == state
    redeem = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": WEB_REDIRECT, "code_verifier": verifier}

    first = raw_token(suite, redeem)
    assert first.status_code == 200, first.text
    assert first.headers["Cache-Control"] == "no-store"
    tokens = first.json()
    assert userinfo(suite, tokens["access_token"]).status_code == 200

    second = raw_token(suite, redeem)
    assert second.status_code == 400, second.text
    assert second.json()["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: what the code was exchanged for is revoked.
    revoked = userinfo(suite, tokens["access_token"])
    assert revoked.status_code == 401
    assert revoked.headers["WWW-Authenticate"].startswith("Bearer")
    again = raw_token(suite, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_wrong_password_gets_the_generic_message_on_the_form(suite):
    session = web_session(suite, scope="openid profile")
    url, state = session.create_authorization_url(endpoint(suite, "/oauth2/authorize"), code_verifier=generate_token(48))
    visitor = requests.Session()
    page = browser.open_login(visitor, url, WEB_REDIRECT, expect_client=WEB_NAME)
    challenge = browser.query(page.url)["login_challenge"]

    wrong = "not-" + USERS["bob"]
    failed = browser.post_login(visitor, page, "bob", wrong)
    assert failed.status_code == 401
    browser.assert_page_headers(failed)
    assert BAD_CREDENTIALS in failed.text
    assert wrong not in failed.text
    assert "Location" not in failed.headers
    assert WEB_NAME in failed.text
    # An unknown user reads exactly the same.
    unknown = browser.post_login(visitor, failed, "nobody-" + secrets.token_hex(4), wrong, challenge=challenge)
    assert unknown.status_code == 401
    assert BAD_CREDENTIALS in unknown.text

    # The form comes back for the same request, and the right password then goes through.
    answer = browser.post_login(visitor, unknown, "bob", USERS["bob"], challenge=challenge)
    final = browser.finish(visitor, answer, WEB_REDIRECT)
    assert browser.query(final)["state"] == state
    assert browser.query(final)["code"]


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/callback",
    WEB_REDIRECT + "/../evil",
    WEB_REDIRECT + "x",
])
def test_unregistered_redirect_uri_gets_a_page_not_a_redirect(suite, redirect_uri):
    _, challenge = browser.pkce_pair()
    response = requests.get(endpoint(suite, "/oauth2/authorize"), params={
        "response_type": "code", "client_id": WEB, "redirect_uri": redirect_uri, "scope": "openid", "state": "s",
        "code_challenge": challenge, "code_challenge_method": "S256",
    }, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers.get("Content-Security-Policy")
    assert "evil.example" not in response.text


def test_public_client_uses_pkce_and_no_secret(suite):
    assert suite["clients"][SPA] is None
    session = OAuth2Session(
        SPA, scope="openid profile offline_access", redirect_uri=SPA_REDIRECT, code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    responses = record_responses(session)
    token = authorize_with_authlib(suite, session, expect_client="NeoSec Demo SPA")
    request = responses[-1].request
    assert "Authorization" not in request.headers
    body = request.body if isinstance(request.body, str) else request.body.decode()
    assert "client_id=demo-spa" in body and "client_secret" not in body and "code_verifier=" in body
    assert token["refresh_token"].startswith("neo_rt_")
    assert userinfo(suite, token["access_token"]).status_code == 200

    # Without a code challenge a public client is turned back at the authorization endpoint.
    refused = requests.get(endpoint(suite, "/oauth2/authorize"), params={
        "response_type": "code", "client_id": SPA, "redirect_uri": SPA_REDIRECT, "scope": "openid", "state": "no-pkce",
    }, allow_redirects=False, timeout=10)
    assert refused.status_code == 303
    location = refused.headers["Location"]
    assert browser.lands_on(location, SPA_REDIRECT)
    assert browser.query(location)["error"] == "invalid_request"
    assert browser.query(location)["state"] == "no-pkce"


def test_unticked_email_is_not_released(suite):
    session = web_session(suite, scope="openid profile email")
    # prompt=consent: show the consent page even though alice consented to this app before.
    token = authorize_with_authlib(suite, session, untick=("email",), prompt="consent")
    assert token["scope"].split() == ["openid", "profile"]
    info = userinfo(suite, token["access_token"])
    assert info.status_code == 200, info.text
    claims = info.json()
    assert claims["name"] == "Alice Martin"
    assert "email" not in claims
    assert "email_verified" not in claims
