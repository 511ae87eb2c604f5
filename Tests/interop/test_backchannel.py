"""Backchannel permission requests (seed 004's merchant flow, shaped after OpenID CIBA): a
confidential client asks for Alice's permission by her username, without a redirect; Alice sees
the request on her account page (a form naming the app and the scopes, with `decision` buttons
allow and deny) and decides; the client polls the token endpoint with `auth_req_id`, or in ping
mode is called back first. A request for an unknown user is answered exactly like one for a
known user, and can never be approved."""
import http.server
import json
import threading
import time
import uuid

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

import browser
from conftest import start_suite, stop_suite

CIBA = "urn:openid:params:grant-type:ciba"


class Pings(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Pings.received.append({"path": self.path, "authorization": self.headers.get("Authorization"), "body": json.loads(body or b"{}")})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def ping_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def merchant_suite():
    # Loopback fetches (development setting) so that the ping reaches the test's own listener.
    running = start_suite(extra_env={"NEOSEC_TOKEN_OUTBOUND_FETCH": "loopback"})
    yield running
    stop_suite(running)


def register(suite, **metadata):
    body = {
        "client_name": "Merchant " + uuid.uuid4().hex[:6], "grant_types": [CIBA], "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid phone address", "backchannel_token_delivery_mode": "poll",
    }
    body.update(metadata)
    response = requests.post(suite["urls"]["token"] + "/admin/clients", json=body, headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["client_id"], response.json()["client_secret"], body["client_name"]


def ask(suite, client, **params):
    data = {"scope": "openid phone", "login_hint": "alice"}
    data.update(params)
    return requests.post(suite["urls"]["token"] + "/oauth2/bc-authorize", data=data, auth=client[:2], timeout=10)


def collect(suite, client, auth_req_id):
    return requests.post(suite["urls"]["token"] + "/oauth2/token", data={"grant_type": CIBA, "auth_req_id": auth_req_id}, auth=client[:2], timeout=10)


def signed_in(suite, username="alice", password="alice-demo-password"):
    session = browser.new_session(browser.fresh_address())
    page = session.get(suite["urls"]["authn"] + "/login", timeout=10)
    answer = browser.post_login(session, page, username, password)
    assert answer.status_code == 303, answer.text
    return session


def decide(suite, session, client_name, decision):
    page = session.get(suite["urls"]["authn"] + "/account", timeout=10)
    assert page.status_code == 200
    assert client_name in page.text, "the request is not on the account page"
    # The form right after the app's name (earlier tests may have left other requests pending).
    after = page.text.split(client_name + " asks for access", 1)[1]
    forms = [f for f in browser.forms(after) if f.action.endswith("/account/backchannel/decide")]
    assert forms, "no decision form"
    form = forms[0]
    assert {b["value"] for b in form.submit_buttons() if b["name"] == "decision"} == {"allow", "deny"}
    answer = browser.submit(session, page, form, press=("decision", decision))
    assert answer.status_code == 303
    return answer


def test_discovery_advertises_backchannel(merchant_suite):
    metadata = requests.get(merchant_suite["urls"]["token"] + "/.well-known/openid-configuration", timeout=5).json()
    assert metadata["backchannel_authentication_endpoint"] == merchant_suite["urls"]["token"] + "/oauth2/bc-authorize"
    assert metadata["backchannel_token_delivery_modes_supported"] == ["poll", "ping"]
    assert CIBA in metadata["grant_types_supported"]


def test_poll_mode_alice_allows_on_her_account_page(merchant_suite):
    client = register(merchant_suite)
    started = ask(merchant_suite, client, binding_message="Order 4711")
    assert started.status_code == 200, started.text
    body = started.json()
    assert set(body) == {"auth_req_id", "expires_in", "interval"}
    assert collect(merchant_suite, client, body["auth_req_id"]).json()["error"] == "authorization_pending"
    assert collect(merchant_suite, client, body["auth_req_id"]).json()["error"] == "slow_down"

    session = signed_in(merchant_suite)
    page = session.get(merchant_suite["urls"]["authn"] + "/account", timeout=10)
    assert "Order 4711" in page.text and "openid, phone" in page.text
    # Bob sees nothing of it, and cannot decide it.
    bob = signed_in(merchant_suite, "bob", "bob-demo-password")
    assert client[2] not in bob.get(merchant_suite["urls"]["authn"] + "/account", timeout=10).text
    alice_form = [f for f in browser.forms(page.text.split(client[2] + " asks for access", 1)[1]) if f.action.endswith("/account/backchannel/decide")][0]
    bob_page = bob.get(merchant_suite["urls"]["authn"] + "/account", timeout=10)
    forged = bob.post(merchant_suite["urls"]["authn"] + "/account/backchannel/decide", data={
        "csrf_token": browser.forms(bob_page.text)[0].field("csrf_token"), "request_id": alice_form.field("request_id"), "decision": "allow",
    }, allow_redirects=False, timeout=10)
    assert forged.status_code == 303 and "error=app_request_unknown" in forged.headers["Location"]

    answer = decide(merchant_suite, session, client[2], "allow")
    assert "done=app_request_allowed" in answer.headers["Location"]
    time.sleep(10.5)  # the interval grew to 10 s after the slow_down
    tokens = collect(merchant_suite, client, body["auth_req_id"])
    assert tokens.status_code == 200, tokens.text
    keys = KeySet.import_key_set(requests.get(merchant_suite["urls"]["token"] + "/.well-known/jwks.json", timeout=5).json())
    id_token = jwt.decode(tokens.json()["id_token"], keys, algorithms=["RS256"]).claims
    assert id_token["aud"] == client[0] and id_token["sid"]
    userinfo = requests.get(merchant_suite["urls"]["token"] + "/oauth2/userinfo", headers={"Authorization": "Bearer " + tokens.json()["access_token"]}, timeout=10)
    assert userinfo.status_code == 200 and userinfo.json()["phone_number"] == "+33 1 23 45 67 01"
    assert "address" not in userinfo.json()
    # Collected once.
    time.sleep(10.5)
    assert collect(merchant_suite, client, body["auth_req_id"]).json()["error"] == "invalid_grant"


def test_denied(merchant_suite):
    client = register(merchant_suite)
    body = ask(merchant_suite, client).json()
    answer = decide(merchant_suite, signed_in(merchant_suite), client[2], "deny")
    assert "done=app_request_denied" in answer.headers["Location"]
    assert collect(merchant_suite, client, body["auth_req_id"]).json()["error"] == "access_denied"


def test_unknown_user_is_answered_like_a_known_one(merchant_suite):
    client = register(merchant_suite)
    known = ask(merchant_suite, client)
    unknown = ask(merchant_suite, client, login_hint="nobody-" + uuid.uuid4().hex[:8])
    assert known.status_code == unknown.status_code == 200
    assert set(known.json()) == set(unknown.json())
    assert known.json()["expires_in"] == unknown.json()["expires_in"] and known.json()["interval"] == unknown.json()["interval"]
    assert len(known.json()["auth_req_id"]) == len(unknown.json()["auth_req_id"])
    assert known.headers.get("Content-Type") == unknown.headers.get("Content-Type")
    assert collect(merchant_suite, client, unknown.json()["auth_req_id"]).json()["error"] == "authorization_pending"


def test_ping_mode_calls_the_client_back(merchant_suite, ping_port):
    Pings.received.clear()
    client = register(merchant_suite, backchannel_token_delivery_mode="ping",
                      backchannel_client_notification_endpoint=f"http://127.0.0.1:{ping_port}/ciba/ping")
    assert ask(merchant_suite, client).json()["error"] == "invalid_request"  # no client_notification_token
    body = ask(merchant_suite, client, client_notification_token="merchant-token-" + uuid.uuid4().hex).json()
    token = None
    decide(merchant_suite, signed_in(merchant_suite), client[2], "allow")
    deadline = time.time() + 10
    while time.time() < deadline and not Pings.received:
        time.sleep(0.2)
    assert len(Pings.received) == 1, Pings.received
    ping = Pings.received[0]
    assert ping["path"] == "/ciba/ping" and ping["authorization"].startswith("Bearer merchant-token-")
    assert ping["body"] == {"auth_req_id": body["auth_req_id"]}
    token = collect(merchant_suite, client, ping["body"]["auth_req_id"])
    assert token.status_code == 200, token.text


def test_refusals(merchant_suite):
    client = register(merchant_suite)
    assert ask(merchant_suite, client, scope="phone").json()["error"] == "invalid_scope"  # openid required
    assert ask(merchant_suite, client, scope="openid admin").json()["error"] == "invalid_scope"
    no_hint = requests.post(merchant_suite["urls"]["token"] + "/oauth2/bc-authorize", data={"scope": "openid"}, auth=client[:2], timeout=10)
    assert no_hint.json()["error"] == "invalid_request"
    assert ask(merchant_suite, client, id_token_hint="x").json()["error"] == "invalid_request"
    assert ask(merchant_suite, client, binding_message="x" * 65).json()["error"] == "invalid_binding_message"
    assert ask(merchant_suite, client, requested_expiry="86400").json()["error"] == "invalid_request"
    wrong_secret = requests.post(merchant_suite["urls"]["token"] + "/oauth2/bc-authorize", data={"scope": "openid", "login_hint": "alice"},
                                 auth=(client[0], client[1] + "x"), timeout=10)
    assert wrong_secret.status_code == 401
    other = register(merchant_suite)
    body = ask(merchant_suite, client).json()
    assert collect(merchant_suite, other, body["auth_req_id"]).json()["error"] == "invalid_grant"
    # Public clients and clients without the grant cannot ask.
    refused = requests.post(merchant_suite["urls"]["token"] + "/admin/clients", json={
        "grant_types": [CIBA], "token_endpoint_auth_method": "none", "backchannel_token_delivery_mode": "poll",
    }, headers={"Authorization": "Bearer " + merchant_suite["admin_token"]}, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client_metadata"
    for metadata in [{"backchannel_token_delivery_mode": "push"}, {"backchannel_token_delivery_mode": "ping"},
                     {"backchannel_token_delivery_mode": "ping", "backchannel_client_notification_endpoint": "https://10.0.0.1/ping"}]:
        bad = requests.post(merchant_suite["urls"]["token"] + "/admin/clients", json={"grant_types": [CIBA], **metadata},
                            headers={"Authorization": "Bearer " + merchant_suite["admin_token"]}, timeout=10)
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_client_metadata", (metadata, bad.text)
