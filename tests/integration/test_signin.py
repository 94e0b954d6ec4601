"""Sign-in through OpenID Connect (docs: /api/v1/auth/oauth/{google|microsoft},
/api/v1/auth/sso/{org}, /api/v1/me/identities, /api/v1/orgs/{org}/sso): full
code flows through Apache against the oidc-provider stand-ins (Google,
Microsoft, the demo org's IdP) and badop, driven as a browser would
(oidchelp.py); the account rules (no account for an unverified email, never
linked on email alone, link and unlink while signed in, the last way to sign
in kept), org SSO (JIT, verified domains only, enforcement and break-glass),
the SSO configuration API, and no code or token in any log.

The stand-ins' users are fixed (tests/standins/oidc/config.example.json), so
the accounts they make outlive a run: every test copes with them existing
already (a second run against the same stack passes). Tests that change the
demo org (SSO_DEMO_ORG) restore it.
"""

import contextlib
import hashlib
import hmac
import json
import re
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
import requests

import authhelp
import oidchelp as oh
from apxtest import assert_problem, describe
from authhelp import bearer, log_files, login_raw, refresh_raw, register, remember
from orghelp import (add_member, by_request, create_api_key, create_org, members,
                     new_member, org_audit, org_url, platform_audit, psql, set_role,
                     superuser)

GOOGLE = "/api/v1/auth/oauth/google/start"
MICROSOFT = "/api/v1/auth/oauth/microsoft/start"
IDENTITIES = "/api/v1/me/identities"
LOOKUP = "/api/v1/auth/sso/lookup"
ME = "/api/v1/me"
TENANT = "11111111-1111-4111-8111-111111111111"
SSO_FIELDS = ("enabled", "issuer", "discovery_url", "client_id", "scopes", "algorithms",
              "jit", "default_role", "enforce")

# Every code, cookie, token and secret this module handed to authhelp.remember
# (directly or through oidchelp): the log audit at the end looks for each.
MINE = []
CODES = []     # the authorization codes among them


@pytest.fixture(autouse=True)
def _collect_secrets():
    n = len(authhelp.USED_SECRETS)
    yield
    for s in authhelp.USED_SECRETS[n:]:
        if s not in MINE:
            MINE.append(s)


def keep(*values):
    remember(*values)
    for v in values:
        if isinstance(v, str) and v and v not in MINE:
            MINE.append(v)


# ------------------------------------------------------------------ stack, providers

@pytest.fixture(scope="module")
def oidc(stack):
    oh.need(stack, "OIDC_GOOGLE_URL", "OIDC_MICROSOFT_URL", "OIDC_ORGIDP_URL", "OIDC_CONFIG",
            "PUBLIC_ORIGIN")
    with open(stack["OIDC_CONFIG"]) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def su(http, stack):
    return superuser(http, stack)


@pytest.fixture(scope="module")
def demo(stack, oidc):
    oh.need(stack, "SSO_DEMO_ORG", "SSO_DEMO_DOMAIN", "SSO_TEST_USER", "ADMIN_EMAIL")
    return stack["SSO_DEMO_ORG"]


def op_password(oidc, provider, email):
    for u in oidc[provider]["users"]:
        if (u.get("email") or u.get("login") or "").lower() == email.lower():
            return u["password"]
    pytest.skip("the stand-in %s has no user %s" % (provider, email))


def discovery(url):
    r = requests.get(url.rstrip("/") + "/.well-known/openid-configuration", timeout=10)
    assert r.status_code == 200, describe(r)
    return r.json()


def sso_start(slug):
    return "/api/v1/auth/sso/%s/start" % slug


def provider_of(path):
    if path == GOOGLE:
        return "google"
    if path == MICROSOFT:
        return "microsoft"
    return "orgidp"


def flow(http, stack, oidc, path, email, **params):
    """Start, the provider's login form, back to our callback: the callback's 303."""
    url, cookie = oh.start(http, path, **params)
    keep(cookie)
    loc = oh.op_login(url, email, op_password(oidc, provider_of(path), email))
    code = oh.query_of(loc).get("code")
    assert code, "the provider sent no code: %s" % loc
    keep(code)
    CODES.append(code)
    return oh.callback(http, stack, loc, cookie)


