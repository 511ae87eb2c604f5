"""Federation between two NeoSec suites: the downstream Authentication Service signs users in
through the upstream suite's Token Service (an OpenID Provider like any other).

Both suites listen on 127.0.0.1, and browsers keep cookies per host, not per port, while both
Authentication Services name theirs `neosec_session` and `neosec_csrf`. So the upstream suite's
public URLs (and its issuer) use the host name `localhost` instead: for a browser, localhost and
127.0.0.1 are different hosts, and each suite keeps its own cookies.

- In headless Chromium: bob, signed in locally downstream, links his upstream identity from the
  account page (upstream login and consent), then signs in with it in a fresh browser.
- Over plain HTTP (`browser.py`): a callback (a link proof) from one browser's link attempt is
  refused in another browser; a first federated login never attaches to an existing account by
  email, verified or not.
"""
import base64
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from browser import (
    account_ids, create_account, finish, forms, lands_on, new_session, open_login, pkce_pair,
    post_login, query, submit, visit,
)
from conftest import free_ports, start_suite, stop_suite
from test_pages_chromium import REDIRECT, click_and_wait, driver, sign_in, wait_for_url  # noqa: F401 (driver is a fixture)

from selenium.webdriver.common.by import By  # noqa: E402

PROVIDER = "Upstream NeoSec"


@pytest.fixture(scope="module")
def federation():
    """Two suites: the upstream on `localhost`, started first; the downstream (on 127.0.0.1) with
    the upstream as its provider `upstream`, through a client registered upstream for the
    downstream's /federation/callback."""
    upstream = start_suite(host="localhost")
    downstream = None
    try:
        discovery = requests.get(upstream["urls"]["token"] + "/.well-known/openid-configuration", timeout=15).json()
        assert discovery["issuer"] == upstream["urls"]["token"], discovery["issuer"]
        assert urlsplit(discovery["authorization_endpoint"]).hostname == "localhost", discovery["authorization_endpoint"]
        ports = free_ports()
        callback = f"http://127.0.0.1:{ports['authn']}/federation/callback"
        registered = requests.post(
            upstream["urls"]["token"] + "/admin/clients",
            headers={"Authorization": "Bearer " + upstream["admin_token"]},
            json={
                "client_name": "Downstream NeoSec", "grant_types": ["authorization_code"], "redirect_uris": [callback],
                "scope": "openid profile email", "require_pkce": True,
            },
            timeout=15,
        )
        assert registered.status_code == 201, registered.text
        client = registered.json()
        upstreams = [{
            "id": "upstream", "name": PROVIDER, "issuer": upstream["urls"]["token"],
            "client_id": client["client_id"], "client_secret": client["client_secret"],
        }]
        downstream = start_suite(extra_env={"NEOSEC_AUTHN_UPSTREAMS": json.dumps(upstreams)}, ports=ports)
        assert downstream["urls"]["authn"] + "/federation/callback" == callback
        yield {"upstream": upstream, "downstream": downstream, "callback": callback}
    finally:
        try:
            if downstream is not None:
                stop_suite(downstream)
        finally:
            stop_suite(upstream)


def identity_label(federation):
    return f"{PROVIDER} ({federation['upstream']['urls']['token']})"


# -- Chromium: linking from the account page ---------------------------------------------------------


def identities(driver):
    section = driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=identities-heading]")
    return [item.text for item in section.find_elements(By.CSS_SELECTOR, "ul.identities li")]


def allow_consent(driver):
    assert "/consent?consent_challenge=" in driver.current_url, driver.current_url
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[name=decision][value=allow]"))


