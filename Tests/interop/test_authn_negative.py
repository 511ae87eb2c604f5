"""Negative tests of the Authentication Service's pages, over plain HTTP (`browser.py`): what an
attacker tries at the login form and around the session.

- A wrong password and an unknown username answer alike: status, body (less the per-browser
  CSRF token, the challenge and the typed username) and time (both run one scrypt).
- Repeated failures for one account throttle that account from every address (429 with
  `Retry-After`), even with the right password, until they expire or an administrator unlocks it;
  repeated failures from one address throttle that address.
- A login form without its CSRF token, or with a wrong one, is refused (403) and signs nobody in.
- A session id planted before sign-in is never the one after it (no fixation).
- No return URL is honoured: a direct sign-in always ends on the local account page; a
  federation callback with a state the service did not issue is an error page, not a redirect.

Each test uses accounts of its own and, where it fails on purpose, client addresses of its own
(`browser.new_session`), so that the per-address back-off it starts does not reach other tests.
"""
import itertools
import re
import statistics
import time
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import requests

from browser import (
    LOOPBACK_ALIASES, account_ids, assert_page_headers, create_account, form_with, login_form, new_session, open_login,
    pkce_pair, submit, visit,
)

REDIRECT = "http://127.0.0.1:9999/callback"
BAD_CREDENTIALS = "The username or password is incorrect."
THROTTLED = "Too many failed sign-in attempts."
needs_aliases = pytest.mark.skipif(not LOOPBACK_ALIASES, reason="needs loopback addresses other than 127.0.0.1 (Linux)")


def authorize_url(suite):
    _, challenge = pkce_pair()
    return suite["urls"]["token"] + "/oauth2/authorize?" + urlencode({
        "response_type": "code", "client_id": "demo-web", "redirect_uri": REDIRECT, "scope": "openid profile",
        "state": "negative", "nonce": "negative", "code_challenge": challenge, "code_challenge_method": "S256",
    })


def login_page(suite, session, challenge=False):
    """The login page in `session`: /login directly, or for a fresh demo-web authorization request."""
    if challenge:
        return open_login(session, authorize_url(suite), REDIRECT)
    page = session.get(suite["urls"]["authn"] + "/login", allow_redirects=False, timeout=15)
    assert page.status_code == 200, page.text
    assert_page_headers(page)
    return page


def post_credentials(session, page, username, password, retry_throttled=True):
    """Submits the login form of `page`. A correct sign-in that meets the shared per-address
    back-off (other tests' failures from the same address) waits it out and tries again."""
    for _ in range(6):
        answer = submit(session, page, login_form(page), fill={"username": username, "password": password})
        if answer.status_code != 429 or not retry_throttled:
            return answer
        time.sleep(min(int(answer.headers.get("Retry-After", "2")), 10) + 0.5)
    return answer


def session_cookie(response):
    """The `neosec_session` value a response sets, or None."""
    for header in response.raw.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == "neosec_session":
            return rest.split(";", 1)[0]
    return None


def assert_signed_in_as(suite, session, username):
    page = session.get(suite["urls"]["authn"] + "/account", allow_redirects=False, timeout=15)
    assert page.status_code == 200, f"not signed in: {page.status_code} {page.headers.get('Location')}"
    assert f"Signed in as <strong>{username}</strong>" in page.text


def assert_signed_out(suite, session):
    page = session.get(suite["urls"]["authn"] + "/account", allow_redirects=False, timeout=15)
    assert page.status_code == 303 and page.headers["Location"] == "/login", (page.status_code, page.headers)


# -- Wrong password and unknown user look the same ---------------------------------------------------


def normalized(body, username):
    """The page less what differs between any two browsers or attempts by design: the CSRF token
    (an HMAC of the browser's own cookie), the login challenge, and the username typed back."""
    body = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value="…"', body)
    body = re.sub(r'name="login_challenge" value="[^"]*"', 'name="login_challenge" value="…"', body)
    return body.replace(f'value="{username}"', 'value="…"')