def sign_in(http, stack, oidc, path, email, return_to=None):
    """A sign-in that must succeed: (callback answer, access token)."""
    params = {"return_to": return_to} if return_to else {}
    r = flow(http, stack, oidc, path, email, **params)
    want = stack["PUBLIC_ORIGIN"] + (return_to or "/app")
    assert r.headers["Location"] == want, "sign-in of %s refused or misdirected%s" % (
        email, describe(r))
    token = oh.signed_in(r)
    keep(token, oh.set_cookies(r)[oh.REFRESH][0])
    return r, token


def refused(http, stack, oidc, path, email, code):
    """A sign-in that must be refused with CODE: the callback answer."""
    r = flow(http, stack, oidc, path, email)
    loc = r.headers["Location"]
    assert loc.startswith(stack["PUBLIC_ORIGIN"] + "/login?"), describe(r)
    oh.failed(r, stack, code)
    got = oh.set_cookies(r)
    assert oh.REFRESH not in got and oh.CSRF not in got, describe(r)
    return r


def me(http, token):
    r = http.get(ME, headers=bearer(token))
    assert r.status_code == 200, describe(r)
    return r.json()["user"]


def identities(http, token):
    r = http.get(IDENTITIES, headers=bearer(token))
    assert r.status_code == 200, describe(r)
    return r.json()


