"""UMA 2.0 over a running suite, driven as the clients would: the demo resource server answers
with UMA challenges, the requesting party's client redeems tickets at the token endpoint
(`request_submitted` → the owner approves on her account page; `need_info` → claims
interaction through the login page), RPTs open exactly what they were granted, withdrawn access
stops working, and the protection and policy APIs keep resource servers and owners apart.
`requests-oauthlib-uma` (a client nobody here wrote) drives one flow end to end."""
import time
import uuid
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from requests_oauthlib_uma import UMA2Session

import browser

WEB = "demo-web"
WEB_REDIRECT = "http://127.0.0.1:9999/callback"
CLAIMS_REDIRECT = "http://127.0.0.1:9999/claims-callback"
USERS = {"alice": "alice-demo-password", "bob": "bob-demo-password"}
UMA_GRANT = "urn:ietf:params:oauth:grant-type:uma-ticket"
ID_TOKEN_FORMAT = "http://openid.net/specs/openid-connect-core-1_0.html#IDToken"


# -- helpers ------------------------------------------------------------------------------------


def user_tokens(suite, username, scope, resource=None):
    """Tokens for `username` through the real login and consent pages (code + PKCE, Authlib)."""
    session = OAuth2Session(
        WEB, suite["clients"][WEB], scope=scope, redirect_uri=WEB_REDIRECT,
        code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic",
    )
    verifier = generate_token(48)
    extra = {"resource": resource} if resource else {}
    url, state = session.create_authorization_url(suite["urls"]["token"] + "/oauth2/authorize", code_verifier=verifier, **extra)
    final = browser.login_and_consent(requests.Session(), url, username, USERS[username], WEB_REDIRECT)
    return session.fetch_token(suite["urls"]["token"] + "/oauth2/token", authorization_response=final, code_verifier=verifier, state=state)


@pytest.fixture(scope="module")
def alice(suite):
    return user_tokens(suite, "alice", "openid documents:read documents:write")


@pytest.fixture(scope="module")
def bob(suite):
    return user_tokens(suite, "bob", "openid documents:read documents:write")


@pytest.fixture(scope="module")
def alice_policies(suite):
    """Alice's token for the UMA service's policy API."""
    return user_tokens(suite, "alice", "uma:policies", resource=suite["urls"]["uma"])["access_token"]


@pytest.fixture(scope="module")
def bob_policies(suite):
    return user_tokens(suite, "bob", "uma:policies", resource=suite["urls"]["uma"])["access_token"]


def bearer(token):
    return {"Authorization": "Bearer " + token}


