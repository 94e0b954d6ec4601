"""The TOTP second factor (docs/api.md "Second factor"): enrolment confirmed
by a first code, the login challenge in place of tokens, a used time step
never accepted twice, one step of skew either way and no more, recovery
codes spent once, the challenge's expiry and its five wrong codes, disabling
with the password and a code, the org policy `require_mfa` (members' org
routes refused without a second factor or the org's SSO, API keys
unaffected), and a Google sign-in of an account with a second factor.

Codes are computed here from the secret the enrolment answered (RFC 6238
with hmac/hashlib/struct). A test never waits for the clock to say
anything: it only waits, when a 30-second step is about to end, for the
next one to begin, so that "now" cannot move under a sequence of codes.

Throttle budget: a wrong code counts as a failed login of the account from
the client's network. Every login and second step here comes from a network
of its own (X-Forwarded-For, trusted from the loopback proxy), so these
tests take nothing from 127.0.0.1's budget that test_auth.py counts on.
"""

import base64
import hashlib
import hmac
import json
import re
import secrets
import struct
import time
import urllib.parse

import pytest

import authhelp
import oidchelp as oh
from apxtest import assert_problem, describe, media_type
from authhelp import bearer, login_raw, new_user, remember, set_cookies
from mailhelp import wait_mail
from orghelp import (add_member, cookies_off, cookies_restore, create_api_key, create_org,
                     new_member, org_url, patch_org_settings, psql)

MFA = "/api/v1/me/mfa"
CONFIRM = MFA + "/confirm"
RECOVERY = MFA + "/recovery-codes"
SECOND = "/api/v1/auth/mfa"
ME = "/api/v1/me"
STEP = 30
CODE_RE = re.compile(r"[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}")