def users_named(http, su, email):
    """Accounts whose email is EMAIL (superuser search)."""
    r = http.get("/admin/api/users", params={"q": email, "limit": 500},
                 headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    return [u for u in r.json()["users"] if u["email"].lower() == email.lower()]


def platform_entries(http, su, action, resp):
    return by_request(platform_audit(http, su["token"], action=action), resp)


def org_entries(http, token, slug, action, resp=None):
    got = [e for e in org_audit(http, bearer(token), slug, action=action)
           if e["action"] == action]
    return by_request(got, resp) if resp is not None else got


def stable_password(stack, what):
    """A password of this stack's own (the same on every run against it)."""
    mac = hmac.new(stack["INTERNAL_SECRET"].encode(), ("test_signin:" + what).encode(),
                   hashlib.sha256).hexdigest()
    return "Wq7-" + mac[:28]


def sso_path(slug):
    return org_url(slug, "sso")


def put_sso(http, token, slug, body):
    return http.request("PUT", sso_path(slug), json=body, headers=bearer(token))


@contextlib.contextmanager
def demo_sso(http, su, slug, **changes):
    """The demo org's SSO with CHANGES for the block, restored afterwards."""
    r = http.get(sso_path(slug), headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    saved = r.json()
    assert saved["protocol"] == "oidc" and saved["client_secret"] == "set", saved
    body = {k: saved[k] for k in SSO_FIELDS}
    r = put_sso(http, su["token"], slug, dict(body, **changes))
    assert r.status_code == 200, describe(r)
    for k, v in changes.items():
        assert r.json()[k] == v, describe(r)
    try:
        yield saved
    finally:
        r = put_sso(http, su["token"], slug, body)
        assert r.status_code == 200, "the demo org's SSO was not restored%s" % describe(r)
        back = r.json()
        assert {k: back[k] for k in SSO_FIELDS} == body and back["client_secret"] == "set", back


# ------------------------------------------------------------------ 1. Google, the full flow

def test_google_code_flow_signs_in_and_keeps_one_account(http, stack, oidc):
    origin = stack["PUBLIC_ORIGIN"]
    disc = discovery(stack["OIDC_GOOGLE_URL"])
    client_id = oidc["google"]["clients"][0]["client_id"]

    # the start: 303 to the provider with the whole request, fresh per start
    starts = []
    for _ in range(2):
        r = http.get(GOOGLE)
        assert r.status_code == 303, describe(r)
        assert "no-store" in r.headers.get("Cache-Control", ""), describe(r)
        loc = r.headers["Location"]
        assert loc.split("?")[0] == disc["authorization_endpoint"], loc
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query, keep_blank_values=True)
        assert all(len(v) == 1 for v in q.values()), "a parameter is repeated: %s" % loc
        q = {k: v[0] for k, v in q.items()}
        assert q["response_type"] == "code", loc
        assert q["client_id"] == client_id, loc
        assert q["redirect_uri"] == origin + "/api/v1/auth/oauth/google/callback", loc
        assert q["scope"] == "openid email profile", loc
        assert q["code_challenge_method"] == "S256", loc
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", q["code_challenge"]), loc
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", q["state"]), loc
        assert len(q["nonce"]) >= 16, loc
        # the browser binding
        c = authhelp.set_cookies(r).get(oh.COOKIE)
        assert c is not None, describe(r)
        keep(c["value"])
        a = c["attrs"]
        assert a.get("secure") is True and a.get("httponly") is True, c["line"]
        assert a.get("path") == "/" and "domain" not in a, c["line"]
        assert str(a.get("samesite", "")).lower() == "lax", c["line"]
        assert len(c["value"]) >= 32, c["line"]
        starts.append((q, c["value"]))
    (q1, b1), (q2, b2) = starts
    for k in ("state", "nonce", "code_challenge"):
        assert q1[k] != q2[k], "%s repeats across two starts" % k
    assert q1["state"] != q1["nonce"]
    assert b1 != b2, "two browsers got the same binding cookie"

    # a start that carries the binding keeps it
    r = http.get(GOOGLE, headers={"Cookie": "%s=%s" % (oh.COOKIE, b1)})
    assert r.status_code == 303, describe(r)
    again = authhelp.set_cookies(r).get(oh.COOKIE)
    assert again is None or again["value"] == b1, describe(r)

    # the whole flow: signed in, to /app
    r, token = sign_in(http, stack, oidc, GOOGLE, "alice@gmail.test")
    for name in (oh.ACCESS, oh.REFRESH, oh.CSRF):
        c = authhelp.set_cookies(r)[name]
        assert c["attrs"].get("secure") is True and c["attrs"].get("path") == "/", c["line"]
        assert "domain" not in c["attrs"], c["line"]
    user = me(http, token)
    assert user["email"] == "alice@gmail.test", user

    # an ordinary session: listed, refreshable
    sid = str(authhelp.jwt_parts(token)[1]["sid"])
    r2 = http.get(authhelp.SESSIONS, headers=bearer(token))
    assert r2.status_code == 200, describe(r2)
    assert sid in [str(s["id"]) for s in r2.json()["sessions"]], r2.text
    rt = oh.set_cookies(r)[oh.REFRESH][0]
    rr = refresh_raw(http, refresh_token=rt)
    assert rr.status_code == 200, describe(rr)
    fresh = rr.json()["access_token"]
    assert fresh != token and me(http, fresh)["id"] == user["id"]

    # the same identity again: the same account, and return_to honoured
    back = "/app/forecasts?tab=recent&x=1"
    r3, token3 = sign_in(http, stack, oidc, GOOGLE, "alice@gmail.test", return_to=back)
    assert me(http, token3)["id"] == user["id"], "a second sign-in made another account"
    ids = identities(http, token3)["identities"]
    assert len([i for i in ids if i["provider"] == "google"]) == 1, ids
    assert ids[0]["issuer"] == disc["issuer"] and ids[0]["org"] is None, ids

    # return_to is a path of ours, nothing else
    for hostile in ("//evil.example", "https://evil.example", "/\\evil", "//evil.example/app",
                    "/app\r\nX: y"):
        r4 = http.get(GOOGLE, params={"return_to": hostile})
        assert_problem(r4, 422, "invalid-field", field="return_to")
        assert "Location" not in r4.headers, describe(r4)


# ------------------------------------------------------------------ 2. unverified email

def test_google_unverified_email_makes_no_account(http, stack, oidc, su):
    email = "bob-unverified@gmail.test"
    r = refused(http, stack, oidc, GOOGLE, email, "email-unverified")
    assert users_named(http, su, email) == [], "an account was made for an unverified email"
    got = platform_entries(http, su, "auth.signin_failed", r)
    assert len(got) == 1, got
    assert got[0]["after"] == {"provider": "google", "code": "email-unverified",
                               "reason": "email-unverified"}, got
    assert platform_entries(http, su, "account.create_sso", r) == []


# ------------------------------------------------------------------ 3. same email, link, unlink

@pytest.fixture
def wanda(http, stack, oidc):
    """wanda@workspace.test as a password account (made on the first run),
    with no linked sign-in left over from an interrupted run."""
    email = "wanda@workspace.test"
    pw = stable_password(stack, email)
    r = register(http, email, pw, "Wanda Password", expect=None)
    assert r.status_code == 202, describe(r)
    r = login_raw(http, email, pw)
    if r.status_code != 200:
        pytest.fail("%s exists with a password this suite did not set (made by another suite "
                    "or by Google sign-in before this suite ran): the test needs it as its "
                    "own password account%s" % (email, describe(r)))
    u = {"email": email, "password": pw, "token": r.json()["access_token"],
         "id": r.json()["user"]["id"]}
    for i in identities(http, u["token"])["identities"]:
        d = http.delete("%s/%s" % (IDENTITIES, i["id"]), headers=bearer(u["token"]))
        assert d.status_code == 204, describe(d)
    return u


def test_google_never_links_on_email_alone_but_links_when_signed_in(http, stack, oidc, su,
                                                                     wanda):
    email = wanda["email"]
    # an account with that email exists: refused, nothing linked
    r = refused(http, stack, oidc, GOOGLE, email, "account-exists")
    got = platform_entries(http, su, "auth.signin_failed", r)
    assert [e["after"] for e in got] == [{"provider": "google", "code": "account-exists",
                                          "reason": "email-of-existing-account"}], got
    mine = identities(http, wanda["token"])
    assert mine == {"identities": [], "password": True}, mine
    assert len(users_named(http, su, email)) == 1

    # linking through the signed-in session
    r = http.post(IDENTITIES, json={"provider": "google"}, headers=bearer(wanda["token"]))
    assert r.status_code == 200, describe(r)
    assert "no-store" in r.headers.get("Cache-Control", ""), describe(r)
    body = r.json()
    assert body["provider"] == "google" and body["expires_in"] > 0, body
    c = authhelp.set_cookies(r).get(oh.COOKIE)
    assert c is not None and c["attrs"].get("httponly") is True, describe(r)
    keep(c["value"])
    q = oh.query_of(body["authorize_url"])
    assert q["redirect_uri"] == stack["PUBLIC_ORIGIN"] + "/api/v1/auth/oauth/google/callback"
    assert q["code_challenge_method"] == "S256" and q["state"] and q["nonce"], q
    loc = oh.op_login(body["authorize_url"], email, op_password(oidc, "google", email))
    r = oh.callback(http, stack, loc, c["value"])
    assert r.headers["Location"] == stack["PUBLIC_ORIGIN"] + "/app/account?linked=google", \
        describe(r)
    assert oh.ACCESS not in oh.set_cookies(r) and oh.REFRESH not in oh.set_cookies(r), \
        "a link made a new session%s" % describe(r)
    got = platform_entries(http, su, "identity.link", r)
    assert len(got) == 1 and got[0]["actor_id"] == str(wanda["id"]), got
    listed = identities(http, wanda["token"])
    assert listed["password"] is True and len(listed["identities"]) == 1, listed
    ident = listed["identities"][0]
    assert ident["provider"] == "google" and ident["org"] is None, ident
    assert ident["issuer"] == discovery(stack["OIDC_GOOGLE_URL"])["issuer"], ident

    # now Google signs in that same account
    _, token = sign_in(http, stack, oidc, GOOGLE, email)
    assert me(http, token)["id"] == wanda["id"]
    assert len(users_named(http, su, email)) == 1

    # unlinked: back to account-exists
    r = http.delete("%s/%s" % (IDENTITIES, ident["id"]), headers=bearer(wanda["token"]))
    assert r.status_code == 204, describe(r)
    assert len(platform_entries(http, su, "identity.unlink", r)) == 1
    assert identities(http, wanda["token"])["identities"] == []
    refused(http, stack, oidc, GOOGLE, email, "account-exists")
    assert identities(http, wanda["token"])["identities"] == []


# ------------------------------------------------------------------ 4. Microsoft

def test_microsoft_tenant_issuer_and_unverified_email(http, stack, oidc, su):
    _, token = sign_in(http, stack, oidc, MICROSOFT, "carol@contoso.test")
    user = me(http, token)
    assert user["email"] == "carol@contoso.test", user
    ids = [i for i in identities(http, token)["identities"] if i["provider"] == "microsoft"]
    assert len(ids) == 1, ids
    iss = ids[0]["issuer"]
    root = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(stack["OIDC_MICROSOFT_URL"]))
    assert TENANT in iss and "{tenantid}" not in iss and "common" not in iss, iss
    assert iss == "%s/%s/v2.0" % (root, TENANT), iss
    # the same identity again: the same account
    _, token2 = sign_in(http, stack, oidc, MICROSOFT, "carol@contoso.test")
    assert me(http, token2)["id"] == user["id"]

    r = refused(http, stack, oidc, MICROSOFT, "dave@fabrikam.test", "email-unverified")
    assert users_named(http, su, "dave@fabrikam.test") == []
    got = platform_entries(http, su, "auth.signin_failed", r)
    assert [e["after"] for e in got] == [{"provider": "microsoft", "code": "email-unverified",
                                          "reason": "email-unverified"}], got


