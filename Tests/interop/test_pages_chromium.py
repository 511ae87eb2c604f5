"""The login and consent pages in a real browser: headless Chromium driven by Selenium, with
JavaScript switched off (the pages must work without it), through the whole code flow up to
the client's redirect URI; then the account page (connected applications and their revoke,
two-step verification enrolment and a sign-in with a TOTP code). The login, consent and account
pages are photographed into docs/screenshots/ on every run. Skipped when Chromium or
chromedriver is not installed (`.ci/run` installs both from Debian's packages)."""
import pathlib
import re
import shutil
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from browser import create_account, pkce_pair, totp, totp_step
from ports import free_port

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

REDIRECT = "http://127.0.0.1:9999/callback"
WEB_NAME = "NeoSec Demo Web App"
SCREENSHOTS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WINDOW = (1024, 900)


def chromium_paths():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return browser, driver


@pytest.fixture()
def driver():
    browser, chromedriver = chromium_paths()
    if not browser or not chromedriver:
        pytest.skip("chromium and chromedriver are not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(argument)
    # No JavaScript: every page must work without it.
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    instance = webdriver.Chrome(service=Service(chromedriver, port=free_port()), options=options)
    instance.set_page_load_timeout(30)
    yield instance
    instance.quit()


def authorize_url(suite, challenge, scope="openid profile email", extra=None):
    query = {
        "response_type": "code",
        "client_id": "demo-web",
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "chromium-state",
        "nonce": "chromium-nonce",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    query.update(extra or {})
    return suite["urls"]["token"] + "/oauth2/authorize?" + urlencode(query)


def wait_for_url(driver, prefix, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if driver.current_url.startswith(prefix):
            return driver.current_url
        time.sleep(0.1)
    raise AssertionError(f"browser is at {driver.current_url}, expected {prefix}…")


def csp_violations(driver):
    try:
        entries = driver.get_log("browser")
    except Exception:  # noqa: BLE001 - not every driver exposes the log
        return []
    return [e["message"] for e in entries if "Content Security Policy" in e.get("message", "")]


def click_and_wait(driver, element, timeout=20):
    """Clicks a submit button or link and waits until the next page has replaced this one, so
    that what follows never reads the page being left."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def replaced(_):
        try:
            return expected_conditions.staleness_of(old)(driver)
        except WebDriverException as error:
            # Chromium sometimes reports a node of the page just left this way rather than as stale.
            if "does not belong to the document" in str(error):
                return True
            raise

    WebDriverWait(driver, timeout).until(replaced)


def sign_in(driver, username, password):
    """Submits the login form; waits out the per-address back-off that other tests' failed
    logins from 127.0.0.1 may have started (429, a few seconds at most)."""
    for _ in range(5):
        driver.find_element(By.ID, "username").clear()
        driver.find_element(By.ID, "username").send_keys(username)
        driver.find_element(By.ID, "password").send_keys(password)
        click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary"))
        if "Too many failed sign-in attempts" not in driver.page_source:
            return
        time.sleep(3)
    raise AssertionError("still throttled")


def test_code_flow_in_headless_chromium(suite, driver):
    verifier, challenge = pkce_pair()
    driver.get(authorize_url(suite, challenge, extra={"prompt": "consent"}))
    assert driver.current_url.startswith(suite["urls"]["authn"] + "/login?login_challenge=")
    assert "Sign in" in driver.title

    # Labels are tied to their fields (accessible names), and the client is named.
    username = driver.find_element(By.ID, "username")
    password = driver.find_element(By.ID, "password")
    assert driver.find_element(By.CSS_SELECTOR, "label[for=username]").text
    assert driver.find_element(By.CSS_SELECTOR, "label[for=password]").text
    assert username.get_attribute("autocomplete") == "username"
    assert password.get_attribute("autocomplete") == "current-password"
    assert "NeoSec Demo Web App" in driver.page_source

    # A wrong password first: the error is announced and tied to the form.
    username.send_keys("alice")
    password.send_keys("not-the-password")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary"))
    alert = driver.find_element(By.CSS_SELECTOR, "[role=alert]")
    # (Other tests' failed logins from 127.0.0.1 may have started the per-address back-off.)
    assert "The username or password is incorrect." in alert.text or "Too many failed sign-in attempts" in alert.text

    sign_in(driver, "alice", "alice-demo-password")

    # Consent: every requested scope is a checked box; untick email, allow.
    assert "/consent?consent_challenge=" in driver.current_url
    boxes = driver.find_elements(By.CSS_SELECTOR, "input[type=checkbox][name=scope]")
    assert [b.get_attribute("value") for b in boxes] == ["openid", "profile", "email"]
    assert all(b.is_selected() for b in boxes)
    for box in boxes:
        if box.get_attribute("value") == "email":
            box.click()
    driver.find_element(By.CSS_SELECTOR, "button[name=decision][value=allow]").click()

    # The browser lands on the client's redirect URI (nothing listens there; the URL is what matters).
    landed = wait_for_url(driver, REDIRECT)
    params = parse_qs(urlsplit(landed).query)
    assert params["state"] == ["chromium-state"]
    assert params["iss"] == [suite["urls"]["token"]]
    code = params["code"][0]
    assert not csp_violations(driver)

    response = requests.post(
        suite["urls"]["token"] + "/oauth2/token",
        auth=("demo-web", suite["clients"]["demo-web"]),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
        timeout=15,
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "openid profile"


def test_deny_returns_access_denied(suite, driver):
    _, challenge = pkce_pair()
    driver.get(authorize_url(suite, challenge, scope="openid phone", extra={"prompt": "login consent"}))
    sign_in(driver, "bob", "bob-demo-password")
    driver.find_element(By.CSS_SELECTOR, "button[name=decision][value=deny]").click()
    landed = wait_for_url(driver, REDIRECT)
    params = parse_qs(urlsplit(landed).query)
    assert params["error"] == ["access_denied"]
    assert params["state"] == ["chromium-state"]


def test_bad_redirect_uri_shows_an_error_page(suite, driver):
    _, challenge = pkce_pair()
    driver.get(authorize_url(suite, challenge, extra={"redirect_uri": "https://evil.example.com/callback"}))
    assert driver.current_url.startswith(suite["urls"]["token"] + "/oauth2/authorize")
    assert "cannot be completed" in driver.page_source


# -- Screenshots (docs/screenshots/, for the README) ----------------------------------------------


def screenshot(driver, name, full_page=True):
    """Saves the page as docs/screenshots/<name>.png at the test window's width; `full_page`
    makes the window as tall as the page first (the consent and account pages are longer than
    one screen), then restores it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if full_page:
        # DevTools, not page JavaScript (which is off): the laid-out page and the viewport, in CSS pixels.
        metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        content = int((metrics.get("cssContentSize") or metrics["contentSize"])["height"])
        viewport = int((metrics.get("cssLayoutViewport") or metrics["layoutViewport"])["clientHeight"])
        chrome = driver.get_window_size()["height"] - viewport
        driver.set_window_size(WINDOW[0], min(max(content + chrome, WINDOW[1]), 4000))
    try:
        assert driver.save_screenshot(str(path)), f"could not write {path}"
    finally:
        if full_page:
            driver.set_window_size(*WINDOW)
    assert path.stat().st_size > 1000, f"{path} is suspiciously small"


# -- The account page: connected applications ------------------------------------------------------


def userinfo_status(suite, access_token):
    return requests.get(
        suite["urls"]["token"] + "/oauth2/userinfo", headers={"Authorization": "Bearer " + access_token}, timeout=15
    ).status_code


def connected_apps(driver):
    """{name: <li>} of the account page's "Connected applications" section."""
    section = driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=apps-heading]")
    assert section.find_element(By.TAG_NAME, "h2").text == "Connected applications"
    return {item.find_element(By.CSS_SELECTOR, ".client-name").text: item for item in section.find_elements(By.CSS_SELECTOR, "li.app")}


def test_account_page_lists_the_app_and_revokes_it(suite, driver):
    # A fresh account, so that revoking its consent cannot affect another test's user.
    username, password, _ = create_account(suite, "carol", claims={"name": "Carol Example", "email": "carol@example.com"}, exact=True)
    verifier, challenge = pkce_pair()
    driver.get(authorize_url(suite, challenge, scope="openid profile email offline_access", extra={"prompt": "consent"}))
    assert driver.current_url.startswith(suite["urls"]["authn"] + "/login?login_challenge=")
    assert WEB_NAME in driver.page_source
    screenshot(driver, "login")
    sign_in(driver, username, password)

    assert "/consent?consent_challenge=" in driver.current_url
    boxes = driver.find_elements(By.CSS_SELECTOR, "input[type=checkbox][name=scope]")
    assert [b.get_attribute("value") for b in boxes] == ["openid", "profile", "email", "offline_access"]
    screenshot(driver, "consent")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[name=decision][value=allow]"))
    code = parse_qs(urlsplit(wait_for_url(driver, REDIRECT)).query)["code"][0]
    response = requests.post(
        suite["urls"]["token"] + "/oauth2/token",
        auth=("demo-web", suite["clients"]["demo-web"]),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
        timeout=15,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens.get("refresh_token"), f"offline_access granted but no refresh token: {tokens}"
    assert userinfo_status(suite, tokens["access_token"]) == 200

    # The same browser, still signed in: the account page lists the app with what it was allowed.
    driver.get(suite["urls"]["authn"] + "/account")
    assert driver.current_url == suite["urls"]["authn"] + "/account"
    assert f"Signed in as {username}" in driver.find_element(By.CSS_SELECTOR, ".lead").text
    apps = connected_apps(driver)
    assert list(apps) == [WEB_NAME], apps
    allowed = apps[WEB_NAME].find_element(By.CSS_SELECTOR, ".hint").text
    assert all(scope in allowed for scope in ("openid", "profile", "email", "offline_access")), allowed
    screenshot(driver, "account")

    button = apps[WEB_NAME].find_element(By.CSS_SELECTOR, "button[type=submit]")
    assert button.text == "Revoke access"
    assert button.get_attribute("aria-label") == f"Revoke access for {WEB_NAME}"
    click_and_wait(driver, button)
    wait_for_url(driver, suite["urls"]["authn"] + "/account?done=app_revoked")
    assert "Access removed" in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert connected_apps(driver) == {}
    assert "No application has access to your account." in driver.page_source
    assert not csp_violations(driver)

    # Every token of that grant is dead: the access token at userinfo, the refresh token at the token endpoint.
    assert userinfo_status(suite, tokens["access_token"]) == 401
    refreshed = requests.post(
        suite["urls"]["token"] + "/oauth2/token",
        auth=("demo-web", suite["clients"]["demo-web"]),
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        timeout=15,
    )
    assert refreshed.status_code == 400, refreshed.text
    assert refreshed.json()["error"] == "invalid_grant"


# -- Two-step verification -------------------------------------------------------------------------


def test_totp_enrolment_then_sign_in_with_a_code(suite, driver):
    username, password, _ = create_account(suite, "totp")
    authn = suite["urls"]["authn"]

    # A direct sign-in (no app involved) ends on the account page.
    driver.get(authn + "/login")
    sign_in(driver, username, password)
    wait_for_url(driver, authn + "/account")
    totp_section = driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=totp-heading]")
    assert totp_section.text.find("Off.") >= 0, totp_section.text
    click_and_wait(driver, totp_section.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    # Enrolment: a QR code (inline SVG) and the secret in base32, in groups of four.
    assert driver.current_url == authn + "/account/totp/start"
    assert driver.find_elements(By.CSS_SELECTOR, "figure.qr svg"), "no QR code on the enrolment page"
    secret = driver.find_element(By.ID, "totp-secret").text
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", secret), secret
    link = driver.find_element(By.CSS_SELECTOR, "a[href^='otpauth://totp/']").get_attribute("href")
    assert parse_qs(urlsplit(link).query)["secret"] == [secret.replace(" ", "")]
    enrolled_step = totp_step()
    driver.find_element(By.ID, "otp").send_keys(totp(secret, enrolled_step))
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary"))

    # TOTP is on; ten recovery codes, shown once.
    assert driver.find_element(By.TAG_NAME, "h1").text == "Two-step verification is on", driver.page_source
    codes = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "ul.codes li code")]
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    assert all(re.fullmatch(r"[A-Z2-7]{5}-[A-Z2-7]{5}", c) for c in codes), codes
    click_and_wait(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "I have saved them"))
    wait_for_url(driver, authn + "/account?done=totp_enabled")
    assert "Two-step verification is on." in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert "Recovery codes left: 10." in driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=totp-heading]").text

    # Sign out from the account page.
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=signout-heading] button[type=submit]"))
    assert "You are signed out" in driver.find_element(By.TAG_NAME, "h1").text
    driver.get(authn + "/account")
    assert urlsplit(driver.current_url).path == "/login", "still signed in after signing out"

    # Password first, then the `otp` step.
    sign_in(driver, username, password)
    assert driver.find_element(By.TAG_NAME, "h1").text == "Two-step verification", driver.page_source
    assert f"Signing in as {username}." in driver.find_element(By.TAG_NAME, "main").text
    otp = driver.find_element(By.ID, "otp")
    assert otp.get_attribute("name") == "otp"
    assert otp.get_attribute("autocomplete") == "one-time-code"
    # The step used to enrol is spent (RFC 6238 §5.2); the next step's code is within the
    # verifier's one-step window, so no need to wait the 30 s out.
    otp.send_keys(totp(secret, max(totp_step(), enrolled_step + 1)))
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary"))
    for _ in range(3):  # the shared per-address back-off (other tests' failures from 127.0.0.1)
        if "Too many failed sign-in attempts" not in driver.page_source:
            break
        time.sleep(3)
        driver.find_element(By.ID, "otp").send_keys(totp(secret, max(totp_step(), enrolled_step + 1)))
        click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary"))
    wait_for_url(driver, authn + "/account")
    assert f"Signed in as {username}" in driver.find_element(By.CSS_SELECTOR, ".lead").text
    assert "On." in driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=totp-heading]").text
    assert not csp_violations(driver)


