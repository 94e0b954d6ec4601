"""Sign-in through an org's OpenID provider, the refusals (docs/api.md
"Sign-in with Google, Microsoft and SSO"): badop (tests/standins/oidc/
BADOP.md) gets one thing wrong per issuer, and the app must refuse exactly
that one thing: 303 to PUBLIC_ORIGIN/login?error=CODE, no session cookie,
and an `sso.login_failed` entry in the org's audit log (matched by the
answer's X-Request-Id) whose reason names it. Each test then puts the fault
back to `none` (or the config back) and signs in through the same issuer:
the only thing that differed was the fault.

Failures whose state was not ours (replayed, another browser, tampered,
missing) are only logged, never audited. A Microsoft token whose tid is not
its issuer's tenant lands in the platform log. No client secret, code,
state or token ever reaches the error log.
"""

import urllib.parse
from pathlib import Path

import pytest
import requests

import oidchelp as oh
from apxtest import assert_problem, describe, poll
from authhelp import bearer, remember
from orghelp import by_request, org_audit, platform_audit, superuser

SSO = "/api/v1/orgs/%s/sso"
DOM = "/api/v1/orgs/%s/domains"
START = "/api/v1/auth/sso/%s/start"
CALLBACK = "/api/v1/auth/sso/%s/oidc/callback"
SESSION_COOKIES = (oh.ACCESS, oh.REFRESH, oh.CSRF)

# Every client secret, code, state, binding cookie and token this module saw:
# test_no_secret_in_the_error_log looks for each of them in ERROR_LOG.
SEEN = []


def seen(*values):
    for v in values:
        if isinstance(v, str) and v and v not in SEEN:
            SEEN.append(v)
    remember(*values)


# ------------------------------------------------------------------ set-up

verified_agency = oh.verified_agency


@pytest.fixture(scope="module")
def org(http, stack):
    oh.need(stack, "BADOP_URL", "DNS_CONTROL_URL", "PUBLIC_ORIGIN")
    return verified_agency(http, stack, "neg")


def user_of(name, domain, **claims):
    u = {"sub": "s-" + name, "email": "%s@%s" % (name, domain), "email_verified": True,
         "name": "Neg " + name}
    u.update(claims)
    return u


def put_sso(http, org, iss, expect=200, **extra):
    body = {"issuer": iss["issuer"], "client_id": iss["client_id"],
            "client_secret": iss["client_secret"], "jit": True}
    body.update(extra)
    r = http.request("PUT", SSO % org["slug"], json=body, headers=org["h"])
    assert r.status_code == expect, describe(r)
    return r


def issuer(http, stack, org, fault="none", user=None, extra_uris=(), put=True, **sso):
    """A fresh badop issuer (unique name) for ORG, and the org's SSO on it."""
    name = oh.unique("neg")
    iss = oh.badop_issuer(stack, name, org["slug"], user or user_of(name, org["domain"]),
                          fault=fault, extra_uris=extra_uris)
    iss["name"] = name
    seen(iss["client_secret"])
    if put:
        put_sso(http, org, iss, **sso)
    return iss


def begin(http, org, cookie=None):
    """GET the org's start: (authorize URL, binding cookie)."""
    url, cookie = oh.start(http, START % org["slug"], cookie=cookie)
    seen(cookie, oh.query_of(url).get("state"))
    return url, cookie


def authorize(url):
    loc = oh.badop_authorize(url)
    seen(oh.query_of(loc).get("code"))
    return loc


def sign_in(http, stack, org):
    """start -> badop -> our callback: the callback's answer."""
    url, cookie = begin(http, org)
    return oh.callback(http, stack, authorize(url), cookie)


def no_session(r):
    got = oh.set_cookies(r)
    for name in SESSION_COOKIES:
        assert name not in got, "%s set on a refused sign-in%s" % (name, describe(r))


def succeeded(http, stack, org, r, email=None):
    """A sign-in that worked: session cookies, back to /app, the token works."""
    assert r.headers.get("Location") == stack["PUBLIC_ORIGIN"] + "/app", describe(r)
    tok = oh.signed_in(r)
    seen(tok, oh.set_cookies(r)[oh.REFRESH][0])
    me = http.get("/api/v1/me", headers=bearer(tok))
    assert me.status_code == 200, describe(me)
    if email is not None:
        assert me.text.find(email) >= 0, describe(me)
    assert by_request(org_audit(http, org["h"], org["slug"], action="sso.login_failed"), r) == []
    return tok