COMPARED_HEADERS = ("Content-Type", "Content-Length", "Cache-Control", "Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "Retry-After", "Set-Cookie", "Location")


@pytest.mark.parametrize("with_challenge", [False, True], ids=["direct", "authorization-request"])
def test_wrong_password_and_unknown_user_are_indistinguishable(suite, with_challenge):
    existing, _, _ = create_account(suite, "nv")
    unknown = "nx-" + existing[3:][::-1]  # same length, so even Content-Length cannot differ
    assert unknown not in account_ids(suite)
    answers = {existing: [], unknown: []}
    timings = {existing: [], unknown: []}
    # Interleaved, 3 of each (under the 4 free failures per account); a fresh address each.
    for _ in range(3):
        for username in (existing, unknown):
            session = new_session()
            page = login_page(suite, session, with_challenge)
            started = time.perf_counter()
            answer = post_credentials(session, page, username, "not-the-password-at-all", retry_throttled=False)
            timings[username].append(time.perf_counter() - started)
            answers[username].append(answer)

    for username, responses in answers.items():
        for answer in responses:
            assert answer.status_code == 401, f"{username}: {answer.status_code}\n{answer.text}"
            assert BAD_CREDENTIALS in answer.text
            assert session_cookie(answer) is None
    first, second = answers[existing][0], answers[unknown][0]
    assert normalized(first.text, existing) == normalized(second.text, unknown)
    for answer in answers[existing][1:]:
        assert normalized(answer.text, existing) == normalized(first.text, existing)
    for answer in answers[unknown][1:]:
        assert normalized(answer.text, unknown) == normalized(second.text, unknown)
    for header in COMPARED_HEADERS:
        assert first.headers.get(header) == second.headers.get(header), header
    assert sorted(first.headers) == sorted(second.headers)

    # Both run one scrypt: the same timing class (a factor of 3 on the medians, for a busy machine).
    wrong, missing = statistics.median(timings[existing]), statistics.median(timings[unknown])
    assert max(wrong, missing) / min(wrong, missing) < 3, f"wrong password {timings[existing]} vs unknown user {timings[unknown]}"


# -- Throttling and lockout -------------------------------------------------------------------------


def fail_until_throttled(suite, usernames, at_least, address=None):
    """Wrong passwords (for each of `usernames` in turn) until the answer is a 429 whose
    Retry-After is at least `at_least` seconds: each failure past the 4 free ones doubles the
    wait (1, 2, 4 … s), and the shorter waits are sat out so that the next failure counts. Each
    attempt comes from a fresh address unless `address` is given. Returns (failures answered
    401, the 429)."""
    failures = 0
    usernames = iter(usernames)
    for _ in range(20):
        session = new_session(address)
        page = login_page(suite, session)
        answer = post_credentials(session, page, next(usernames), "wrong-password-guess", retry_throttled=False)
        if answer.status_code == 401:
            assert BAD_CREDENTIALS in answer.text
            failures += 1
            continue
        assert answer.status_code == 429, f"{answer.status_code}\n{answer.text}"
        wait = int(answer.headers["Retry-After"])
        assert wait >= 1
        if wait >= at_least:
            return failures, answer
        time.sleep(wait + 0.2)
    raise AssertionError("never throttled")


@needs_aliases
def test_repeated_failures_lock_the_account_from_every_address(suite):
    username, password, account_id = create_account(suite, "lock")
    # Every failure from a different address: only the account's own counter can stop them.
    failures, throttled = fail_until_throttled(suite, itertools.repeat(username), at_least=4)
    assert failures >= 5, f"throttled after {failures} failures; the first 4 are free"
    assert THROTTLED in throttled.text
    assert session_cookie(throttled) is None
    assert_page_headers(throttled)

    # Now even the right password, from an address that never failed, is refused while it lasts.
    session = new_session()
    page = login_page(suite, session)
    refused = post_credentials(session, page, username, password, retry_throttled=False)
    assert refused.status_code == 429, f"{refused.status_code}\n{refused.text}"
    assert int(refused.headers["Retry-After"]) >= 1
    assert THROTTLED in refused.text
    assert session_cookie(refused) is None
    assert_signed_out(suite, session)

    # An administrator lifts it (POST /admin/accounts/{id}/unlock); the right password works again.
    unlocked = requests.post(
        f"{suite['urls']['authn']}/admin/accounts/{account_id}/unlock",
        headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=15,
    )
    assert unlocked.status_code == 200, unlocked.text
    session = new_session()
    answer = post_credentials(session, login_page(suite, session), username, password, retry_throttled=False)
    assert answer.status_code == 303 and answer.headers["Location"] == "/account", (answer.status_code, answer.text)
    assert session_cookie(answer)
    assert_signed_in_as(suite, session, username)


@needs_aliases
def test_repeated_failures_from_one_address_throttle_that_address(suite):
    username, password, _ = create_account(suite, "addr")
    address = new_session().client_address
    # Unknown usernames, each once: no account's counter moves past its free failures, only the address's.
    ghosts = (f"ghost-{n}-{address}" for n in itertools.count())
    failures, throttled = fail_until_throttled(suite, ghosts, at_least=4, address=address)
    assert failures >= 5, f"throttled after {failures} failures; the first 4 are free"
    # The right password of an account that never failed: refused from that address …
    session = new_session(address)
    refused = post_credentials(session, login_page(suite, session), username, password, retry_throttled=False)
    assert refused.status_code == 429 and THROTTLED in refused.text, refused.status_code
    assert int(refused.headers["Retry-After"]) >= 1
    # … and accepted from another one.
    session = new_session()
    answer = post_credentials(session, login_page(suite, session), username, password, retry_throttled=False)
    assert answer.status_code == 303, answer.text


# -- CSRF -------------------------------------------------------------------------------------------


def assert_csrf_refusal(answer, case=""):
    assert answer.status_code == 403, f"{case}: {answer.status_code}\n{answer.text}"
    assert "Session expired" in answer.text
    assert "Location" not in answer.headers
    assert session_cookie(answer) is None
    assert_page_headers(answer)


def test_login_without_or_with_a_wrong_csrf_token_is_refused(suite):
    username, password, _ = create_account(suite, "csrf")
    login = suite["urls"]["authn"] + "/login"
    session = new_session()
    page = login_page(suite, session)
    form = login_form(page)
    good = dict(form.submission(fill={"username": username, "password": password}))
    other = new_session()
    foreign_token = login_form(login_page(suite, other)).field("csrf_token")  # valid, for another browser's cookie
    assert foreign_token != good["csrf_token"]

    cases = {
        "missing": {k: v for k, v in good.items() if k != "csrf_token"},
        "empty": {**good, "csrf_token": ""},
        "wrong": {**good, "csrf_token": "A" * len(good["csrf_token"])},
        "another browser's": {**good, "csrf_token": foreign_token},
        "cookie's value itself": {**good, "csrf_token": session.cookies.get("neosec_csrf")},
    }
    for name, data in cases.items():
        answer = session.post(login, data=data, allow_redirects=False, timeout=15)
        assert_csrf_refusal(answer, name)
        assert "neosec_session" not in session.cookies, name
    # A browser without the CSRF cookie at all (a cross-site form post), with a well-formed token.
    bare = new_session()
    assert_csrf_refusal(bare.post(login, data=good, allow_redirects=False, timeout=15))
    assert_signed_out(suite, session)

    # The same form with its own token signs in: the refusals were the CSRF check, not the credentials.
    answer = session.post(login, data=good, allow_redirects=False, timeout=15)
    for _ in range(5):
        if answer.status_code != 429:
            break
        time.sleep(int(answer.headers.get("Retry-After", "2")) + 0.5)
        answer = session.post(login, data=good, allow_redirects=False, timeout=15)
    assert answer.status_code == 303, answer.text
    assert_signed_in_as(suite, session, username)


def test_account_forms_need_the_csrf_token(suite):
    username, password, _ = create_account(suite, "csrfacct")
    session = new_session()
    assert post_credentials(session, login_page(suite, session), username, password).status_code == 303
    account = session.get(suite["urls"]["authn"] + "/account", timeout=15)
    token = form_with(account.text, "csrf_token").field("csrf_token")
    for path, data in [
        ("/logout", {}),
        ("/account/totp/start", {}),
        ("/account/apps/revoke", {"client_id": "demo-web"}),
        ("/account/password", {"current_password": password, "new_password": "a-new-password-1", "confirm_password": "a-new-password-1"}),
        ("/federation/start", {"provider": "upstream", "mode": "link"}),
    ]:
        for bad in (None, token[::-1]):
            body = dict(data) if bad is None else {**data, "csrf_token": bad}
            answer = session.post(
                suite["urls"]["authn"] + path, data=urlencode(body), headers={"Content-Type": "application/x-www-form-urlencoded"},
                allow_redirects=False, timeout=15,
            )
            assert_csrf_refusal(answer, path)
    # Still signed in (the logout was refused), with the old password (the change was refused).
    assert_signed_in_as(suite, session, username)
    again = new_session()
    assert post_credentials(again, login_page(suite, again), username, password).status_code == 303


# -- Session fixation -------------------------------------------------------------------------------


def test_a_session_id_planted_before_sign_in_is_replaced(suite):
    authn = suite["urls"]["authn"]
    victim, victim_password, _ = create_account(suite, "victim")

    # 1. A made-up value of the right shape (43 base64url characters): not a session, and replaced.
    session = new_session()
    planted = "P" * 43
    host = urlsplit(authn).hostname
    # Host-only, as the service sets it: the service's Set-Cookie replaces it in the jar.
    session.cookies.set("neosec_session", planted, domain=host, path="/")
    assert_signed_out(suite, session)
    answer = post_credentials(session, login_page(suite, session), victim, victim_password)
    assert answer.status_code == 303, answer.text
    issued = session_cookie(answer)
    assert issued and issued != planted
    assert session.cookies.get("neosec_session") == issued
    assert_signed_in_as(suite, session, victim)

    # 2. The attacker's own, live session planted in the victim's browser: after the victim signs
    #    in, the browser holds a new id and the planted one is dead (the attacker is signed out).
    attacker_name, attacker_password, _ = create_account(suite, "attacker")
    attacker = new_session()
    assert post_credentials(attacker, login_page(suite, attacker), attacker_name, attacker_password).status_code == 303
    attacker_id = attacker.cookies.get("neosec_session")
    browser = new_session()
    page = login_page(suite, browser)  # the victim's login page, open in a tab
    browser.cookies.set("neosec_session", attacker_id, domain=host, path="/")
    assert_signed_in_as(suite, browser, attacker_name)
    answer = post_credentials(browser, page, victim, victim_password)
    assert answer.status_code == 303, answer.text
    assert session_cookie(answer) not in (None, attacker_id)
    assert_signed_in_as(suite, browser, victim)
    assert_signed_out(suite, attacker)
    fixed = requests.get(authn + "/account", cookies={"neosec_session": attacker_id}, allow_redirects=False, timeout=15)
    assert fixed.status_code == 303 and fixed.headers["Location"] == "/login"

    # 3. Re-authentication (prompt=login) issues a new id too, and ends the previous one.
    before = browser.cookies.get("neosec_session")
    page = open_login(browser, authorize_url(suite) + "&prompt=login", REDIRECT)
    answer = post_credentials(browser, page, victim, victim_password)
    assert answer.status_code == 303, answer.text
    after = session_cookie(answer)
    assert after and after != before
    stale = requests.get(authn + "/account", cookies={"neosec_session": before}, allow_redirects=False, timeout=15)
    assert stale.status_code == 303 and stale.headers["Location"] == "/login"


# -- Open redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("parameter,target", [("return_to", "https://evil.example"), ("next", "//evil.example/account")])
def test_no_return_url_is_honoured_after_a_direct_sign_in(suite, parameter, target):
    authn = suite["urls"]["authn"]
    username, password, _ = create_account(suite, "redir")
    session = new_session()
    page = session.get(f"{authn}/login?{urlencode({parameter: target})}", allow_redirects=False, timeout=15)
    assert page.status_code == 200, page.text
    assert "evil.example" not in page.text, "the return URL is reflected into the login page"
    form = login_form(page)
    assert urljoin(page.url, form.action) == authn + "/login"
    assert not form.has_field(parameter)

    # Posted to /login?<parameter>=… with the parameter in the form as well: still /account.
    data = form.submission(fill={"username": username, "password": password}) + [(parameter, target)]
    for _ in range(5):
        answer = session.post(f"{authn}/login?{urlencode({parameter: target})}", data=data, allow_redirects=False, timeout=15)
        if answer.status_code != 429:
            break
        time.sleep(int(answer.headers.get("Retry-After", "2")) + 0.5)
    assert answer.status_code == 303, answer.text
    assert answer.headers["Location"] == "/account"
    assert urljoin(answer.url, answer.headers["Location"]) == authn + "/account"

    # Signed in, the login page sends to the account page, whatever the query says.
    again = session.get(f"{authn}/login?{urlencode({parameter: target})}", allow_redirects=False, timeout=15)
    assert again.status_code == 303 and again.headers["Location"] == "/account"
    # And the account page's flags are fixed messages, never a URL.
    final, location = visit(session, f"{authn}/account?{urlencode({'done': target, 'error': target})}", None)
    assert location is None and final.status_code == 200
    assert urlsplit(final.url).netloc == urlsplit(authn).netloc
    assert "evil.example" not in final.text


@pytest.mark.parametrize("query", [
    {"state": "bogus"},
    {"state": "bogus", "code": "anything", "iss": "https://evil.example"},
    {"code": "anything"},
    {"state": "x" * 300},
    {"state": "bogus", "error": "access_denied"},
])
def test_federation_callback_with_a_state_it_did_not_issue_is_an_error_page(suite, query):
    session = new_session()
    answer = session.get(suite["urls"]["authn"] + "/federation/callback?" + urlencode(query), allow_redirects=False, timeout=15)
    assert answer.status_code == 400, f"{answer.status_code}\n{answer.text}"
    assert "Location" not in answer.headers
    assert "Sign-in failed" in answer.text
    assert session_cookie(answer) is None
    assert_page_headers(answer)


def test_login_with_a_challenge_the_token_service_did_not_issue_is_an_error_page(suite):
    for challenge in ("bogus", "https://evil.example/", "A" * 43):
        answer = requests.get(suite["urls"]["authn"] + "/login?" + urlencode({"login_challenge": challenge}), allow_redirects=False, timeout=15)
        assert answer.status_code == 400, f"{challenge}: {answer.status_code}\n{answer.text}"
        assert "Location" not in answer.headers
        assert_page_headers(answer)
