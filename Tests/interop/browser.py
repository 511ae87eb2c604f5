"""A very small browser for NeoSec's login, consent and logout pages.

HTTP goes through a `requests.Session` (it keeps the CSRF and session cookies) with redirects
followed by hand, so that a redirect to a relying party's redirect URI, where nothing listens,
is reported instead of fetched. Forms are read with the standard library's `html.parser`.
"""
import base64
import hashlib
import hmac
import itertools
import secrets
import socket
import struct
import time
import uuid
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
TIMEOUT = 15


class Form:
    """One `<form>`: where it goes, its inputs and its submit buttons, in document order."""

    def __init__(self, action, method):
        self.action = action
        self.method = (method or "get").lower()
        self.inputs = []  # {"name", "type", "value", "checked"}
        self.buttons = []  # {"name", "value", "type", "text"}

    def field(self, name):
        """The value of the first input called `name` (hidden ones included), or None."""
        for control in self.inputs:
            if control["name"] == name:
                return control["value"]
        return None

    def has_field(self, name):
        return any(control["name"] == name for control in self.inputs)

    def checkboxes(self, name):
        """[(value, checked)] of the checkboxes called `name`."""
        return [(c["value"], c["checked"]) for c in self.inputs if c["name"] == name and c["type"] == "checkbox"]

    def submit_buttons(self):
        return [b for b in self.buttons if b["type"] in ("submit", "image")]

    def button(self, press=None):
        """The button a user presses: by value (or `(name, value)`), else the default one (the
        first submit button, as when pressing Enter)."""
        candidates = self.submit_buttons()
        if press is None:
            return candidates[0] if candidates else None
        for candidate in candidates:
            if isinstance(press, tuple) and (candidate["name"], candidate["value"]) == press:
                return candidate
            if not isinstance(press, tuple) and candidate["value"] == press:
                return candidate
        raise AssertionError(f"no submit button {press!r} in form {self.action!r}: {candidates}")

    def submission(self, fill=None, untick=None, press=None):
        """The (name, value) pairs a browser sends: filled text inputs, checked boxes (less the
        `untick` ones, {name: values}), and the pressed button when it has a name."""
        fill = dict(fill or {})
        untick = {name: set(values) for name, values in (untick or {}).items()}
        pairs = []
        for control in self.inputs:
            name = control["name"]
            if not name:
                continue
            if control["type"] in ("checkbox", "radio"):
                if control["checked"] and control["value"] not in untick.get(name, set()):
                    pairs.append((name, control["value"]))
            elif control["type"] in ("file", "reset"):
                continue
            else:
                pairs.append((name, fill.pop(name) if name in fill else control["value"]))
        assert not fill, f"no inputs called {sorted(fill)} in form {self.action!r}"
        button = self.button(press)
        if button is not None and button["name"]:
            pairs.append((button["name"], button["value"]))
        return pairs