def refused(http, stack, org, r, code, reason):
    """A refusal of a flow that was ours: the page, no session, the audit entry."""
    assert r.status_code == 303, describe(r)
    assert r.headers.get("Location") == "%s/login?error=%s" % (stack["PUBLIC_ORIGIN"], code), \
        describe(r)
    no_session(r)
    rid = r.headers.get("X-Request-Id")
    assert rid, describe(r)
    entries = by_request(org_audit(http, org["h"], org["slug"], action="sso.login_failed"), rid)
    assert len(entries) == 1, (rid, entries)
    after = entries[0]["after"]
    assert after == {"provider": "oidc", "code": code, "reason": reason}, (rid, after)
    return entries[0]


def error_log_line(stack, rid, needle):
    """The ERROR_LOG line of request RID that holds NEEDLE (waits a little:
    the app's stderr reaches the file through Apache)."""
    path = Path(stack["ERROR_LOG"])

    def find():
        for line in path.read_text(errors="replace").splitlines():
            if ("rid=%s " % rid) in line and needle in line:
                return line
        return None

    return poll(find, 5, interval=0.05, what="%r of rid=%s in ERROR_LOG" % (needle, rid))


def not_ours(http, stack, org, r):
    """A refusal whose state was not ours: logged, never audited."""
    assert r.headers.get("Location") == "%s/login?error=signin-failed" % stack["PUBLIC_ORIGIN"], \
        describe(r)
    no_session(r)
    rid = r.headers["X-Request-Id"]
    error_log_line(stack, rid, "refused: signin-failed (state")
    assert by_request(org_audit(http, org["h"], org["slug"], action="sso.login_failed"), rid) == []
    assert by_request(org_audit(http, org["h"], org["slug"]), rid) == []


def jwks_fetches(stack, iss):
    return oh.badop_stats(stack, iss["name"])["jwks"]


def refused_then_fine(http, stack, org, fault, reason, code="signin-failed"):
    """FAULT is refused with REASON; the same issuer with fault none is not."""
    iss = issuer(http, stack, org, fault=fault)
    refused(http, stack, org, sign_in(http, stack, org), code, reason)
    oh.badop_fault(stack, iss["name"], "none")
    r = sign_in(http, stack, org)
    succeeded(http, stack, org, r, email=iss["user"]["email"])
    return r


# ------------------------------------------------------------------ the control

def test_control_fault_none_signs_in_and_joins(http, stack, org):
    iss = issuer(http, stack, org)
    r = sign_in(http, stack, org)
    succeeded(http, stack, org, r, email=iss["user"]["email"])
    e = by_request(org_audit(http, org["h"], org["slug"], action="sso.login"), r)
    assert len(e) == 1 and e[0]["after"] == {"provider": "oidc", "joined": True}, e
    st = oh.badop_stats(stack, iss["name"])
    assert st["token"] == 1 and st["userinfo"] == 1 and st["jwks"] >= 1, st


# ------------------------------------------------------------------ the ID token

@pytest.mark.parametrize("fault,reason", [
    ("bad-signature", "signature"),
    ("alg-none", "alg"),
    ("hs256-pubkey", "alg"),
    ("wrong-iss", "iss"),
    ("no-aud", "aud"),
    ("wrong-aud", "aud"),
    ("azp-mismatch", "azp"),
    ("expired", "exp"),
    ("iat-past", "iat"),
    ("iat-future", "iat"),
    ("no-sub", "sub"),
    ("wrong-nonce", "nonce"),
    ("userinfo-sub", "userinfo-sub"),
])
def test_id_token_fault_refused(http, stack, org, fault, reason):
    refused_then_fine(http, stack, org, fault, reason)


def test_email_not_verified_refused(http, stack, org):
    refused_then_fine(http, stack, org, "no-email-verified", "email-unverified",
                      code="email-unverified")


def test_discovery_naming_another_issuer_refused_on_put(http, stack, org):
    good = issuer(http, stack, org)
    bad = issuer(http, stack, org, fault="discovery-issuer", put=False)
    r = http.request("PUT", SSO % org["slug"], json={
        "issuer": bad["issuer"], "client_id": bad["client_id"],
        "client_secret": bad["client_secret"], "jit": True}, headers=org["h"])
    assert_problem(r, 422, "issuer-mismatch")
    assert bad["client_secret"] not in r.text
    cfg = http.get(SSO % org["slug"], headers=org["h"]).json()
    assert cfg["issuer"] == good["issuer"] and cfg["client_id"] == good["client_id"], cfg
    assert oh.badop_stats(stack, bad["name"])["discovery"] >= 1
    # the same issuer once its discovery document is right
    oh.badop_fault(stack, bad["name"], "none")
    put_sso(http, org, bad)
    succeeded(http, stack, org, sign_in(http, stack, org), email=bad["user"]["email"])


# ------------------------------------------------------------------ keys