def test_link_an_upstream_identity_in_chromium(federation, driver):
    down = federation["downstream"]["urls"]
    up = federation["upstream"]["urls"]

    # Signed in locally downstream as bob.
    driver.get(down["authn"] + "/login")
    assert PROVIDER in driver.page_source  # "Sign in with Upstream NeoSec" on the login page too
    sign_in(driver, "bob", "bob-demo-password")
    wait_for_url(driver, down["authn"] + "/account")
    assert identities(driver) == ["Password (local)"]

    # "Link Upstream NeoSec": off to the upstream provider's own login page (on localhost).
    link = driver.find_element(By.XPATH, f"//section[@aria-labelledby='identities-heading']//button[normalize-space()='Link {PROVIDER}']")
    click_and_wait(driver, link)
    wait_for_url(driver, up["authn"] + "/login?login_challenge=")
    assert "Downstream NeoSec" in driver.page_source
    sign_in(driver, "bob", "bob-demo-password")
    allow_consent(driver)

    # Back on the downstream account page, with both identities; the local session survived.
    wait_for_url(driver, down["authn"] + "/account?done=linked")
    assert "The identity is linked to your account." in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert "Signed in as bob" in driver.find_element(By.CSS_SELECTOR, ".lead").text
    assert identities(driver) == ["Password (local)", identity_label(federation)]
    assert not driver.find_elements(By.XPATH, f"//button[normalize-space()='Link {PROVIDER}']")
    # Two cookie hosts, two sessions: the browser holds a neosec_session for each.
    assert {c["name"] for c in driver.get_cookies()} >= {"neosec_session", "neosec_csrf"}
    driver.get(up["authn"] + "/account")
    assert "Signed in as bob" in driver.find_element(By.CSS_SELECTOR, ".lead").text

    # Signed out downstream only (its cookies gone; the upstream session stays), "Sign in with
    # Upstream NeoSec" signs bob in again, into the same local account.
    driver.get(down["authn"] + "/account")
    driver.delete_all_cookies()  # the current host's (127.0.0.1) cookies only
    driver.get(down["authn"] + "/login")
    click_and_wait(driver, driver.find_element(By.XPATH, f"//button[normalize-space()='Sign in with {PROVIDER}']"))
    if "/consent?consent_challenge=" in driver.current_url:
        allow_consent(driver)
    wait_for_url(driver, down["authn"] + "/account")
    assert "Signed in as bob" in driver.find_element(By.CSS_SELECTOR, ".lead").text
    assert identities(driver) == ["Password (local)", identity_label(federation)]


# -- Plain HTTP: link proofs and email matching -------------------------------------------------------


def sign_in_locally(suite, username, password):
    """A fresh browser signed in at `suite`'s Authentication Service, on its account page."""
    session = new_session()
    page = session.get(suite["urls"]["authn"] + "/login", allow_redirects=False, timeout=15)
    answer = post_login(session, page, username, password)
    assert answer.status_code == 303 and answer.headers["Location"] == "/account", (answer.status_code, answer.text)
    return session


def account_page(suite, session):
    page = session.get(suite["urls"]["authn"] + "/account", allow_redirects=False, timeout=15)
    assert page.status_code == 200, (page.status_code, page.headers.get("Location"))
    return page


def press(session, page, form_field, value, **fill):
    """Submits the form of `page` whose hidden `form_field` is `value`."""
    matching = [f for f in forms(page.text) if f.field(form_field) == value]
    assert matching, f"no form with {form_field}={value!r} on {page.url}"
    return submit(session, page, matching[0], **fill)


def start_link(federation, session):
    """Presses "Link Upstream NeoSec" on the downstream account page; returns the upstream
    authorization URL it leads to (its `state` is bound to this browser's `neosec_fed` cookie)."""
    page = account_page(federation["downstream"], session)
    answer = press(session, page, "mode", "link")
    assert answer.status_code == 303, answer.text
    assert "neosec_fed" in session.cookies
    location = answer.headers["Location"]
    assert location.startswith(federation["upstream"]["urls"]["token"] + "/oauth2/authorize?")
    return location


def through_upstream(federation, session, authorize, username, password):
    """At the upstream provider: its login page and consent. Returns the callback URL it sends the
    browser to (not fetched)."""
    page, location = visit(session, authorize, federation["callback"])
    if location is not None:
        return location
    assert urlsplit(page.url).hostname == "localhost" and urlsplit(page.url).path == "/login", page.url
    location = finish(session, post_login(session, page, username, password), federation["callback"])
    assert lands_on(location, federation["callback"]), location
    return location


def test_a_link_proof_from_one_browser_is_refused_in_another(federation):
    down, up = federation["downstream"], federation["upstream"]
    a_name, a_password, _ = create_account(down, "linka")
    b_name, b_password, _ = create_account(down, "linkb")
    upstream_name, upstream_password, _ = create_account(up, "linkup")

    # A starts a link and signs in upstream; the provider's answer is the callback URL with A's state.
    browser_a = sign_in_locally(down, a_name, a_password)
    callback = through_upstream(federation, browser_a, start_link(federation, browser_a), upstream_name, upstream_password)
    answer = query(callback)
    assert answer.get("code") and answer.get("state"), callback

    # B, signed in with an attempt of his own (his own neosec_fed cookie), replays A's URL: refused.
    browser_b = sign_in_locally(down, b_name, b_password)
    start_link(federation, browser_b)
    replay = browser_b.get(callback, allow_redirects=False, timeout=15)
    assert replay.status_code == 400, f"{replay.status_code} {replay.headers.get('Location')}\n{replay.text}"
    assert "Location" not in replay.headers
    assert "Sign-in failed" in replay.text
    # So is a browser with no attempt, nor any session.
    stranger = new_session().get(callback, allow_redirects=False, timeout=15)
    assert stranger.status_code == 400 and "Location" not in stranger.headers

    # B did not get the upstream identity, and the replays did not spoil A's attempt: the
    # browser binding is checked before the state is used up.
    assert identity_label(federation) not in account_page(down, browser_b).text
    linked = browser_a.get(callback, allow_redirects=False, timeout=15)
    assert linked.status_code == 303 and linked.headers["Location"] == "/account?done=linked", (linked.status_code, linked.text)
    assert identity_label(federation) in account_page(down, browser_a).text
    # Used once: the same callback again is refused.
    again = browser_a.get(callback, allow_redirects=False, timeout=15)
    assert again.status_code == 400 and "Location" not in again.headers