def create_document(suite, owner_token, title):
    response = requests.post(
        suite["urls"]["resource"] + "/api/documents", json={"title": title, "content": title + " content"},
        headers=bearer(owner_token), timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def document(suite, doc_id, token=None, method="GET"):
    return requests.request(
        method, suite["urls"]["resource"] + "/api/documents/" + doc_id, headers=bearer(token) if token else {}, timeout=10
    )


def uma_challenge(response):
    """The UMA challenge of a 401 (UMA 2.0 Grant §3.2): realm, as_uri, ticket."""
    assert response.status_code == 401, response.text
    values = response.raw.headers.getlist("WWW-Authenticate")
    assert len(values) == 1 and values[0].startswith("UMA "), values
    params = {}
    for part in values[0][4:].split(", "):
        name, _, quoted = part.partition("=")
        params[name] = quoted.strip('"')
    return params


def ticket_for(suite, doc_id, token=None):
    params = uma_challenge(document(suite, doc_id, token))
    assert params["as_uri"] == suite["urls"]["token"]
    assert params["realm"] == "neosec-resource"
    assert params["ticket"].startswith("neo_pt_")
    return params["ticket"]


def uma_token(suite, client=WEB, secret=None, **params):
    secret = secret or suite["clients"][client]
    return requests.post(
        suite["urls"]["token"] + "/oauth2/token", data={"grant_type": UMA_GRANT, **params}, auth=(client, secret), timeout=10
    )


def account_page(suite, username):
    """A browser signed in as `username` on its account page: (session, page)."""
    session = requests.Session()
    page, _ = browser.visit(session, suite["urls"]["authn"] + "/account", None)
    assert urlsplit(page.url).path.endswith("/login"), page.url
    answer = browser.post_login(session, page, username, USERS[username])
    page, _ = browser.follow(session, answer, None)
    assert page.status_code == 200 and urlsplit(page.url).path.endswith("/account"), page.url
    return session, page


def forms_posting_to(page, path):
    return [form for form in browser.forms(page.text) if form.action.endswith(path)]


def introspect(suite, token):
    response = requests.post(
        suite["urls"]["introspect"] + "/oauth2/introspect", data={"token": token},
        auth=("demo-resource-server", suite["clients"]["demo-resource-server"]), timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def register_client(suite, **metadata):
    body = {"client_name": "uma " + uuid.uuid4().hex[:8], "token_endpoint_auth_method": "client_secret_basic"}
    body.update(metadata)
    response = requests.post(
        suite["urls"]["token"] + "/admin/clients", json=body, headers={"Authorization": "Bearer " + suite["admin_token"]}, timeout=10
    )
    assert response.status_code == 201, response.text
    return response.json()["client_id"], response.json()["client_secret"]


def pat(suite, client, secret, scope="uma_protection"):
    response = requests.post(
        suite["urls"]["token"] + "/oauth2/token", data={"grant_type": "client_credentials", "scope": scope}, auth=(client, secret), timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def resource_server(suite):
    """A second resource server with its own PAT."""
    client, secret = register_client(
        suite, grant_types=["client_credentials"], scope="uma_protection", allowed_audiences=[suite["urls"]["uma"]]
    )
    return client, pat(suite, client, secret)


def subject(suite, username):
    return browser.account_ids(suite)[username]


def owned_resource(suite, owner_policies, title):
    resources = requests.get(suite["urls"]["uma"] + "/uma/resources", headers=bearer(owner_policies), timeout=10)
    assert resources.status_code == 200, resources.text
    matches = [r for r in resources.json()["resources"] if r["name"] == title]
    assert len(matches) == 1, resources.json()
    return matches[0]["_id"]


# -- discovery ----------------------------------------------------------------------------------


def test_uma_discovery_lists_where_each_endpoint_lives(suite):
    response = requests.get(suite["urls"]["token"] + "/.well-known/uma2-configuration", timeout=10)
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == suite["urls"]["token"]
    assert metadata["token_endpoint"] == suite["urls"]["token"] + "/oauth2/token"
    assert UMA_GRANT in metadata["grant_types_supported"]
    assert metadata["resource_registration_endpoint"] == suite["urls"]["uma"] + "/uma/resource_set"
    assert metadata["permission_endpoint"] == suite["urls"]["uma"] + "/uma/permission"
    assert metadata["policy_endpoint"] == suite["urls"]["uma"] + "/uma/policies"
    assert metadata["claims_interaction_endpoint"] == suite["urls"]["token"] + "/uma/claims_interaction"
    assert metadata["introspection_endpoint"] == suite["urls"]["introspect"] + "/oauth2/introspect"
    assert metadata["uma_profiles_supported"] == []
    assert UMA_GRANT in requests.get(suite["urls"]["token"] + "/.well-known/openid-configuration", timeout=10).json()["grant_types_supported"]


# -- request_submitted → the owner approves on her account page ----------------------------------


def test_request_submitted_then_approval_on_the_account_page_then_withdrawal(suite, alice, bob):
    title = "Alice notes " + uuid.uuid4().hex[:6]
    doc_id = create_document(suite, alice["access_token"], title)
    # The owner's own token still reads it as before.
    assert document(suite, doc_id, alice["access_token"]).json()["title"] == title

    # Bob's client, with Bob's ordinary access token, gets an UMA challenge, not the document.
    ticket = ticket_for(suite, doc_id, bob["access_token"])
    answer = uma_token(suite, ticket=ticket, claim_token=bob["id_token"], claim_token_format=ID_TOKEN_FORMAT)
    assert answer.status_code == 403, answer.text
    body = answer.json()
    assert body["error"] == "request_submitted"
    assert body["ticket"].startswith("neo_pt_") and body["ticket"] != ticket
    assert body["interval"] == 5
    assert answer.headers["Cache-Control"] == "no-store"
    # The ticket was used up.
    again = uma_token(suite, ticket=ticket, claim_token=bob["id_token"], claim_token_format=ID_TOKEN_FORMAT)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    # Polling before the owner decides: still submitted, with yet another ticket.
    answer = uma_token(suite, ticket=body["ticket"])
    assert answer.status_code == 403 and answer.json()["error"] == "request_submitted", answer.text
    ticket = answer.json()["ticket"]

    # Alice sees the request on her account page and allows it (two buttons named decision).
    session, page = account_page(suite, "alice")
    assert "Pending requests" in page.text and "Shared resources" in page.text
    decide = [f for f in forms_posting_to(page, "/account/sharing/decide") if title in page.text]
    assert decide, page.text
    form = decide[-1]
    assert {b["value"] for b in form.submit_buttons() if b["name"] == "decision"} == {"allow", "deny"}
    assert "bob" in page.text
    answer = browser.submit(session, page, form, press=("decision", "allow"))
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/account?done=request_allowed"), answer.headers

    # Bob's client retries with the last ticket: an RPT, opaque, with a PCT.
    answer = uma_token(suite, ticket=ticket)
    assert answer.status_code == 200, answer.text
    rpt = answer.json()
    assert rpt["access_token"].startswith("neo_at_") and rpt["token_type"] == "Bearer"
    assert rpt["pct"].startswith("neo_pct_")
    assert "upgraded" not in rpt and "refresh_token" not in rpt
    assert answer.headers["Cache-Control"] == "no-store"

    read = document(suite, doc_id, rpt["access_token"])
    assert read.status_code == 200 and read.json()["title"] == title
    # Granted: documents:read only. Deleting needs documents:write: a new UMA challenge.
    uma_challenge(document(suite, doc_id, rpt["access_token"], method="DELETE"))
    assert document(suite, doc_id, alice["access_token"]).status_code == 200

    # Introspection shows the permissions (RPT introspection, Federated Authorization §5.1.1).
    details = introspect(suite, rpt["access_token"])
    assert details["active"] is True and details["sub"] == subject(suite, "bob")
    [permission] = details["permissions"]
    assert permission["resource_scopes"] == ["documents:read"] and permission["exp"] <= details["exp"]

    # Alice withdraws access on her account page; the RPT stops working within the bound (10 s).
    session, page = account_page(suite, "alice")
    [unshare] = [f for f in forms_posting_to(page, "/account/sharing/unshare")]
    answer = browser.submit(session, page, unshare)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/account?done=unshared")
    deadline = time.time() + 15
    while document(suite, doc_id, rpt["access_token"]).status_code == 200:
        assert time.time() < deadline, "a withdrawn grant still opens the document"
        time.sleep(0.5)
    refused = document(suite, doc_id, rpt["access_token"])
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    # Bob's next RPT is refused: the owner denied further access.
    answer = uma_token(suite, ticket=ticket_for(suite, doc_id), pct=rpt["pct"])
    assert answer.status_code == 403 and answer.json()["error"] == "request_denied", answer.text
    assert "ticket" not in answer.json()


def test_owner_denies_a_request(suite, alice, bob):
    title = "Denied " + uuid.uuid4().hex[:6]
    doc_id = create_document(suite, alice["access_token"], title)
    answer = uma_token(suite, ticket=ticket_for(suite, doc_id), claim_token=bob["id_token"], claim_token_format=ID_TOKEN_FORMAT)
    assert answer.json()["error"] == "request_submitted"
    session, page = account_page(suite, "alice")
    form = [f for f in forms_posting_to(page, "/account/sharing/decide")][-1]
    assert browser.submit(session, page, form, press=("decision", "deny")).headers["Location"].endswith("done=request_denied")
    answer = uma_token(suite, ticket=answer.json()["ticket"])
    assert answer.status_code == 403 and answer.json()["error"] == "request_denied"


# -- need_info → claims interaction → RPT, then an upgrade ---------------------------------------


def test_need_info_then_claims_interaction_then_rpt_and_upgrade(suite, alice, alice_policies):
    bob_sub = subject(suite, "bob")
    titles = ["Trip plan " + uuid.uuid4().hex[:6], "Budget " + uuid.uuid4().hex[:6]]
    docs = [create_document(suite, alice["access_token"], t) for t in titles]
    for title in titles:
        shared = requests.post(
            suite["urls"]["uma"] + "/uma/policies", headers=bearer(alice_policies),
            json={"resource_id": owned_resource(suite, alice_policies, title), "requesting_party_username": "bob", "scopes": ["documents:read"]},
            timeout=10,
        )
        assert shared.status_code == 201, shared.text
        assert shared.json()["requesting_party"] == bob_sub

    # No claims: need_info, with the claims this server needs and redirect_user.
    answer = uma_token(suite, ticket=ticket_for(suite, docs[0]))
    assert answer.status_code == 403, answer.text
    body = answer.json()
    assert body["error"] == "need_info" and body["redirect_user"] is True
    assert body["required_claims"] == [{
        "claim_token_format": [ID_TOKEN_FORMAT], "claim_type": "string", "friendly_name": "subject",
        "issuer": [suite["urls"]["token"]], "name": "sub",
    }]

    # Claims interaction: Bob signs in; back to the claims redirect URI with a new ticket.
    state = generate_token(16)
    url = suite["urls"]["token"] + "/uma/claims_interaction?" + urlencode(
        {"client_id": WEB, "ticket": body["ticket"], "claims_redirect_uri": CLAIMS_REDIRECT, "state": state}
    )
    session = requests.Session()
    page, location = browser.visit(session, url, CLAIMS_REDIRECT)
    assert location is None and urlsplit(page.url).path.endswith("/login"), page.url
    _, location = browser.follow(session, browser.post_login(session, page, "bob", USERS["bob"]), CLAIMS_REDIRECT)
    assert location is not None
    params = browser.query(location)
    assert params["authorization_state"] == "claims_submitted" and params["state"] == state
    assert params["ticket"].startswith("neo_pt_")

    answer = uma_token(suite, ticket=params["ticket"])
    assert answer.status_code == 200, answer.text
    first = answer.json()
    assert first["pct"].startswith("neo_pct_")
    assert document(suite, docs[0], first["access_token"]).status_code == 200
    # Not the second document: that RPT holds no permission for it.
    ticket = ticket_for(suite, docs[1], first["access_token"])

    # Upgrade: the PCT stands for Bob; the old RPT's permissions are carried over.
    answer = uma_token(suite, ticket=ticket, pct=first["pct"], rpt=first["access_token"])
    assert answer.status_code == 200, answer.text
    upgraded = answer.json()
    assert upgraded["upgraded"] is True and "pct" not in upgraded
    for doc_id in docs:
        assert document(suite, doc_id, upgraded["access_token"]).status_code == 200
    assert len(introspect(suite, upgraded["access_token"])["permissions"]) == 2

    # A ticket bound to Bob by claims interaction is for this client only.
    other, other_secret = register_client(suite, grant_types=[UMA_GRANT], allowed_audiences=[suite["urls"]["resource"]])
    stolen = uma_token(suite, client=other, secret=other_secret, ticket=ticket_for(suite, docs[0]), pct=first["pct"])
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant", "a PCT is bound to its client"


def test_claims_interaction_refuses_an_unregistered_claims_redirect_uri(suite):
    for uri in [CLAIMS_REDIRECT + "/x", "http://127.0.0.1:9999/callback", "https://evil.example/claims-callback", CLAIMS_REDIRECT + "?a=b"]:
        url = suite["urls"]["token"] + "/uma/claims_interaction?" + urlencode(
            {"client_id": WEB, "ticket": "neo_pt_" + "a" * 43, "claims_redirect_uri": uri, "state": "s"}
        )
        response = requests.get(url, allow_redirects=False, timeout=10)
        assert response.status_code == 400, uri
        assert "Location" not in response.headers
        assert response.headers["Content-Type"].startswith("text/html")


# -- negative cases -----------------------------------------------------------------------------


def test_rpt_does_not_open_a_same_named_document_of_another_owner(suite, alice, bob):
    title = "Holiday " + uuid.uuid4().hex[:6]
    alices = create_document(suite, alice["access_token"], title)
    bobs = create_document(suite, bob["access_token"], title)
    # Bob's RPT for his own document (an owner always reaches their own resource) …
    answer = uma_token(suite, ticket=ticket_for(suite, bobs), claim_token=bob["id_token"], claim_token_format=ID_TOKEN_FORMAT)
    assert answer.status_code == 200, answer.text
    rpt = answer.json()["access_token"]
    assert document(suite, bobs, rpt).status_code == 200
    # … does not open Alice's document of the same name.
    uma_challenge(document(suite, alices, rpt))


def test_claim_token_must_be_an_id_token_of_this_issuer_for_this_client(suite, alice, bob):
    doc_id = create_document(suite, alice["access_token"], "Claims " + uuid.uuid4().hex[:6])
    other, other_secret = register_client(suite, grant_types=[UMA_GRANT], allowed_audiences=[suite["urls"]["resource"]])
    cases = [
        dict(claim_token=bob["id_token"], claim_token_format=ID_TOKEN_FORMAT),  # another client's ID token
        dict(claim_token=bob["access_token"], claim_token_format=ID_TOKEN_FORMAT),
        dict(claim_token=bob["id_token"][:-4] + "AAAA", claim_token_format=ID_TOKEN_FORMAT),
    ]
    for case in cases:
        answer = uma_token(suite, client=other, secret=other_secret, ticket=ticket_for(suite, doc_id), **case)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant", answer.text
    answer = uma_token(suite, ticket=ticket_for(suite, doc_id), claim_token=bob["id_token"], claim_token_format="urn:example:saml")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    answer = uma_token(suite, ticket=ticket_for(suite, doc_id), claim_token=bob["id_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_scope_outside_the_tickets_resources_is_invalid_scope(suite, alice):
    doc_id = create_document(suite, alice["access_token"], "Scopes " + uuid.uuid4().hex[:6])
    answer = uma_token(suite, ticket=ticket_for(suite, doc_id), scope="documents:print")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope", answer.text


def test_a_client_not_registered_for_the_uma_grant_is_refused(suite, alice):
    doc_id = create_document(suite, alice["access_token"], "Grant " + uuid.uuid4().hex[:6])
    answer = uma_token(suite, client="demo-service", ticket=ticket_for(suite, doc_id))
    assert answer.status_code == 400 and answer.json()["error"] == "unauthorized_client"


def test_pat_needs_uma_protection_and_the_uma_audience(suite):
    client, secret = register_client(
        suite, grant_types=["client_credentials"], scope="documents:read uma_protection",
        allowed_audiences=[suite["urls"]["uma"], suite["urls"]["resource"]],
    )
    body = {"resource_scopes": ["read"], "owner": "someone"}
    no_scope = pat(suite, client, secret, scope="documents:read")
    answer = requests.post(suite["urls"]["uma"] + "/uma/resource_set", json=body, headers=bearer(no_scope), timeout=10)
    assert answer.status_code == 403 and 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
    assert 'scope="uma_protection"' in answer.headers["WWW-Authenticate"]
    wrong_audience = requests.post(
        suite["urls"]["token"] + "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "uma_protection", "resource": suite["urls"]["resource"]}, auth=(client, secret), timeout=10,
    ).json()["access_token"]
    answer = requests.post(suite["urls"]["uma"] + "/uma/resource_set", json=body, headers=bearer(wrong_audience), timeout=10)
    assert answer.status_code == 401 and 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    answer = requests.post(suite["urls"]["uma"] + "/uma/resource_set", json=body, timeout=10)
    assert answer.status_code == 401
    answer = requests.post(suite["urls"]["uma"] + "/uma/permission", json={"resource_id": "x", "resource_scopes": []}, timeout=10)
    assert answer.status_code == 401


def test_resource_servers_see_and_change_only_their_own_resources(suite):
    a_client, a_pat = resource_server(suite)
    b_client, b_pat = resource_server(suite)
    created = requests.post(
        suite["urls"]["uma"] + "/uma/resource_set", headers=bearer(a_pat), timeout=10,
        json={"resource_scopes": ["view", "print"], "name": "Photo", "type": "urn:example:photo", "owner": "owner-1",
              "icon_uri": "https://example.com/photo.png", "description": "a photo"},
    )
    assert created.status_code == 201, created.text
    resource_id = created.json()["_id"]
    assert created.headers["Location"] == suite["urls"]["uma"] + "/uma/resource_set/" + resource_id
    read = requests.get(suite["urls"]["uma"] + "/uma/resource_set/" + resource_id, headers=bearer(a_pat), timeout=10)
    assert read.status_code == 200 and read.json()["resource_scopes"] == ["view", "print"] and read.json()["_id"] == resource_id
    assert resource_id in requests.get(suite["urls"]["uma"] + "/uma/resource_set", headers=bearer(a_pat), timeout=10).json()

    # B cannot see, list, change, delete, or ask permissions on A's resource.
    url = suite["urls"]["uma"] + "/uma/resource_set/" + resource_id
    assert requests.get(url, headers=bearer(b_pat), timeout=10).status_code == 404
    assert requests.get(url, headers=bearer(b_pat), timeout=10).json()["error"] == "not_found"
    assert resource_id not in requests.get(suite["urls"]["uma"] + "/uma/resource_set", headers=bearer(b_pat), timeout=10).json()
    assert requests.put(url, headers=bearer(b_pat), json={"resource_scopes": ["view"]}, timeout=10).status_code == 404
    assert requests.delete(url, headers=bearer(b_pat), timeout=10).status_code == 404
    answer = requests.post(
        suite["urls"]["uma"] + "/uma/permission", headers=bearer(b_pat), json={"resource_id": resource_id, "resource_scopes": ["view"]}, timeout=10
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_resource_id"

    # A: a permission request for one resource or an array; unregistered scope → invalid_scope.
    for body in [{"resource_id": resource_id, "resource_scopes": ["view"]}, [{"resource_id": resource_id, "resource_scopes": ["view", "print"]}]]:
        answer = requests.post(suite["urls"]["uma"] + "/uma/permission", headers=bearer(a_pat), json=body, timeout=10)
        assert answer.status_code == 201 and answer.json()["ticket"].startswith("neo_pt_"), answer.text
    answer = requests.post(
        suite["urls"]["uma"] + "/uma/permission", headers=bearer(a_pat), json={"resource_id": resource_id, "resource_scopes": ["delete"]}, timeout=10
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope"

    # Registration is validated: resource_scopes required, field shapes checked.
    for bad in [{"name": "x", "owner": "o"}, {"resource_scopes": [], "owner": "o"}, {"resource_scopes": ["a b"], "owner": "o"},
                {"resource_scopes": ["a"]}, {"resource_scopes": ["a"], "owner": "o", "icon_uri": "javascript:alert(1)"}]:
        answer = requests.post(suite["urls"]["uma"] + "/uma/resource_set", headers=bearer(a_pat), json=bad, timeout=10)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", bad

    # A updates and deletes its own.
    assert requests.put(url, headers=bearer(a_pat), json={"resource_scopes": ["view"], "name": "Photo 2"}, timeout=10).status_code == 200
    assert requests.get(url, headers=bearer(a_pat), timeout=10).json()["name"] == "Photo 2"
    assert requests.delete(url, headers=bearer(a_pat), timeout=10).status_code == 204
    assert requests.get(url, headers=bearer(a_pat), timeout=10).status_code == 404


def test_an_owner_cannot_change_policies_of_another_owners_resource(suite, alice, alice_policies, bob_policies):
    title = "Private " + uuid.uuid4().hex[:6]
    create_document(suite, alice["access_token"], title)
    resource_id = owned_resource(suite, alice_policies, title)
    # Bob cannot share Alice's resource with himself (or anyone) …
    answer = requests.post(
        suite["urls"]["uma"] + "/uma/policies", headers=bearer(bob_policies), timeout=10,
        json={"resource_id": resource_id, "requesting_party_username": "bob", "scopes": ["documents:read"]},
    )
    assert answer.status_code == 404, answer.text
    # … nor withdraw Alice's grants, nor see them.
    granted = requests.post(
        suite["urls"]["uma"] + "/uma/policies", headers=bearer(alice_policies), timeout=10,
        json={"resource_id": resource_id, "requesting_party_username": "bob", "scopes": ["documents:read"]},
    )
    assert granted.status_code == 201
    policy_id = granted.json()["id"]
    assert requests.delete(suite["urls"]["uma"] + "/uma/policies/" + policy_id, headers=bearer(bob_policies), timeout=10).status_code == 404
    assert policy_id not in [p["id"] for p in requests.get(suite["urls"]["uma"] + "/uma/policies", headers=bearer(bob_policies), timeout=10).json()["policies"]]
    assert policy_id in [p["id"] for p in requests.get(suite["urls"]["uma"] + "/uma/policies", headers=bearer(alice_policies), timeout=10).json()["policies"]]
    # Scopes the resource does not have, and unknown users, are refused.
    answer = requests.post(
        suite["urls"]["uma"] + "/uma/policies", headers=bearer(alice_policies), timeout=10,
        json={"resource_id": resource_id, "requesting_party_username": "bob", "scopes": ["documents:admin"]},
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope"
    answer = requests.post(
        suite["urls"]["uma"] + "/uma/policies", headers=bearer(alice_policies), timeout=10,
        json={"resource_id": resource_id, "requesting_party_username": "nobody-" + uuid.uuid4().hex[:6], "scopes": ["documents:read"]},
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    # The policy API needs its scope: a documents token is not enough.
    answer = requests.get(suite["urls"]["uma"] + "/uma/policies", headers=bearer(alice["access_token"]), timeout=10)
    assert answer.status_code == 401  # audienced to the resource server, not the UMA service
    assert requests.delete(suite["urls"]["uma"] + "/uma/policies/" + policy_id, headers=bearer(alice_policies), timeout=10).status_code == 204


def test_approval_by_the_policy_api(suite, alice, bob, alice_policies):
    title = "API approval " + uuid.uuid4().hex[:6]
    doc_id = create_document(suite, alice["access_token"], title)
    answer = uma_token(suite, ticket=ticket_for(suite, doc_id), claim_token=bob["id_token"], claim_token_format=ID_TOKEN_FORMAT)
    assert answer.json()["error"] == "request_submitted"
    pending = requests.get(suite["urls"]["uma"] + "/uma/requests", headers=bearer(alice_policies), timeout=10).json()["requests"]
    [request] = [r for r in pending if r["resource_name"] == title]
    assert request["requesting_party"] == subject(suite, "bob") and request["scopes"] == ["documents:read"]
    bad = requests.post(suite["urls"]["uma"] + "/uma/requests/" + request["id"], headers=bearer(alice_policies), json={"decision": "maybe"}, timeout=10)
    assert bad.status_code == 400
    decided = requests.post(suite["urls"]["uma"] + "/uma/requests/" + request["id"], headers=bearer(alice_policies), json={"decision": "allow"}, timeout=10)
    assert decided.status_code == 200, decided.text
    rpt = uma_token(suite, ticket=answer.json()["ticket"])
    assert rpt.status_code == 200, rpt.text
    assert document(suite, doc_id, rpt.json()["access_token"]).status_code == 200


# -- a third-party UMA client -------------------------------------------------------------------


def test_requests_oauthlib_uma_reads_a_shared_document(suite, alice, alice_policies, monkeypatch):
    # oauthlib refuses plain http unless told; the suite runs on loopback without TLS.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    title = "Interop " + uuid.uuid4().hex[:6]
    doc_id = create_document(suite, alice["access_token"], title)
    assert requests.post(
        suite["urls"]["uma"] + "/uma/policies", headers=bearer(alice_policies), timeout=10,
        json={"resource_id": owned_resource(suite, alice_policies, title), "requesting_party_username": "bob", "scopes": ["documents:read"]},
    ).status_code == 201
    # A client registered for client_secret_post: the library sends its own Bearer header to the
    # token endpoint, so the client authenticates in the body.
    client, secret = register_client(
        suite, grant_types=["authorization_code", UMA_GRANT], token_endpoint_auth_method="client_secret_post", redirect_uris=[WEB_REDIRECT],
        scope="openid documents:read", allowed_audiences=[suite["urls"]["resource"]], require_pkce=True,
    )
    oauth = OAuth2Session(client, secret, scope="openid documents:read", redirect_uri=WEB_REDIRECT, code_challenge_method="S256",
                          token_endpoint_auth_method="client_secret_post")
    verifier = generate_token(48)
    url, state = oauth.create_authorization_url(suite["urls"]["token"] + "/oauth2/authorize", code_verifier=verifier)
    final = browser.login_and_consent(requests.Session(), url, "bob", USERS["bob"], WEB_REDIRECT)
    tokens = oauth.fetch_token(suite["urls"]["token"] + "/oauth2/token", authorization_response=final, code_verifier=verifier, state=state)

    session = UMA2Session(
        client_id=client, token={"access_token": tokens["access_token"], "token_type": "Bearer"},
        fetch_rpt_kwargs={
            "client_id": client, "client_secret": secret, "include_client_id": True,
            "claim_token": tokens["id_token"], "claim_token_format": ID_TOKEN_FORMAT,
        },
    )
    response = session.get(suite["urls"]["resource"] + "/api/documents/" + doc_id, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["title"] == title
    assert session.token["access_token"].startswith("neo_at_") and session.token["access_token"] != tokens["access_token"]