# ------------------------------------------------------------------ 5. the last way to sign in

def test_the_only_sign_in_method_cannot_be_unlinked(http, stack, oidc):
    _, token = sign_in(http, stack, oidc, GOOGLE, "alice@gmail.test")
    mine = identities(http, token)
    assert mine["password"] is False and len(mine["identities"]) == 1, \
        "alice@gmail.test should be a Google-only account: %r" % mine
    ident = mine["identities"][0]
    r = http.delete("%s/%s" % (IDENTITIES, ident["id"]), headers=bearer(token))
    assert_problem(r, 409, "last-sign-in-method")
    assert identities(http, token) == mine

    other = new_member(http)
    r = http.delete("%s/%s" % (IDENTITIES, ident["id"]), headers=bearer(other["token"]))
    assert_problem(r, 404, "identity-not-found")
    assert identities(http, token)["identities"] == mine["identities"]
    r = http.delete("%s/987654321012" % IDENTITIES, headers=bearer(token))
    assert_problem(r, 404, "identity-not-found")
    # and alice still signs in
    _, token2 = sign_in(http, stack, oidc, GOOGLE, "alice@gmail.test")
    assert me(http, token2)["id"] == me(http, token)["id"]


# ------------------------------------------------------------------ 6. org SSO, JIT, domains