@pytest.fixture(scope="module", autouse=True)
def no_cookie_jar(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


# ------------------------------------------------------------------ TOTP, here

def totp(secret, step):
    """RFC 6238 (SHA-1, 6 digits) of the base32 SECRET for time step STEP."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def step_now(margin=5):
    """The current step, once at least MARGIN seconds of it are left."""
    left = STEP - time.time() % STEP
    if left < margin:
        time.sleep(left + 0.2)
    return int(time.time()) // STEP


def wrong_code(secret, cur):
    """A well-formed code that none of the steps cur-1..cur+1 has."""
    near = {totp(secret, cur + d) for d in (-1, 0, 1)}
    for k in range(10, 100):
        c = totp(secret, cur + k)
        if c not in near:
            return c
    raise AssertionError("no wrong code found")


def net():
    """Headers that make a request come from a network of its own."""
    return {"X-Forwarded-For": "2001:db8:%x:%x::7" % (secrets.randbits(16),
                                                      secrets.randbits(16))}


def with_net(headers, extra=None):
    h = dict(headers)
    h.update(extra or {})
    return h


# ------------------------------------------------------------------ steps

def token_of(http, user, headers):
    r = login_raw(http, user["email"], user["password"], headers)
    assert r.status_code == 200 and "access_token" in r.json(), describe(r)
    return r.json()["access_token"]


def start(http, user, token, headers):
    r = http.post(MFA, json={"password": user["password"]}, headers=with_net(headers,
                                                                             bearer(token)))
    assert r.status_code == 200, describe(r)
    body = r.json()
    remember(body["secret"])
    return body


def enrol(http, user, token, headers, skew=0):
    """Set up a second factor (confirmed with the code of step now + SKEW):
    (secret, recovery codes, the confirming step)."""
    secret = start(http, user, token, headers)["secret"]
    cur = step_now()
    r = http.post(CONFIRM, json={"code": totp(secret, cur + skew)},
                  headers=with_net(headers, bearer(token)))
    assert r.status_code == 200, describe(r)
    codes = r.json()["recovery_codes"]
    remember(*codes)
    return secret, codes, cur + skew


def challenge_of(http, user, headers):
    """A login of an account with a second factor: its challenge."""
    r = login_raw(http, user["email"], user["password"], headers)
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert body.get("mfa_required") is True, describe(r)
    assert set(body) == {"mfa_required", "challenge", "expires_in"}, body
    assert body["expires_in"] == 300, body
    assert not set_cookie_names(r), "a challenge answer set cookies%s" % describe(r)
    remember(body["challenge"])
    return body["challenge"]


def second(http, challenge, headers, code=None, recovery=None):
    body = {"challenge": challenge}
    if code is not None:
        body["code"] = code
    if recovery is not None:
        body["recovery_code"] = recovery
    r = http.post(SECOND, json=body, headers=headers)
    if r.status_code == 200 and media_type(r) == "application/json":
        remember(r.json().get("access_token"), r.json().get("refresh_token"))
    return r


def set_cookie_names(r):
    return set(set_cookies(r))


def mfa_state(http, token):
    r = http.get(MFA, headers=bearer(token))
    assert r.status_code == 200, describe(r)
    return r.json()


def sql_one(stack, sql):
    return psql(stack, sql).stdout.strip()


def audit_count(stack, action, uid):
    return int(sql_one(stack, "SELECT count(*) FROM audit_log WHERE log = 'platform' AND "
                       "action = '%s' AND target = 'user:%d'" % (action, int(uid))))


# ------------------------------------------------------------------ the tests

def test_enrol_confirm_and_sign_in(http, stack):
    h = net()
    user = new_user(http)
    tok = token_of(http, user, h)
    assert mfa_state(http, tok) == {"enabled": False, "confirmed_at": None,
                                    "recovery_codes_left": 0}

    # the password is needed
    r = http.post(MFA, json={}, headers=with_net(h, bearer(tok)))
    assert_problem(r, 422, "invalid-field", field="password")
    r = http.post(MFA, json={"password": user["password"] + "x"},
                  headers=with_net(h, bearer(tok)))
    assert_problem(r, 422, "invalid-field", field="password")

    # a key and its URI, shown once; a second start replaces the first
    first = start(http, user, tok, h)
    again = start(http, user, tok, h)
    for b in (first, again):
        assert set(b) == {"secret", "otpauth_uri"}, b
        assert re.fullmatch(r"[A-Z2-7]{32}", b["secret"]), b
        assert len(base64.b32decode(b["secret"])) == 20
        u = urllib.parse.urlsplit(b["otpauth_uri"])
        assert (u.scheme, u.netloc) == ("otpauth", "totp"), b
        issuer, _, account = urllib.parse.unquote(u.path[1:]).partition(":")
        assert issuer and account == user["email"], b
        q = dict(urllib.parse.parse_qsl(u.query))
        assert q == {"secret": b["secret"], "issuer": issuer, "algorithm": "SHA1",
                     "digits": "6", "period": "30"}, b
    assert first["secret"] != again["secret"]
    assert mfa_state(http, tok)["enabled"] is False

    # confirmed by a code of the current key only
    cur = step_now()
    r = http.post(CONFIRM, json={"code": totp(first["secret"], cur)},
                  headers=with_net(h, bearer(tok)))
    assert_problem(r, 422, "invalid-code", field="code")
    for bad in ({}, {"code": 123456}, {"code": ""}):
        r = http.post(CONFIRM, json=bad, headers=with_net(h, bearer(tok)))
        assert_problem(r, 422, "invalid-field", field="code")
    r = http.post(CONFIRM, json={"code": totp(again["secret"], cur)},
                  headers=with_net(h, bearer(tok)))
    assert r.status_code == 200, describe(r)
    body = r.json()
    codes = body["recovery_codes"]
    remember(*codes)
    assert body["enabled"] is True
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    assert all(CODE_RE.fullmatch(c) for c in codes), codes
    state = mfa_state(http, tok)
    assert state["enabled"] is True and state["recovery_codes_left"] == 10, state
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", state["confirmed_at"]), state
    assert audit_count(stack, "mfa.enabled", user["id"]) == 1

    # once confirmed: no new start, no second confirmation
    r = http.post(MFA, json={"password": user["password"]}, headers=with_net(h, bearer(tok)))
    assert_problem(r, 409, "mfa-enabled")
    r = http.post(CONFIRM, json={"code": totp(again["secret"], cur + 1)},
                  headers=with_net(h, bearer(tok)))
    assert_problem(r, 409, "mfa-enabled")

    # the password alone gives a challenge, not tokens; the code gives the session
    h2 = net()
    ch = challenge_of(http, user, h2)
    r = second(http, ch, h2, code=totp(again["secret"], step_now() + 1))
    assert r.status_code == 200, describe(r)
    toks = r.json()
    assert {"access_token", "refresh_token", "csrf_token", "user"} <= set(toks), toks
    assert toks["user"]["id"] == user["id"]
    assert {authhelp.COOKIE_ACCESS, authhelp.COOKIE_REFRESH, authhelp.COOKIE_CSRF} <= \
        set_cookie_names(r), describe(r)
    assert http.get(ME, headers=bearer(toks["access_token"])).status_code == 200
    # the session remembers how it was signed in
    sid = authhelp.jwt_parts(toks["access_token"])[1]["sid"]
    assert sql_one(stack, "SELECT amr FROM sessions WHERE id = %d" % int(sid)) == "pwd+otp"
    # and it refreshes like any other
    rr = authhelp.refresh_raw(http, refresh_token=toks["refresh_token"])
    assert rr.status_code == 200, describe(rr)

    # the challenge is spent
    r = second(http, ch, h2, code=totp(again["secret"], step_now()))
    assert_problem(r, 401, "invalid-challenge")


def test_replayed_step_and_skew(http, stack):
    h = net()
    user = new_user(http)
    tok = token_of(http, user, h)
    secret = start(http, user, tok, h)["secret"]
    h1 = net()
    # what follows takes a second or two: all of it within one step
    cur = step_now(margin=20)
    # one step behind is accepted (the phone's clock is slow)...
    r = http.post(CONFIRM, json={"code": totp(secret, cur - 1)},
                  headers=with_net(h, bearer(tok)))
    assert r.status_code == 200, describe(r)
    rcodes = r.json()["recovery_codes"]
    remember(*rcodes)
    spent = cur - 1
    assert int(sql_one(stack, "SELECT last_step FROM user_mfa WHERE user_id = %d"
                       % user["id"])) == spent
    ch = challenge_of(http, user, h1)
    # ...and at sign-in: the step spent by the confirmation never again
    r = second(http, ch, h1, code=totp(secret, spent))
    assert_problem(r, 401, "invalid-code")
    # two steps either way: refused
    r = second(http, ch, h1, code=totp(secret, cur + 2))
    assert_problem(r, 401, "invalid-code")
    r = second(http, ch, h1, code=totp(secret, cur - 2))
    assert_problem(r, 401, "invalid-code")
    # one step ahead (a fast clock): accepted
    r = second(http, ch, h1, code=totp(secret, cur + 1))
    assert r.status_code == 200, describe(r)

    # the same code within its window: refused, and so is any earlier step
    h2 = net()
    ch2 = challenge_of(http, user, h2)
    r = second(http, ch2, h2, code=totp(secret, cur + 1))
    assert_problem(r, 401, "invalid-code")
    r = second(http, ch2, h2, code=totp(secret, cur))
    assert_problem(r, 401, "invalid-code")
    assert int(sql_one(stack, "SELECT attempts FROM mfa_challenges WHERE token_hash = "
                       "sha256(convert_to('%s', 'UTF8'))" % ch2)) == 2
    assert audit_count(stack, "mfa.challenge_failed", user["id"]) == 5
    # the challenge lives on (two wrong codes of five)
    r = second(http, ch2, h2, recovery=rcodes[0])
    assert r.status_code == 200, describe(r)


def test_wrong_codes_kill_the_challenge_and_throttle(http, stack):
    h = net()
    user = new_user(http)
    tok = token_of(http, user, h)
    secret, _, _ = enrol(http, user, tok, h)

    ch = challenge_of(http, user, h)
    cur = step_now()
    for _ in range(5):
        r = second(http, ch, h, code=wrong_code(secret, cur))
        assert_problem(r, 401, "invalid-code", field="code")
        assert "Bearer" in r.headers.get("WWW-Authenticate", ""), describe(r)
        assert not set_cookie_names(r), describe(r)
    # dead after five wrong codes, even for the right one
    r = second(http, ch, h, code=totp(secret, step_now() + 1))
    assert_problem(r, 401, "invalid-challenge", field="challenge")
    # the wrong codes counted as failed logins of the account from there
    r = login_raw(http, user["email"], user["password"], h)
    assert_problem(r, 429, "too-many-attempts")
    assert int(r.headers["Retry-After"]) > 0, describe(r)
    # not from elsewhere
    h2 = net()
    ch2 = challenge_of(http, user, h2)
    r = second(http, ch2, h2, code=totp(secret, step_now() + 1))
    assert r.status_code == 200, describe(r)

    # what is no challenge
    for body, field in (({"challenge": "x" * 43, "code": "123456"}, "challenge"),
                        ({"challenge": "", "code": "123456"}, "challenge"),
                        ({"challenge": ch2}, "code"),
                        ({"challenge": ch2, "code": "123456", "recovery_code": "abcd"},
                         "code")):
        r = http.post(SECOND, json=body, headers=h2)
        if field == "challenge" and body["challenge"]:
            assert_problem(r, 401, "invalid-challenge")
        else:
            assert_problem(r, 422, "invalid-field", field=field)


def test_challenge_expires(http, stack):
    h = net()
    user = new_user(http)
    tok = token_of(http, user, h)
    secret, _, _ = enrol(http, user, tok, h)
    ch = challenge_of(http, user, h)
    exp = float(sql_one(stack, "SELECT extract(epoch FROM expires_at - created_at) FROM "
                        "mfa_challenges WHERE token_hash = sha256(convert_to('%s', 'UTF8'))"
                        % ch))
    assert exp == 300, exp
    psql(stack, "UPDATE mfa_challenges SET expires_at = now() - interval '1 second' "
         "WHERE token_hash = sha256(convert_to('%s', 'UTF8'))" % ch)
    r = second(http, ch, h, code=totp(secret, step_now() + 1))
    assert_problem(r, 401, "invalid-challenge")
    # nothing was spent by it: a new challenge takes the same code
    ch2 = challenge_of(http, user, h)
    r = second(http, ch2, h, code=totp(secret, step_now() + 1))
    assert r.status_code == 200, describe(r)


def test_recovery_codes(http, stack):
    h = net()
    user = new_user(http)
    tok = token_of(http, user, h)
    secret, codes, _ = enrol(http, user, tok, h)

    # a recovery code signs in once, however it is typed
    ch = challenge_of(http, user, h)
    typed = " " + codes[0].upper().replace("-", " ") + " "
    r = second(http, ch, h, recovery=typed)
    assert r.status_code == 200, describe(r)
    tok2 = r.json()["access_token"]
    assert mfa_state(http, tok2)["recovery_codes_left"] == 9
    assert audit_count(stack, "mfa.recovery_code_used", user["id"]) == 1
    ch = challenge_of(http, user, h)
    r = second(http, ch, h, recovery=codes[0])
    assert_problem(r, 401, "invalid-code", field="recovery_code")
    # another account's code, or no code at all, is no better
    r = second(http, ch, h, recovery="aaaa-aaaa-aaaa-aaaa")
    assert_problem(r, 401, "invalid-code")
    r = second(http, ch, h, code=codes[1])      # either field takes either kind
    assert r.status_code == 200, describe(r)
    tok3 = r.json()["access_token"]
    assert mfa_state(http, tok3)["recovery_codes_left"] == 8

    # new codes: the old ones are void
    r = http.post(RECOVERY, json={"code": wrong_code(secret, step_now())},
                  headers=with_net(h, bearer(tok3)))
    assert_problem(r, 422, "invalid-code", field="code")
    r = http.post(RECOVERY, json={"code": totp(secret, step_now() + 1)},
                  headers=with_net(h, bearer(tok3)))
    assert r.status_code == 200, describe(r)
    fresh = r.json()["recovery_codes"]
    remember(*fresh)
    assert len(set(fresh)) == 10 and not set(fresh) & set(codes), fresh
    assert mfa_state(http, tok3)["recovery_codes_left"] == 10
    assert audit_count(stack, "mfa.recovery_codes_regenerated", user["id"]) == 1
    h2 = net()
    ch = challenge_of(http, user, h2)
    r = second(http, ch, h2, recovery=codes[2])
    assert_problem(r, 401, "invalid-code")
    r = second(http, ch, h2, recovery=fresh[0])
    assert r.status_code == 200, describe(r)
    tok4 = r.json()["access_token"]

    # disabling takes a recovery code too
    r = http.request("DELETE", MFA, json={"password": user["password"], "code": fresh[1]},
                     headers=with_net(h2, bearer(tok4)))
    assert r.status_code == 204, describe(r)
    assert mfa_state(http, tok4)["enabled"] is False
    assert sql_one(stack, "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = %d"
                   % user["id"]) == "0"


def test_disable_needs_password_and_code(http, stack):
    h = net()
    user = new_user(http)
    tok = token_of(http, user, h)
    r = http.request("DELETE", MFA, json={"password": user["password"], "code": "123456"},
                     headers=with_net(h, bearer(tok)))
    assert_problem(r, 409, "mfa-not-enabled")
    secret, _, _ = enrol(http, user, tok, h)
    hd = with_net(h, bearer(tok))

    for body, status, slug, field in (
            ({"code": totp(secret, step_now() + 1)}, 422, "invalid-field", "password"),
            ({"password": user["password"]}, 422, "invalid-field", "code"),
            ({"password": user["password"] + "x", "code": totp(secret, step_now() + 1)},
             422, "invalid-field", "password"),
            ({"password": user["password"], "code": wrong_code(secret, step_now())},
             422, "invalid-code", "code")):
        r = http.request("DELETE", MFA, json=body, headers=hd)
        assert_problem(r, status, slug, field=field)
        assert mfa_state(http, tok)["enabled"] is True
    r = http.request("DELETE", MFA, json={"password": user["password"],
                                          "code": totp(secret, step_now() + 1)}, headers=hd)
    assert r.status_code == 204 and not r.content, describe(r)
    assert mfa_state(http, tok) == {"enabled": False, "confirmed_at": None,
                                    "recovery_codes_left": 0}
    assert audit_count(stack, "mfa.disabled", user["id"]) == 1
    # the password alone signs in again
    assert token_of(http, user, net())
    # the owner was told of both, by mail
    wait_mail(stack, user["email"], "second factor was added")
    wait_mail(stack, user["email"], "second factor of your")


def test_org_policy(http, stack):
    h = net()
    owner = new_user(http)
    otok = token_of(http, owner, h)
    org = create_org(http, otok, plan="growth")
    slug = org["slug"]
    assert http.get(org_url(slug, "settings"), headers=bearer(otok)).json()[
        "settings"]["require_mfa"] == 0

    # requiring it takes a session with a second factor
    r = patch_org_settings(http, otok, slug, require_mfa=1)
    assert_problem(r, 403, "mfa-required", field="require_mfa")
    r = patch_org_settings(http, otok, slug, require_mfa=2)
    assert_problem(r, 422, "invalid-field", field="require_mfa")
    secret, _, _ = enrol(http, owner, otok, h)
    h2 = net()
    r = second(http, challenge_of(http, owner, h2), h2, code=totp(secret, step_now() + 1))
    assert r.status_code == 200, describe(r)
    strong = r.json()["access_token"]
    member = add_member(http, strong, slug, "admin")
    _, key = create_api_key(http, strong, slug, role="viewer")
    r = patch_org_settings(http, strong, slug, require_mfa=1)
    assert r.status_code == 200, describe(r)
    assert r.json()["settings"]["require_mfa"] == 1

    # a member without a second factor: the org's routes refused...
    mtok = member["token"]
    for path in (org_url(slug), org_url(slug, "workspaces"), org_url(slug, "members")):
        r = http.get(path, headers=bearer(mtok))
        assert_problem(r, 403, "mfa-required")
    r = http.post(org_url(slug, "workspaces"), json={"name": "nope"}, headers=bearer(mtok))
    assert_problem(r, 403, "mfa-required")
    # ...the owner's session of before the second factor too
    assert_problem(http.get(org_url(slug), headers=bearer(otok)), 403, "mfa-required")
    # ...but not the user routes, nor other orgs, nor anything to a stranger
    assert http.get("/api/v1/orgs", headers=bearer(mtok)).status_code == 200
    assert mfa_state(http, mtok)["enabled"] is False
    outsider = new_member(http)
    r = http.get(org_url(slug), headers=bearer(outsider["token"]))
    assert_problem(r, 404, "not-found")
    # API keys are not people
    r = http.get(org_url(slug), headers=bearer(key))
    assert r.status_code == 200, describe(r)
    # the owner with a second factor
    assert http.get(org_url(slug), headers=bearer(strong)).status_code == 200

    # the member sets one up: the old session stays refused, a new one is in
    hm = net()
    msecret, _, _ = enrol(http, member, mtok, hm)
    assert_problem(http.get(org_url(slug), headers=bearer(mtok)), 403, "mfa-required")
    r = second(http, challenge_of(http, member, hm), hm, code=totp(msecret, step_now() + 1))
    assert r.status_code == 200, describe(r)
    mlogin = r.json()
    r = http.get(org_url(slug), headers=bearer(mlogin["access_token"]))
    assert r.status_code == 200, describe(r)
    # a refreshed session keeps how it was signed in
    rr = authhelp.refresh_raw(http, refresh_token=mlogin["refresh_token"])
    assert rr.status_code == 200, describe(rr)
    r = http.get(org_url(slug), headers=bearer(rr.json()["access_token"]))
    assert r.status_code == 200, describe(r)

    # lifting the policy lets everyone in again
    r = patch_org_settings(http, strong, slug, require_mfa=0)
    assert r.status_code == 200, describe(r)
    assert http.get(org_url(slug), headers=bearer(otok)).status_code == 200


def test_google_sign_in_asks_for_the_second_factor(http, stack):
    oh.need(stack, "OIDC_GOOGLE_URL", "OIDC_CONFIG", "PUBLIC_ORIGIN")
    with open(stack["OIDC_CONFIG"]) as f:
        conf = json.load(f)
    email = "alice@gmail.test"
    pw = [u["password"] for u in conf["google"]["users"] if u.get("email") == email][0]

    def google():
        url, cookie = oh.start(http, "/api/v1/auth/oauth/google/start")
        remember(cookie)
        loc = oh.op_login(url, email, pw)
        return oh.callback(http, stack, loc, cookie)

    r = google()
    tok = oh.signed_in(r)
    uid = http.get(ME, headers=bearer(tok)).json()["user"]["id"]
    try:
        # a provider's account has no password: the fresh sign-in stands for it
        r = http.post(MFA, json={}, headers=bearer(tok))
        assert r.status_code == 200, describe(r)
        secret = r.json()["secret"]
        remember(secret)
        r = http.post(CONFIRM, json={"code": totp(secret, step_now())}, headers=bearer(tok))
        assert r.status_code == 200, describe(r)
        remember(*r.json()["recovery_codes"])

        # the provider's answer now leads to the login page with a challenge
        r = google()
        loc = r.headers["Location"]
        assert loc.startswith(stack["PUBLIC_ORIGIN"] + "/login?mfa="), loc
        assert oh.ACCESS not in oh.set_cookies(r), describe(r)
        ch = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)["mfa"][0]
        remember(ch)
        r = second(http, ch, {}, code=totp(secret, step_now() + 1))
        assert r.status_code == 200, describe(r)
        sid = authhelp.jwt_parts(r.json()["access_token"])[1]["sid"]
        assert sql_one(stack, "SELECT amr FROM sessions WHERE id = %d" % int(sid)) == \
            "oidc+otp"
    finally:
        # alice is the stand-in's fixed account that other tests sign in as
        psql(stack, "DELETE FROM user_mfa WHERE user_id = %d; DELETE FROM "
             "mfa_recovery_codes WHERE user_id = %d" % (uid, uid))