def test_unknown_kid_refused_after_one_refetch(http, stack, org):
    iss = issuer(http, stack, org, fault="unknown-kid")
    url, cookie = begin(http, org)
    loc = authorize(url)
    before = jwks_fetches(stack, iss)
    r = oh.callback(http, stack, loc, cookie)
    grew = jwks_fetches(stack, iss) - before
    refused(http, stack, org, r, "signin-failed", "kid")
    # this worker's first fetch (if it had none yet) and one refetch, no more
    assert 1 <= grew <= 2, grew
    oh.badop_fault(stack, iss["name"], "none")
    succeeded(http, stack, org, sign_in(http, stack, org), email=iss["user"]["email"])


def test_jwks_with_unknown_key_types_accepted(http, stack, org):
    iss = issuer(http, stack, org, fault="jwks-unknown-kty")
    succeeded(http, stack, org, sign_in(http, stack, org), email=iss["user"]["email"])
    assert jwks_fetches(stack, iss) >= 1


def test_rotated_keys_accepted_after_a_refetch(http, stack, org):
    iss = issuer(http, stack, org)
    succeeded(http, stack, org, sign_in(http, stack, org), email=iss["user"]["email"])
    old = oh.badop_stats(stack, iss["name"])
    kids = oh.badop_rotate(stack, iss["name"])["kids"]
    assert len(kids) == 2
    r = sign_in(http, stack, org)
    succeeded(http, stack, org, r, email=iss["user"]["email"])
    # several app processes, each with its own cache: at least one fetch of
    # the new JWKS, at most one per sign-in made since the rotation
    grew = jwks_fetches(stack, iss) - old["jwks"]
    assert 1 <= grew <= 1, grew


def test_algorithm_not_allowed_refused(http, stack, org):
    iss = issuer(http, stack, org, algorithms=["ES256"])     # badop signs RS256
    cfg = http.get(SSO % org["slug"], headers=org["h"]).json()
    assert cfg["algorithms"] == ["ES256"], cfg
    refused(http, stack, org, sign_in(http, stack, org), "signin-failed", "alg")
    put_sso(http, org, iss, algorithms=["ES256", "RS256"])
    succeeded(http, stack, org, sign_in(http, stack, org), email=iss["user"]["email"])


# ------------------------------------------------------------------ state and browser

def test_replayed_state_refused(http, stack, org):
    issuer(http, stack, org)
    url, cookie = begin(http, org)
    loc = authorize(url)
    succeeded(http, stack, org, oh.callback(http, stack, loc, cookie))
    not_ours(http, stack, org, oh.callback(http, stack, loc, cookie))


def test_state_of_another_browser_refused(http, stack, org):
    iss = issuer(http, stack, org)
    url, cookie = begin(http, org)
    loc = authorize(url)
    _, other = begin(http, org)               # another browser's binding cookie
    assert other != cookie
    not_ours(http, stack, org, oh.callback(http, stack, loc, other))
    not_ours(http, stack, org, oh.callback(http, stack, loc, None))
    assert oh.badop_stats(stack, iss["name"])["token"] == 0
    # neither spent the state: its own browser still signs in with it
    succeeded(http, stack, org, oh.callback(http, stack, loc, cookie))


def test_tampered_state_refused(http, stack, org):
    iss = issuer(http, stack, org)
    url, cookie = begin(http, org)
    loc = authorize(url)
    state = oh.query_of(loc)["state"]
    assert len(state) == 43, state
    flipped = state[:-1] + ("A" if state[-1] != "A" else "B")
    not_ours(http, stack, org, oh.callback(http, stack, oh.with_query(loc, state=flipped), cookie))
    assert oh.badop_stats(stack, iss["name"])["token"] == 0
    succeeded(http, stack, org, oh.callback(http, stack, loc, cookie))


def test_callback_without_state_refused(http, stack, org):
    iss = issuer(http, stack, org)
    url, cookie = begin(http, org)
    loc = authorize(url)
    not_ours(http, stack, org, oh.callback(http, stack, oh.with_query(loc, state=None), cookie))
    assert oh.badop_stats(stack, iss["name"])["token"] == 0
    succeeded(http, stack, org, oh.callback(http, stack, loc, cookie))


# ------------------------------------------------------------------ the provider's side

def test_code_for_another_redirect_uri_refused_by_the_exchange(http, stack, org):
    elsewhere = stack["PUBLIC_ORIGIN"] + "/somewhere/else"
    iss = issuer(http, stack, org, extra_uris=[elsewhere])
    url, cookie = begin(http, org)
    ours = stack["PUBLIC_ORIGIN"] + CALLBACK % org["slug"]
    assert oh.query_of(url)["redirect_uri"] == ours, url
    loc = authorize(oh.with_query(url, redirect_uri=elsewhere))
    assert loc.startswith(elsewhere + "?"), loc
    q = oh.query_of(loc)
    back = "%s%s?%s" % (stack["PUBLIC_ORIGIN"], CALLBACK % org["slug"],
                        urllib.parse.urlencode({"code": q["code"], "state": q["state"]}))
    r = oh.callback(http, stack, back, cookie)
    refused(http, stack, org, r, "signin-failed", "token-endpoint")
    assert oh.badop_stats(stack, iss["name"])["token"] == 1
    succeeded(http, stack, org, sign_in(http, stack, org), email=iss["user"]["email"])


