"""The login and consent pages in a real browser: headless Chromium driven by Selenium, with
JavaScript switched off (the pages must work without it), through the whole code flow up to
the client's redirect URI. Skipped when Chromium or chromedriver is not installed (`.ci/run`
installs both from Debian's packages)."""
import shutil
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from browser import pkce_pair

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

REDIRECT = "http://127.0.0.1:9999/callback"


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
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1024,900"):
        options.add_argument(argument)
    # No JavaScript: every page must work without it.
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    instance = webdriver.Chrome(service=Service(chromedriver), options=options)
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
    import time

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


def sign_in(driver, username, password):
    """Submits the login form; waits out the per-address back-off that other tests' failed
    logins from 127.0.0.1 may have started (429, a few seconds at most)."""
    import time

    for _ in range(5):
        driver.find_element(By.ID, "username").clear()
        driver.find_element(By.ID, "username").send_keys(username)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()
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
    driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()
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