def federated_code_flow(federation, session, username, password):
    """A demo-web authorization request downstream, answered by signing in with the upstream
    provider as `username`. Returns the downstream ID token's claims (not verified here: only
    its subject and `amr` are read, and they come straight from the token endpoint)."""
    down = federation["downstream"]
    verifier, challenge = pkce_pair()
    authorize = down["urls"]["token"] + "/oauth2/authorize?" + urlencode({
        "response_type": "code", "client_id": "demo-web", "redirect_uri": REDIRECT, "scope": "openid profile email",
        "state": "fed", "nonce": "fed-nonce", "code_challenge": challenge, "code_challenge_method": "S256",
    })
    login = open_login(session, authorize, REDIRECT)
    started = press(session, login, "provider", "upstream")
    assert started.status_code == 303, started.text
    callback = through_upstream(federation, session, started.headers["Location"], username, password)
    answer = session.get(callback, allow_redirects=False, timeout=15)
    assert answer.status_code == 303, f"{answer.status_code}\n{answer.text}"
    final = finish(session, answer, REDIRECT)
    code = parse_qs(urlsplit(final).query)["code"][0]
    tokens = requests.post(
        down["urls"]["token"] + "/oauth2/token", auth=("demo-web", down["clients"]["demo-web"]),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}, timeout=15,
    )
    assert tokens.status_code == 200, tokens.text
    payload = tokens.json()["id_token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def admin_account(suite, account_id):
    response = requests.get(
        f"{suite['urls']['authn']}/admin/accounts/{account_id}", headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=15
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_first_federated_login_never_links_by_matching_email(federation):
    down = federation["downstream"]
    # Upstream alice and local alice have the same, verified, address: alice@example.com.
    local_alice = account_ids(down)["alice"]
    assert admin_account(down, local_alice)["claims"]["email"] == "alice@example.com"
    claims = federated_code_flow(federation, new_session(), "alice", "alice-demo-password")
    assert claims["amr"] == ["fed"]
    assert claims["sub"] != local_alice, "the upstream identity was attached to local alice by email"
    created = admin_account(down, claims["sub"])
    assert created["username"].endswith("@upstream"), created
    assert created["claims"].get("email") == "alice@example.com"
    # Local alice is untouched: still her password, no linked identity.
    page = account_page(down, sign_in_locally(down, "alice", "alice-demo-password"))
    assert identity_label(federation) not in page.text


def test_first_federated_login_with_an_unverified_email_creates_a_new_account(federation):
    down, up = federation["downstream"], federation["upstream"]
    # The same username and address on both sides; upstream says the address is not verified.
    username, password, local_id = create_account(down, "eve", claims={"email": "eve@example.com", "email_verified": True})
    response = requests.post(
        up["urls"]["authn"] + "/admin/accounts", headers={"Authorization": "Bearer " + up["admin_token"]},
        json={"username": username, "password": password, "claims": {"email": "eve@example.com", "email_verified": False}}, timeout=60,
    )
    assert response.status_code == 201, response.text

    # A direct federated sign-in (no app): "Sign in with Upstream NeoSec" on the login page.
    session = new_session()
    login = session.get(down["urls"]["authn"] + "/login", allow_redirects=False, timeout=15)
    started = press(session, login, "provider", "upstream")
    assert started.status_code == 303, started.text
    callback = through_upstream(federation, session, started.headers["Location"], username, password)
    answer = session.get(callback, allow_redirects=False, timeout=15)
    assert answer.status_code == 303 and answer.headers["Location"] == "/account", (answer.status_code, answer.text)
    page = account_page(down, session)
    assert f"Signed in as <strong>{username}@upstream</strong>" in page.text, "not a new account"
    assert "Password (local)" not in page.text
    assert identity_label(federation) in page.text

    ids = account_ids(down)
    assert ids[f"{username}@upstream"] != local_id
    created = admin_account(down, ids[f"{username}@upstream"])
    assert created["claims"].get("email_verified") is False, created
    # The local account has no upstream identity.
    assert identity_label(federation) not in account_page(down, sign_in_locally(down, username, password)).text