def test_org_sso_jit_domains_and_membership(http, stack, oidc, su, demo):
    erin = stack["SSO_TEST_USER"]
    start = sso_start(demo)
    sut = su["token"]
    known = users_named(http, su, erin)
    was = members(http, sut, demo).get(known[0]["id"]) if known else None
    erin_id = known[0]["id"] if known else None

    def drop(uid):
        if uid is not None and uid in members(http, sut, demo):
            r = http.delete(org_url(demo, "members", uid), headers=bearer(sut))
            assert r.status_code == 204, describe(r)

    try:
        with demo_sso(http, su, demo, jit=True, default_role="analyst", enforce=False):
            drop(erin_id)
            # JIT: a verified-domain user who is not a member joins as default_role
            r, token = sign_in(http, stack, oidc, start, erin)
            erin_id = me(http, token)["id"]
            assert me(http, token)["email"] == erin
            m = members(http, sut, demo).get(erin_id)
            assert m is not None and m["role"] == "analyst", m
            login = org_entries(http, sut, demo, "sso.login", r)
            assert len(login) == 1 and login[0]["after"] == {"provider": "oidc",
                                                             "joined": True}, login
            assert login[0]["actor_id"] == str(erin_id), login
            assert len(org_entries(http, sut, demo, "sso.jit_join", r)) == 1
            ids = [i for i in identities(http, token)["identities"] if i["org"] == demo]
            assert len(ids) == 1 and ids[0]["provider"] == "oidc", ids
            assert ids[0]["issuer"] == discovery(stack["OIDC_ORGIDP_URL"])["issuer"], ids
            # a member already: signed in, no second join
            r, token = sign_in(http, stack, oidc, start, erin)
            assert me(http, token)["id"] == erin_id
            assert [e["after"] for e in org_entries(http, sut, demo, "sso.login", r)] == \
                [{"provider": "oidc", "joined": False}]
            assert org_entries(http, sut, demo, "sso.jit_join", r) == []

            # a domain the org has not verified
            r = refused(http, stack, oidc, start, "mallory@other-agency.test",
                        "domain-not-allowed")
            got = org_entries(http, sut, demo, "sso.login_failed", r)
            assert [e["after"] for e in got] == [{"provider": "oidc",
                                                  "code": "domain-not-allowed",
                                                  "reason": "domain-not-verified"}], got
            assert users_named(http, su, "mallory@other-agency.test") == []

        # jit off: a non-member is refused and stays out
        with demo_sso(http, su, demo, jit=False):
            drop(erin_id)
            r = refused(http, stack, oidc, start, erin, "not-a-member")
            got = org_entries(http, sut, demo, "sso.login_failed", r)
            assert [e["after"] for e in got] == [{"provider": "oidc", "code": "not-a-member",
                                                  "reason": "not-a-member-jit-off"}], got
            assert org_entries(http, sut, demo, "sso.jit_join", r) == []
            assert erin_id not in members(http, sut, demo)
    finally:
        # erin's membership as it was before
        if was is None:
            drop(erin_id)
        else:
            if erin_id not in members(http, sut, demo):
                with demo_sso(http, su, demo, jit=True):
                    sign_in(http, stack, oidc, start, erin)
            if members(http, sut, demo)[erin_id]["role"] != was["role"]:
                r = set_role(http, sut, demo, erin_id, was["role"])
                assert r.status_code in (200, 204), describe(r)