# -- UMA: claims interaction, pending requests and shared resources on the account page ------------


def test_uma_claims_interaction_and_the_owner_decides_on_the_account_page(suite, driver):
    uma, token = suite["urls"]["uma"], suite["urls"]["token"]
    owner, owner_password, owner_sub = create_account(suite, "dana")
    party, party_password, party_sub = create_account(suite, "erin")
    pat = requests.post(
        token + "/oauth2/token", data={"grant_type": "client_credentials", "scope": "uma_protection"},
        auth=("demo-resource-server", suite["clients"]["demo-resource-server"]), timeout=15,
    ).json()["access_token"]
    headers = {"Authorization": "Bearer " + pat}
    name = "Dana's photos"
    resource = requests.post(
        uma + "/uma/resource_set", headers=headers, timeout=15,
        json={"name": name, "resource_scopes": ["documents:read", "documents:write"], "owner": owner_sub},
    ).json()["_id"]

    def ticket():
        answer = requests.post(uma + "/uma/permission", headers=headers, json={"resource_id": resource, "resource_scopes": ["documents:read"]}, timeout=15)
        assert answer.status_code == 201, answer.text
        return answer.json()["ticket"]

    def grant(ticket_value):
        return requests.post(
            token + "/oauth2/token", auth=("demo-web", suite["clients"]["demo-web"]),
            data={"grant_type": "urn:ietf:params:oauth:grant-type:uma-ticket", "ticket": ticket_value}, timeout=15,
        )

    # need_info → the requesting party signs in at the claims interaction endpoint.
    answer = grant(ticket())
    assert answer.status_code == 403 and answer.json()["error"] == "need_info" and answer.json()["redirect_user"] is True
    callback = "http://127.0.0.1:9999/claims-callback"
    driver.get(token + "/uma/claims_interaction?" + urlencode(
        {"client_id": "demo-web", "ticket": answer.json()["ticket"], "claims_redirect_uri": callback, "state": "st-1"}
    ))
    assert driver.current_url.startswith(suite["urls"]["authn"] + "/login?login_challenge=")
    sign_in(driver, party, party_password)
    params = parse_qs(urlsplit(wait_for_url(driver, callback)).query)
    assert params["authorization_state"] == ["claims_submitted"] and params["state"] == ["st-1"]
    answer = grant(params["ticket"][0])
    assert answer.status_code == 403 and answer.json()["error"] == "request_submitted", answer.text
    pending_ticket = answer.json()["ticket"]

    # The owner, in another browser session, sees the request and allows it.
    # (Cookies are deleted for the current page's site: be on the Authentication Service first.)
    driver.get(suite["urls"]["authn"] + "/account")
    driver.delete_all_cookies()
    driver.get(suite["urls"]["authn"] + "/account")
    assert "/login" in driver.current_url
    sign_in(driver, owner, owner_password)
    driver.get(suite["urls"]["authn"] + "/account")
    section = driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=requests-heading]")
    assert section.find_element(By.TAG_NAME, "h2").text == "Pending requests"
    [item] = section.find_elements(By.CSS_SELECTOR, "li.app")
    assert item.find_element(By.CSS_SELECTOR, ".client-name").text == f"{party} asks for {name}"
    buttons = item.find_elements(By.CSS_SELECTOR, "button[name=decision]")
    assert [b.get_attribute("value") for b in buttons] == ["allow", "deny"]
    screenshot(driver, "account-uma")
    click_and_wait(driver, item.find_element(By.CSS_SELECTOR, "button[name=decision][value=allow]"))
    wait_for_url(driver, suite["urls"]["authn"] + "/account?done=request_allowed")
    assert "Nobody is waiting for your decision." in driver.page_source
    answer = grant(pending_ticket)
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"].startswith("neo_at_")

    # Shared resources: the grant is listed; withdrawing it, then sharing again by username.
    shared = driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=shared-heading]")
    article = shared.find_element(By.CSS_SELECTOR, f"article[aria-labelledby=resource-{resource}]")
    assert article.find_element(By.TAG_NAME, "h3").text == name
    assert party in article.text and "documents:read" in article.text
    click_and_wait(driver, article.find_element(By.CSS_SELECTOR, f"button[aria-label='Withdraw access for {party}']"))
    wait_for_url(driver, suite["urls"]["authn"] + "/account?done=unshared")
    assert grant(ticket()).json()["error"] == "need_info"  # a fresh ticket names no party
    article = driver.find_element(By.CSS_SELECTOR, f"article[aria-labelledby=resource-{resource}]")
    assert "Only you can use it." in article.text
    article.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys(party)
    article.find_element(By.CSS_SELECTOR, "input[name=scope][value='documents:read']").click()
    click_and_wait(driver, article.find_element(By.CSS_SELECTOR, "button[type=submit].secondary"))
    wait_for_url(driver, suite["urls"]["authn"] + "/account?done=shared")
    assert party in driver.find_element(By.CSS_SELECTOR, f"article[aria-labelledby=resource-{resource}]").text
    assert not csp_violations(driver)