class FormParser(HTMLParser):
    """Collects every form of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._form = None
        self._button = None

    def handle_starttag(self, tag, attrs):
        attributes = {key: (value if value is not None else "") for key, value in attrs}
        if tag == "form":
            self._form = Form(attributes.get("action", ""), attributes.get("method", "get"))
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        if tag == "input":
            kind = attributes.get("type", "text").lower()
            if kind in ("submit", "image", "button"):
                self._form.buttons.append(
                    {"name": attributes.get("name"), "value": attributes.get("value", ""), "type": kind, "text": ""}
                )
            else:
                default = "on" if kind in ("checkbox", "radio") else ""
                self._form.inputs.append({
                    "name": attributes.get("name"),
                    "type": kind,
                    "value": attributes.get("value", default),
                    "checked": "checked" in attributes,
                })
        elif tag == "button":
            self._button = {
                "name": attributes.get("name"),
                "value": attributes.get("value", ""),
                "type": attributes.get("type", "submit").lower(),
                "text": "",
            }
            self._form.buttons.append(self._button)
        elif tag == "textarea":
            self._form.inputs.append({"name": attributes.get("name"), "type": "textarea", "value": "", "checked": False})

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "button":
            self._button = None

    def handle_data(self, data):
        if self._button is not None:
            self._button["text"] += data


def forms(html):
    parser = FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def form_with(html, field):
    """The form of the page that has an input called `field`."""
    found = [form for form in forms(html) if form.has_field(field)]
    assert found, f"no form with a {field!r} input in:\n{html}"
    return found[0]


# -- HTTP ---------------------------------------------------------------------------------------


def base_of(url):
    """`url` without its query and fragment."""
    return url.split("#", 1)[0].split("?", 1)[0]


def lands_on(location, target):
    """Whether a redirect goes to `target` (a redirect URI), whatever query it carries."""
    return base_of(location) == target


def query(url):
    """The query parameters of `url`, each of which must appear once."""
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in parsed.values()), f"repeated parameters in {url}"
    return {key: values[0] for key, values in parsed.items()}


def follow(session, response, stop):
    """Follows redirects from `response` by hand. Returns (response, location): `location` is
    the first Location that lands on `stop` (not fetched), or None when a page answered."""
    for _ in range(10):
        if response.status_code not in REDIRECT_STATUSES:
            return response, None
        assert "Location" in response.headers, f"{response.status_code} without Location from {response.url}"
        location = urljoin(response.url, response.headers["Location"])
        if stop is not None and lands_on(location, stop):
            return response, location
        response = session.get(location, allow_redirects=False, timeout=TIMEOUT)
    raise AssertionError(f"too many redirects, last at {response.url}")


# -- Client addresses ---------------------------------------------------------------------------
#
# The Authentication Service throttles failed sign-ins per client address as well as per account
# (4 free failures, then 1, 2, 4 … s), and a success does not reset the address's count. Tests
# that fail on purpose send from an address of their own: on Linux all of 127.0.0.0/8 is
# loopback, so a connection bound to 127.a.b.c reaches the services on 127.0.0.1 and the service
# sees 127.a.b.c as the client. Elsewhere (macOS has only 127.0.0.1) every session uses 127.0.0.1.


class SourceAddressAdapter(HTTPAdapter):
    """Every connection of the session leaves from `address`."""

    def __init__(self, address, **kwargs):
        self.source_address = (address, 0)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = self.source_address
        super().init_poolmanager(*args, **kwargs)


def _loopback_aliases_work():
    try:
        with socket.socket() as listener, socket.socket() as client:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            client.bind(("127.0.0.2", 0))
            client.settimeout(2)
            client.connect(listener.getsockname())
            return True
    except OSError:
        return False


LOOPBACK_ALIASES = _loopback_aliases_work()
# A random /16 per test run, so that runs against a long-lived suite do not share counters.
_address_prefix = f"127.{secrets.randbelow(200) + 20}"
_address_counter = itertools.count(1)


def fresh_address():
    """A loopback address no other session of this run uses (127.0.0.1 without aliases)."""
    if not LOOPBACK_ALIASES:
        return "127.0.0.1"
    n = next(_address_counter)
    return f"{_address_prefix}.{n // 250 % 250}.{n % 250 + 1}"


def new_session(address=None):
    """A `requests.Session` (a browser's cookie jar) that connects from `address`, by default a
    fresh one (see `fresh_address`)."""
    session = requests.Session()
    address = address or fresh_address()
    if address != "127.0.0.1":
        adapter = SourceAddressAdapter(address)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    session.client_address = address
    return session


def visit(session, url, stop):
    """GET `url` and follow redirects; see `follow`."""
    return follow(session, session.get(url, allow_redirects=False, timeout=TIMEOUT), stop)


def submit(session, page, form, fill=None, untick=None, press=None):
    """Submits `form` of the page `page` (a response) like a browser would; no redirect followed."""
    url = urljoin(page.url, form.action or page.url)
    pairs = form.submission(fill=fill, untick=untick, press=press)
    if form.method == "post":
        return session.post(url, data=pairs, allow_redirects=False, timeout=TIMEOUT)
    return session.get(url, params=pairs, allow_redirects=False, timeout=TIMEOUT)


def assert_page_headers(response):
    """What SPEC §8 asks of every Authentication Service page."""
    assert response.headers.get("Content-Type", "").startswith("text/html"), response.headers
    assert response.headers.get("Content-Security-Policy"), f"no CSP on {response.url}"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers.get("X-Frame-Options") == "DENY", f"X-Frame-Options on {response.url}: {response.headers}"


# -- The login / consent protocol ---------------------------------------------------------------


def open_login(session, authorize_url, redirect_uri, expect_client=None):
    """GET the authorization URL and follow it to the Authentication Service's login page."""
    page, location = visit(session, authorize_url, redirect_uri)
    assert location is None, f"expected the login page, went straight to {location}"
    assert page.status_code == 200, f"{page.status_code} at {page.url}:\n{page.text}"
    assert urlsplit(page.url).path.endswith("/login"), page.url
    assert "login_challenge" in query(page.url)
    assert_page_headers(page)
    if expect_client is not None:
        assert expect_client in page.text, f"client name {expect_client!r} not on the login page"
    return page


def login_form(page, challenge=None):
    """The login form of `page`: the GET of /login?login_challenge=…, or the form re-rendered in
    answer to a failed POST (then pass the `challenge` it must still carry)."""
    form = form_with(page.text, "password")
    assert form.method == "post"
    assert urlsplit(urljoin(page.url, form.action)).path.endswith("/login"), form.action
    assert form.field("csrf_token"), "login form without csrf_token"
    if challenge is None:
        challenge = query(page.url).get("login_challenge")
    if challenge is not None:
        assert form.field("login_challenge") == challenge, "the login form lost its login_challenge"
    return form


def post_login(session, page, username, password, challenge=None):
    """Fills and submits the login form of `page`; returns the raw answer."""
    return submit(session, page, login_form(page, challenge), fill={"username": username, "password": password})


def finish(session, response, redirect_uri, untick=()):
    """From the answer to a successful login POST: through the consent page when there is one
    (allowing every requested scope but `untick`), to the client's redirect URI. Returns the
    final redirect URL (not fetched)."""
    assert response.status_code == 303, f"login answered {response.status_code}:\n{response.text}"
    page, location = follow(session, response, redirect_uri)
    if location is not None:
        assert not untick, f"no consent page to untick {untick} on: went straight to {location}"
        return location
    assert page.status_code == 200, f"{page.status_code} at {page.url}:\n{page.text}"
    assert urlsplit(page.url).path.endswith("/consent"), f"expected the consent page, got {page.url}:\n{page.text}"
    assert_page_headers(page)
    form = form_with(page.text, "consent_challenge")
    assert form.method == "post"
    assert form.field("csrf_token"), "consent form without csrf_token"
    assert form.field("consent_challenge") == query(page.url)["consent_challenge"]
    boxes = form.checkboxes("scope")
    assert boxes and all(checked for _, checked in boxes), f"every requested scope starts checked: {boxes}"
    offered = {value for value, _ in boxes}
    for scope in untick:
        assert scope in offered, f"scope {scope!r} not offered on the consent page: {sorted(offered)}"
    assert {b["value"] for b in form.submit_buttons() if b["name"] == "decision"} == {"allow", "deny"}
    answer = submit(session, page, form, untick={"scope": untick}, press=("decision", "allow"))
    assert answer.status_code == 303, f"consent answered {answer.status_code}:\n{answer.text}"
    _, location = follow(session, answer, redirect_uri)
    assert location is not None, f"consent did not lead back to {redirect_uri}"
    return location


def login_and_consent(session, authorize_url, username, password, redirect_uri, untick=(), expect_client=None):
    """The whole browser part of an authorization request; returns the final redirect URL."""
    page = open_login(session, authorize_url, redirect_uri, expect_client=expect_client)
    return finish(session, post_login(session, page, username, password), redirect_uri, untick=untick)


# -- PKCE ---------------------------------------------------------------------------------------


def pkce_pair():
    """(code_verifier, S256 code_challenge) per RFC 7636 §4.1–4.2."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")
    return verifier, challenge


# -- Test accounts and TOTP -----------------------------------------------------------------------


def create_account(suite, prefix="user", password=None, claims=None, exact=False):
    """A new account through the admin API (`POST /admin/accounts`); returns
    (username, password, account id). The username is `prefix` plus a random suffix, or with
    `exact` the prefix itself while it is free (for screenshots)."""
    candidates = ([prefix] if exact else []) + [f"{prefix}-{uuid.uuid4().hex[:10]}"]
    for username in candidates:
        secret = password or f"{username}-password"
        response = requests.post(
            suite["urls"]["authn"] + "/admin/accounts",
            headers={"Authorization": "Bearer " + suite["admin_token"]},
            json={"username": username, "password": secret, "claims": claims or {}},
            timeout=60,
        )
        if response.status_code == 409 and username != candidates[-1]:
            continue
        assert response.status_code == 201, response.text
        return username, secret, response.json()["id"]


def account_ids(suite):
    """{username: id} of every account (`GET /admin/accounts`)."""
    response = requests.get(
        suite["urls"]["authn"] + "/admin/accounts", headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=15
    )
    assert response.status_code == 200, response.text
    return {account["username"]: account["id"] for account in response.json()["accounts"]}


def totp(secret_base32, step=None, digits=6, period=30):
    """RFC 6238 TOTP over RFC 4226 HOTP with HMAC-SHA1, for time step `step` (default: now)."""
    secret = secret_base32.replace(" ", "").upper()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(time.time()) // period if step is None else step
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    binary = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(binary % 10**digits).zfill(digits)


def totp_step(period=30):
    """The current RFC 6238 time step."""
    return int(time.time()) // period