# ------------------------------------------------------------------ 7. lookup

def test_sso_lookup(http, stack, demo):
    r = http.post(LOOKUP, json={"email": stack["SSO_TEST_USER"]})
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert body["sso"] is True and body["org"] == demo and body["protocol"] == "oidc", body
    assert body["start_url"] == sso_start(demo), body
    assert isinstance(body["enforced"], bool) and body.get("name"), body
    # the start_url really starts a sign-in at the org's IdP
    loc = http.get(body["start_url"]).headers.get("Location", "")
    assert loc.startswith(discovery(stack["OIDC_ORGIDP_URL"])["authorization_endpoint"]), loc

    r = http.post(LOOKUP, json={"email": "alice@gmail.test"})
    assert r.status_code == 200, describe(r)
    assert r.json() == {"sso": False}, r.text
    r = http.post(LOOKUP, json={"email": "someone@other-agency.test"})
    assert r.status_code == 200 and r.json() == {"sso": False}, describe(r)
    assert_problem(http.post(LOOKUP, json={"email": "not-an-email"}), 422, "invalid-field",
                   field="email")


# ------------------------------------------------------------------ 8. the SSO config API

def test_sso_config_api(http, stack, oidc):
    oh.need(stack, "BADOP_URL")
    owner = new_member(http)
    slug = create_org(http, owner["token"], plan="agency")["slug"]
    h = bearer(owner["token"])
    path = sso_path(slug)
    issuer = discovery(stack["OIDC_ORGIDP_URL"])["issuer"]
    redirect = "%s/api/v1/auth/sso/%s/oidc/callback" % (stack["PUBLIC_ORIGIN"], slug)
    secret = "cs-" + uuid.uuid4().hex + uuid.uuid4().hex
    keep(secret)

    r = http.get(path, headers=h)
    assert r.status_code == 200, describe(r)
    un = r.json()
    assert un["protocol"] is None and un["enabled"] is False, un
    assert un["redirect_uri"] == redirect, un
    assert un.get("client_secret", "unset") == "unset", un

    # the first PUT needs the secret
    r = put_sso(http, owner["token"], slug, {"issuer": issuer, "client_id": "made-up"})
    assert_problem(r, 422, "invalid-field", field="client_secret")
    assert http.get(path, headers=h).json()["protocol"] is None

    r = put_sso(http, owner["token"], slug, {"issuer": issuer, "client_id": "made-up-1",
                                               "client_secret": secret})
    assert r.status_code == 200, describe(r)
    assert secret not in r.text
    got = r.json()
    assert got["protocol"] == "oidc" and got["enabled"] is True, got
    assert got["issuer"] == issuer and got["client_id"] == "made-up-1", got
    assert got["discovery_url"] == issuer.rstrip("/") + "/.well-known/openid-configuration"
    assert got["client_secret"] == "set" and got["redirect_uri"] == redirect, got
    assert "openid" in got["scopes"] and got["default_role"] in ("viewer", "analyst", "admin")
    r = http.get(path, headers=h)
    assert r.status_code == 200 and secret not in r.text, describe(r)
    assert r.json()["client_secret"] == "set" and r.json()["client_id"] == "made-up-1"

    # without client_secret: kept
    r = put_sso(http, owner["token"], slug, {"issuer": issuer, "client_id": "made-up-2",
                                               "jit": True, "default_role": "admin",
                                               "scopes": ["openid", "email"],
                                               "algorithms": ["RS256"]})
    assert r.status_code == 200, describe(r)
    got = r.json()
    assert got["client_secret"] == "set" and got["client_id"] == "made-up-2", got
    assert got["jit"] is True and got["default_role"] == "admin", got
    assert got["scopes"] == ["openid", "email"] and got["algorithms"] == ["RS256"], got
    assert secret not in r.text

    # refusals, each changing nothing
    name = oh.unique("sig")
    bad_iss = oh.badop_issuer(stack, name, slug, {"sub": "s-" + name, "email": "x@example.test",
                                                  "email_verified": True},
                              fault="discovery-issuer")
    keep(bad_iss["client_secret"])
    base = {"issuer": issuer, "client_id": "made-up-3"}
    cases = [
        ({"issuer": bad_iss["issuer"], "client_id": bad_iss["client_id"],
          "client_secret": bad_iss["client_secret"]}, "issuer-mismatch", "issuer"),
        ({"issuer": "http://127.0.0.1:9/x", "client_id": "c"}, "discovery-failed", "issuer"),
        (dict(base, algorithms=["HS256"]), "invalid-field", "algorithms"),
        (dict(base, algorithms=["RS256", "none"]), "invalid-field", "algorithms"),
        (dict(base, scopes=["email", "profile"]), "invalid-field", "scopes"),
        (dict(base, default_role="owner"), "invalid-field", "default_role"),
        (dict(base, surprise=1), "invalid-field", "surprise"),
        (dict(base, issuer="ftp://127.0.0.1/x"), "invalid-field", "issuer"),
    ]
    for body, slug_, field in cases:
        r = put_sso(http, owner["token"], slug, body)
        assert_problem(r, 422, slug_, field=field)
    now = http.get(path, headers=h).json()
    assert now["client_id"] == "made-up-2" and now["issuer"] == issuer, now
    # the same badop issuer, once its discovery is right, is accepted
    oh.badop_fault(stack, name, "none")
    r = put_sso(http, owner["token"], slug, {"issuer": bad_iss["issuer"],
                                               "client_id": bad_iss["client_id"]})
    assert r.status_code == 200 and r.json()["issuer"] == bad_iss["issuer"], describe(r)

    # who may
    analyst = add_member(http, owner["token"], slug, "analyst")
    assert_problem(http.get(path, headers=bearer(analyst["token"])), 403, "forbidden")
    assert_problem(put_sso(http, analyst["token"], slug, base), 403, "forbidden")
    outsider = new_member(http)
    assert_problem(http.get(path, headers=bearer(outsider["token"])), 404)
    assert_problem(put_sso(http, outsider["token"], slug, base), 404)
    _, key = create_api_key(http, owner["token"], slug, role="admin")
    keep(key)
    assert_problem(put_sso(http, key, slug, base), 403, "api-key-not-allowed")
    assert_problem(http.delete(path, headers=bearer(key)), 403, "api-key-not-allowed")
    free = new_member(http)
    fslug = create_org(http, free["token"], plan="free")["slug"]
    r = put_sso(http, free["token"], fslug, {"issuer": issuer, "client_id": "c",
                                              "client_secret": secret})
    assert_problem(r, 402, "plan-required")
    assert_problem(http.get(sso_path(fslug), headers=bearer(free["token"])), 402,
                   "plan-required")

    # delete
    r = http.delete(path, headers=h)
    assert r.status_code == 204, describe(r)
    after = http.get(path, headers=h).json()
    assert after["protocol"] is None and after["enabled"] is False, after
    assert_problem(http.delete(path, headers=h), 404, "sso-not-configured")
    assert_problem(http.get(sso_start(slug)), 404, "sso-not-configured")

    entries = org_audit(http, h, slug)
    acts = [e["action"] for e in entries]
    assert acts.count("sso.update") == 3 and acts.count("sso.delete") == 1, acts
    dump = json.dumps(entries)
    assert secret not in dump and bad_iss["client_secret"] not in dump, \
        "a client secret is in the org's audit log"