def test_provider_error_is_signin_cancelled(http, stack, org):
    iss = issuer(http, stack, org)
    url, cookie = begin(http, org)
    state = oh.query_of(url)["state"]
    back = "%s%s?%s" % (stack["PUBLIC_ORIGIN"], CALLBACK % org["slug"], urllib.parse.urlencode(
        {"error": "access_denied", "error_description": "The user said no", "state": state}))
    r = oh.callback(http, stack, back, cookie)
    refused(http, stack, org, r, "signin-cancelled", "provider-error")
    assert oh.badop_stats(stack, iss["name"])["token"] == 0


def test_email_of_another_orgs_verified_domain_refused(http, stack, org):
    other = verified_agency(http, stack, "oth")
    name = oh.unique("neg")
    iss = issuer(http, stack, org, user=user_of(name, other["domain"]))
    refused(http, stack, org, sign_in(http, stack, org), "domain-not-allowed",
            "domain-not-verified")
    # the same IdP speaking for an address of this org's own domain
    mine = user_of(name, org["domain"])
    r = requests.post("%s/_control/issuers/%s/user" % (stack["BADOP_URL"], iss["name"]),
                      json=mine, timeout=10)
    assert r.status_code == 200, describe(r)
    succeeded(http, stack, org, sign_in(http, stack, org), email=mine["email"])


def test_another_org_naming_the_same_issuer_reaches_none_of_its_users(http, stack, org):
    """Org B's admins configure org A's IdP issuer (an issuer is only a name
    they type; here even the same provider) and make it speak for A's user's
    subject with an address of B's own domain: B's sign-in makes a new
    account of B's domain, never A's user (identities are per org)."""
    evil = verified_agency(http, stack, "evl")
    name = oh.unique("neg")
    redirect_b = "%s/api/v1/auth/sso/%s/oidc/callback" % (stack["PUBLIC_ORIGIN"], evil["slug"])
    iss = issuer(http, stack, org, extra_uris=(redirect_b,),
                 user=user_of(name, org["domain"]))
    tok = succeeded(http, stack, org, sign_in(http, stack, org))
    victim = http.get("/api/v1/me", headers=bearer(tok)).json()["user"]
    put_sso(http, evil, iss)
    r = requests.post("%s/_control/issuers/%s/user" % (stack["BADOP_URL"], iss["name"]),
                      json=user_of(name, evil["domain"]), timeout=10)    # same sub
    assert r.status_code == 200, describe(r)
    tok = succeeded(http, stack, evil, sign_in(http, stack, evil))
    me = http.get("/api/v1/me", headers=bearer(tok)).json()["user"]
    assert me["id"] != victim["id"], "org B signed in org A's user: %r" % me
    assert me["email"].endswith("@" + evil["domain"]), me
    r = http.get("/api/v1/orgs/%s" % org["slug"], headers=bearer(tok))
    assert r.status_code == 404, describe(r)


def test_microsoft_token_of_another_tenant_refused(http, stack):
    oh.need(stack, "OIDC_MICROSOFT_URL")
    su = superuser(http, stack)
    url, cookie = oh.start(http, "/api/v1/auth/oauth/microsoft/start")
    seen(cookie, oh.query_of(url).get("state"))
    loc = oh.op_login(url, "trudy@contoso.test", "trudy-pw")
    seen(oh.query_of(loc).get("code"))
    r = oh.callback(http, stack, loc, cookie)
    assert r.headers.get("Location") == "%s/login?error=signin-failed" % stack["PUBLIC_ORIGIN"], \
        describe(r)
    no_session(r)
    entries = by_request(platform_audit(http, su["token"], action="auth.signin_failed"), r)
    assert len(entries) == 1, entries
    assert entries[0]["after"] == {"provider": "microsoft", "code": "signin-failed",
                                   "reason": "tid"}, entries[0]


# ------------------------------------------------------------------ logs

def test_no_secret_in_the_error_log(http, stack, org):
    # a flow of this test's own, refused and then fine, so that there is
    # always something to look for
    r = refused_then_fine(http, stack, org, "bad-signature", "signature")
    assert len(SEEN) >= 6, len(SEEN)
    # the app's lines of that last sign-in have reached the file
    error_log_line(stack, r.headers["X-Request-Id"], "signed in through")
    text = Path(stack["ERROR_LOG"]).read_text(errors="replace")
    leaked = [v[:12] + "..." for v in SEEN if v in text]
    assert not leaked, "in %s: %s" % (stack["ERROR_LOG"], leaked)