def test_device_code_entry_page_then_sign_in_and_confirm(suite, driver):
    """RFC 8628: the device page, typed into (the link only fills the field), through sign-in and
    the always-shown consent page, back to the device page with the outcome."""
    device_client = requests.post(
        suite["urls"]["token"] + "/admin/clients", headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=15,
        json={"client_name": "Living-room TV", "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"], "token_endpoint_auth_method": "none",
              "scope": "openid profile"},
    ).json()["client_id"]
    started = requests.post(suite["urls"]["token"] + "/oauth2/device_authorization", data={"client_id": device_client, "scope": "openid profile"},
                            timeout=15).json()
    user, password, _ = create_account(suite, "fay")
    driver.get(started["verification_uri"])
    field = driver.find_element(By.ID, "user_code")
    assert driver.find_element(By.CSS_SELECTOR, "label[for=user_code]").text == "Code"
    field.send_keys(started["user_code"].lower().replace("-", " "))
    screenshot(driver, "device")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary"))
    assert "/login?login_challenge=" in driver.current_url
    sign_in(driver, user, password)
    assert "/consent" in driver.current_url and "Living-room TV" in driver.page_source
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[name=decision][value=allow]"))
    wait_for_url(driver, suite["urls"]["authn"] + "/device?result=approved")
    assert "Go back to your device" in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert not csp_violations(driver)
    time.sleep(started["interval"])
    tokens = requests.post(suite["urls"]["token"] + "/oauth2/token", timeout=15, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": started["device_code"], "client_id": device_client,
    })
    assert tokens.status_code == 200, tokens.text