# ------------------------------------------------------------------ 9. enforcement

def test_sso_enforcement_and_break_glass(http, stack, oidc, su, demo):
    domain = stack["SSO_DEMO_DOMAIN"]
    sut = su["token"]
    tag = uuid.uuid4().hex[:10]
    user = {"email": "u%s@%s" % (tag, domain), "password": authhelp.strong_password()}
    register(http, user["email"], user["password"], "Agency Person")
    authhelp.verify_by_sql(user["email"])
    owner = {"email": "owner%s@%s" % (tag, domain), "password": authhelp.strong_password()}
    register(http, owner["email"], owner["password"], "Agency Owner")
    owner["id"] = authhelp.verify_by_sql(owner["email"])
    r = login_raw(http, owner["email"], owner["password"])
    assert r.status_code == 200, describe(r)
    owner["token"] = r.json()["access_token"]
    add_member(http, sut, demo, "owner", user=owner)
    assert members(http, sut, demo)[owner["id"]]["role"] == "owner"
    # before: an ordinary password login
    assert login_raw(http, user["email"], user["password"]).status_code == 200
    addr = {"X-Forwarded-For": "203.0.113.%d" % (int(tag[:2], 16) % 250 + 2)}
    try:
        with demo_sso(http, su, demo, enforce=True):
            look = http.post(LOOKUP, json={"email": user["email"]}).json()
            assert look["sso"] is True and look["enforced"] is True, look
            # (a) a non-owner of the domain: SSO only
            r = login_raw(http, user["email"], user["password"], headers=addr)
            body = assert_problem(r, 403, "sso-required")
            assert "access_token" not in body
            assert authhelp.COOKIE_ACCESS not in authhelp.set_cookies(r), describe(r)
            # (b) an owner of another domain: unaffected, no break-glass
            r = login_raw(http, stack["ADMIN_EMAIL"], stack["ADMIN_PASSWORD"])
            assert r.status_code == 200, describe(r)
            assert org_entries(http, sut, demo, "sso.break_glass", r) == []
            # (b) an owner of the org in the domain: break-glass, audited
            r = login_raw(http, owner["email"], owner["password"])
            assert r.status_code == 200, describe(r)
            got = org_entries(http, sut, demo, "sso.break_glass", r)
            assert len(got) == 1 and got[0]["actor_id"] == str(owner["id"]), got
        # (d) enforcement off: the password works again
        r = login_raw(http, user["email"], user["password"], headers=addr)
        assert r.status_code == 200, describe(r)
        assert http.post(LOOKUP, json={"email": user["email"]}).json()["enforced"] is False
    finally:
        r = http.delete(org_url(demo, "members", owner["id"]), headers=bearer(sut))
        assert r.status_code == 204, describe(r)


