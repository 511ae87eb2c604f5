"""The device authorization grant (RFC 8628) over a running suite: the device asks for a code,
polls (`authorization_pending`, `slow_down` when too fast), the user types the code on the
Authentication Service's `/device` page, signs in through the real forms and confirms on the
consent page; then the device gets its tokens once. Denial, expiry, another client's poll,
a code typed twice and guessing (throttled) are refused. The suite runs with a 20 s code
lifetime and a 1 s interval so that the test does not wait minutes."""
import time
import uuid

import pytest
import requests

import browser
from conftest import start_suite, stop_suite

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def devices():
    running = start_suite(extra_env={"NEOSEC_TOKEN_DEVICE_CODE_LIFETIME": "20", "NEOSEC_TOKEN_DEVICE_POLL_INTERVAL": "1"})
    yield running
    stop_suite(running)


def register(suite, **metadata):
    body = {
        "client_name": "TV " + uuid.uuid4().hex[:6], "grant_types": [DEVICE, "refresh_token"], "token_endpoint_auth_method": "none",
        "scope": "openid documents:read offline_access", "allowed_audiences": [suite["urls"]["resource"]],
    }
    body.update(metadata)
    response = requests.post(suite["urls"]["token"] + "/admin/clients", json=body, headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["client_id"]


def start(suite, client_id, scope="openid documents:read offline_access"):
    response = requests.post(suite["urls"]["token"] + "/oauth2/device_authorization", data={"client_id": client_id, "scope": scope}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response.json()


def poll(suite, client_id, device_code):
    return requests.post(suite["urls"]["token"] + "/oauth2/token", data={"grant_type": DEVICE, "device_code": device_code, "client_id": client_id}, timeout=10)


def error_of(response):
    assert response.status_code == 400, response.text
    return response.json()["error"]


def enter_code(suite, session, code, decision="allow", username="alice", password="alice-demo-password"):
    """The user's side: the device page, the code, sign-in, the consent page. Returns the final
    URL (back on /device with the result)."""
    done = suite["urls"]["authn"] + "/device"
    page = session.get(suite["urls"]["authn"] + "/device", params={"user_code": code}, timeout=10)
    assert page.status_code == 200
    browser.assert_page_headers(page)
    form = browser.form_with(page.text, "user_code")
    assert form.field("user_code") == code and form.field("csrf_token")
    answer = browser.submit(session, page, form)
    assert answer.status_code == 303, answer.text
    login, location = browser.follow(session, answer, done)
    assert location is None and login.url.split("?")[0].endswith("/login"), login.url
    signed_in = browser.post_login(session, login, username, password)
    if decision == "allow":
        return browser.finish(session, signed_in, done)
    consent, location = browser.follow(session, signed_in, done)
    assert location is None and "/consent" in consent.url
    form = browser.form_with(consent.text, "consent_challenge")
    denied = browser.submit(session, consent, form, press=("decision", "deny"))
    _, location = browser.follow(session, denied, done)
    return location


def test_discovery_names_the_device_endpoint(devices):
    metadata = requests.get(devices["urls"]["token"] + "/.well-known/openid-configuration", timeout=5).json()
    assert metadata["device_authorization_endpoint"] == devices["urls"]["token"] + "/oauth2/device_authorization"
    assert DEVICE in metadata["grant_types_supported"]


def test_the_whole_device_flow(devices):
    client_id = register(devices)
    started = start(devices, client_id)
    assert started["verification_uri"] == devices["urls"]["authn"] + "/device"
    assert started["verification_uri_complete"] == started["verification_uri"] + "?user_code=" + started["user_code"]
    assert started["interval"] == 1 and started["expires_in"] == 20
    assert len(started["user_code"]) == 9 and started["user_code"][4] == "-"
    assert started["device_code"].startswith("neo_dc_")

    assert error_of(poll(devices, client_id, started["device_code"])) == "authorization_pending"
    # Polling faster than the interval: slow_down, and the interval grows by 5 s (§3.5).
    assert error_of(poll(devices, client_id, started["device_code"])) == "slow_down"
    # Opening the link alone decides nothing.
    requests.get(started["verification_uri_complete"], timeout=10)
    time.sleep(6.2)
    assert error_of(poll(devices, client_id, started["device_code"])) == "authorization_pending"

    final = enter_code(devices, requests.Session(), started["user_code"])
    assert final == devices["urls"]["authn"] + "/device?result=approved"
    assert "Go back to your device" in requests.get(final, timeout=10).text

    time.sleep(6.2)
    tokens = poll(devices, client_id, started["device_code"])
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer" and body["refresh_token"].startswith("neo_rt_") and body["id_token"]
    assert body["scope"] == "openid documents:read offline_access"
    who = requests.get(devices["urls"]["resource"] + "/api/whoami", headers={"Authorization": "Bearer " + body["access_token"]}, timeout=10)
    assert who.status_code == 200 and who.json()["client_id"] == client_id
    # Once only.
    time.sleep(6.2)
    assert error_of(poll(devices, client_id, started["device_code"])) == "invalid_grant"
    # The code cannot be typed again.
    again = requests.Session()
    page = again.get(devices["urls"]["authn"] + "/device", timeout=10)
    refused = browser.submit(again, page, browser.form_with(page.text, "user_code"), fill={"user_code": started["user_code"]})
    assert refused.status_code == 400 and "not valid or has expired" in refused.text


def test_denied_on_the_consent_page(devices):
    client_id = register(devices)
    started = start(devices, client_id, scope="documents:read")
    final = enter_code(devices, requests.Session(), started["user_code"], decision="deny")
    assert final == devices["urls"]["authn"] + "/device?result=denied"
    assert error_of(poll(devices, client_id, started["device_code"])) == "access_denied"


def test_expired_code(devices):
    client_id = register(devices)
    started = start(devices, client_id)
    time.sleep(21)
    assert error_of(poll(devices, client_id, started["device_code"])) == "expired_token"
    page = requests.get(devices["urls"]["authn"] + "/device", timeout=10)
    session = requests.Session()
    page = session.get(devices["urls"]["authn"] + "/device", timeout=10)
    refused = browser.submit(session, page, browser.form_with(page.text, "user_code"), fill={"user_code": started["user_code"]})
    assert refused.status_code == 400


def test_refusals_at_the_endpoints(devices):
    client_id = register(devices)
    other = register(devices)
    started = start(devices, client_id)
    assert error_of(poll(devices, other, started["device_code"])) == "invalid_grant"
    assert error_of(poll(devices, client_id, "neo_dc_" + "A" * 43)) == "invalid_grant"
    plain = register(devices, grant_types=["authorization_code"], redirect_uris=["http://127.0.0.1:9999/cb"])
    refused = requests.post(devices["urls"]["token"] + "/oauth2/device_authorization", data={"client_id": plain}, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    wide = requests.post(devices["urls"]["token"] + "/oauth2/device_authorization", data={"client_id": client_id, "scope": "admin"}, timeout=10)
    assert wide.status_code == 400 and wide.json()["error"] == "invalid_scope"
    unknown = requests.post(devices["urls"]["token"] + "/oauth2/device_authorization", data={"client_id": "nobody-here"}, timeout=10)
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    # A confidential client must authenticate.
    confidential = register(devices, token_endpoint_auth_method="client_secret_basic")
    bare = requests.post(devices["urls"]["token"] + "/oauth2/device_authorization", data={"client_id": confidential}, timeout=10)
    assert bare.status_code == 401


def test_the_device_page_refuses_bad_forms_and_throttles_guessing(devices):
    session = browser.new_session(browser.fresh_address())
    page = session.get(devices["urls"]["authn"] + "/device", params={"user_code": "<script>"}, timeout=10)
    form = browser.form_with(page.text, "user_code")
    assert form.field("user_code") in (None, "")  # a malformed code is not put back
    no_csrf = session.post(devices["urls"]["authn"] + "/device", data={"user_code": "BCDF-GHJK"}, timeout=10)
    assert no_csrf.status_code == 403
    statuses = []
    for _ in range(8):
        page = session.get(devices["urls"]["authn"] + "/device", timeout=10)
        answer = browser.submit(session, page, browser.form_with(page.text, "user_code"), fill={"user_code": "BCDF-GHJK"})
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) >= 1
            break
    assert statuses[0] == 400 and statuses[-1] == 429, statuses