def test_backchannel_request_on_the_account_page(suite, driver):
    """Seed 004 / CIBA: an app asks by username; the user allows it on the account page."""
    registered = requests.post(
        suite["urls"]["token"] + "/admin/clients", headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=15,
        json={"client_name": "Corner Shop", "grant_types": ["urn:openid:params:grant-type:ciba"], "scope": "openid phone",
              "backchannel_token_delivery_mode": "poll"},
    ).json()
    client = (registered["client_id"], registered["client_secret"])
    user, password, _ = create_account(suite, "gus")
    started = requests.post(suite["urls"]["token"] + "/oauth2/bc-authorize", auth=client, timeout=15,
                            data={"scope": "openid phone", "login_hint": user, "binding_message": "Basket 12"}).json()
    driver.get(suite["urls"]["authn"] + "/account")
    driver.delete_all_cookies()
    driver.get(suite["urls"]["authn"] + "/account")
    sign_in(driver, user, password)
    driver.get(suite["urls"]["authn"] + "/account")
    section = driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=app-requests-heading]")
    [item] = section.find_elements(By.CSS_SELECTOR, "li.app")
    assert item.find_element(By.CSS_SELECTOR, ".client-name").text == "Corner Shop asks for access to your account"
    assert "Basket 12" in item.text and "openid, phone" in item.text
    assert [b.get_attribute("value") for b in item.find_elements(By.CSS_SELECTOR, "button[name=decision]")] == ["allow", "deny"]
    screenshot(driver, "account-backchannel")
    click_and_wait(driver, item.find_element(By.CSS_SELECTOR, "button[name=decision][value=allow]"))
    wait_for_url(driver, suite["urls"]["authn"] + "/account?done=app_request_allowed")
    assert "No app is waiting for your permission." in driver.page_source
    tokens = requests.post(suite["urls"]["token"] + "/oauth2/token", auth=client, timeout=15,
                           data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": started["auth_req_id"]})
    assert tokens.status_code == 200, tokens.text