# ------------------------------------------------------------------ 10. no code or token logged

@pytest.mark.run_last
def test_no_code_or_token_in_logs(http, stack, oidc):
    # a flow of this test's own, so that there is always something to look for
    r, token = sign_in(http, stack, oidc, GOOGLE, "alice@gmail.test")
    rr = refresh_raw(http, refresh_token=oh.set_cookies(r)[oh.REFRESH][0])
    assert rr.status_code == 200, describe(rr)
    keep(rr.json()["access_token"], rr.json()["refresh_token"])
    time.sleep(1)
    needles = sorted({s for s in MINE if len(s) >= 8})
    assert CODES[-1] in needles and token in needles, "nothing to look for"
    files = log_files(stack)
    err = Path(stack["ERROR_LOG"]).resolve()
    assert err in files, files
    assert "signed in through google" in err.read_text(errors="replace"), \
        "ERROR_LOG holds no sign-in line: wrong file?"
    leaks = []
    for f in files:
        data = f.read_bytes()
        for s in needles:
            idx = data.find(s.encode())
            if idx >= 0:
                ls = data.rfind(b"\n", 0, idx) + 1
                le = data.find(b"\n", idx)
                line = data[ls:le if le >= 0 else None]
                leaks.append("%s: %s" % (f, line.replace(s.encode(), b"<SECRET>")
                                         .decode(errors="replace")[:300]))
    assert not leaks, ("codes/tokens/secrets of the sign-in tests found in logs (%d checked, "
                       "%d codes):\n%s" % (len(needles), len(CODES), "\n".join(leaks)))


@pytest.mark.run_last
def test_no_code_or_token_in_audit_entries(stack):
    needles = [s for s in MINE if len(s) >= 8]
    if not needles:
        pytest.skip("no sign-in test ran before this one")
    out = psql(stack, "SELECT coalesce(target, '') || ' ' || coalesce(before::text, '') || ' ' "
               "|| coalesce(after::text, '') FROM audit_log").stdout
    assert "sso." in out or "google" in out, "audit_log read nothing"
    found = [s[:6] + "..." for s in needles if s in out]
    assert not found, "values of the sign-in tests found in audit entries: %s" % found
