"""Accounts, login, tokens, sessions: /api/v1/auth/*, /api/v1/me*, /.well-known/jwks.json.

Failed-login budget: through the web server every request comes from
127.0.0.1, and the login throttle refuses an address (for every account)
after 30 failed logins in 15 minutes.  The tests here that go through the
web server make exactly 11 failed logins per run (5 in the throttle test, 6
in the enumeration/timing test), so two runs against one stack within 15
minutes are fine and a third is not.  The standalone tests (FastCGI straight
to the app, same database) use fresh client addresses of their own and cost
127.0.0.1 nothing.  No other test here may fail a login.
"""

import json
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import pytest

import apxtest
from apxtest import assert_no_leak, assert_problem, describe, media_type
from authhelp import (COOKIE_ACCESS, COOKIE_CSRF, COOKIE_REFRESH, EVIL, JWKS, LOGIN, LOGOUT, ME,
                      ORIGIN, REFRESH, REGISTER, SESSIONS, USED_SECRETS, b64u, b64u_decode,
                      b64u_json, bearer, cookie_header, es256_token, es256_verify, hs256_token,
                      jwk_to_pem, jwt_make, jwt_parts, log_files, login, login_cookies, login_raw,
                      me, new_p256_key, new_user, raw_sig_to_der, refresh_raw, register,
                      registered_signing_key, remember, set_cookie_lines, set_cookies, strong_password,
                      unique_email, age_refresh_token, verify_by_sql, stack_sql)


def stack_sql_count(sql):
    return int(stack_sql(sql)[0])

FAILED_LOGIN_BUDGET = 11   # failed logins from 127.0.0.1 per run: see the module docstring


class _NoCookies(DefaultCookiePolicy):
    """The shared session must never keep (or replay) a cookie: every test
    sends exactly the cookies it means to, in a Cookie: header."""

    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False


@pytest.fixture(scope="module", autouse=True)
def no_cookie_jar(http):
    jar = http.session.cookies
    old = jar._policy  # noqa: SLF001 - http.cookiejar has no getter
    jar.clear()
    jar.set_policy(_NoCookies())
    yield
    jar.clear()
    jar.set_policy(old)


@pytest.fixture(scope="module")
def jwks(http):
    r = http.get(JWKS)
    assert r.status_code == 200, describe(r)
    keys = r.json().get("keys")
    assert keys, "JWKS has no key (did the stack run `accupredix-admin jwt rotate`?)%s" % describe(r)
    return r.json()


def jwk_for(jwks_doc, kid):
    for k in jwks_doc["keys"]:
        if k.get("kid") == kid:
            return k
    raise AssertionError("kid %r not in the JWKS %r" % (kid, [k.get("kid") for k in jwks_doc["keys"]]))


def settings(http, internal):
    r = http.get("/internal/settings", headers=internal)
    assert r.status_code == 200, describe(r)
    return r.json()["settings"]


def patch_settings(http, internal, body):
    return http.patch("/internal/settings", headers=dict(internal, **{"Content-Type": "application/json"}),
                      data=json.dumps(body))


def assert_unauthenticated(r, slug="unauthenticated"):
    """401 problem with a Bearer challenge (RFC 6750 / RFC 7235)."""
    body = assert_problem(r, 401, slug=slug)
    www = r.headers.get("WWW-Authenticate", "")
    assert www.split(" ", 1)[0].lower() == "bearer", \
        "401 without a WWW-Authenticate: Bearer challenge%s" % describe(r)
    return body


def assert_token_answer(r, user=None, lifetime=None):
    """A login/refresh answer: tokens, user, no-store."""
    ctx = describe(r)
    assert r.status_code == 200, ctx
    assert media_type(r) == "application/json", ctx
    body = r.json()
    for k, t in (("access_token", str), ("refresh_token", str), ("csrf_token", str),
                 ("expires_in", int), ("user", dict)):
        assert isinstance(body.get(k), t) and body[k] != "", "%s missing or not %s%s" % (k, t.__name__, ctx)
    assert body["token_type"] == "Bearer", ctx
    assert not isinstance(body["expires_in"], bool), ctx
    if lifetime is not None:
        assert body["expires_in"] == lifetime, "expires_in != access_token_lifetime %d%s" % (lifetime, ctx)
    u = body["user"]
    assert {"id", "email", "name"} <= set(u), ctx
    if user is not None:
        assert (u["id"], u["email"], u["name"]) == (user["id"], user["email"], user["name"]), ctx
    assert not any("password" in k or "hash" in k for k in u), "user object leaks %r%s" % (list(u), ctx)
    # RFC 6749 5.1: answers carrying tokens must not be cached
    assert "no-store" in r.headers.get("Cache-Control", "").lower(), \
        "token answer without Cache-Control: no-store%s" % ctx
    return body


def claims(token):
    return jwt_parts(token)[1]


# ==================================================================== register

@pytest.mark.smoke
def test_register_creates_account(http):
    email, pw, name = unique_email(), strong_password(), "Ada Lovelace"
    r = register(http, email, pw, name)
    assert media_type(r) == "application/json", describe(r)
    body = r.json()
    # the same answer for a new and a taken address: no account in it
    assert set(body) == {"status", "detail"} and body["status"] == "pending", describe(r)
    assert pw not in r.text and email not in r.text, describe(r)
    # the account exists, unverified, and can sign in
    b = login(http, {"email": email, "password": pw})
    assert b["user"]["email"] == email and b["user"]["name"] == name, b


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x"])
def test_register_wrong_content_type_415(http, stack, ctype):
    pw = strong_password()
    remember(pw)
    data = json.dumps({"email": unique_email(), "password": pw, "name": "N"})
    r = http.post(REGISTER, data=data, headers={"Content-Type": ctype})
    assert_problem(r, 415, stack=stack)


def test_register_without_content_type_415(http, stack):
    pw = strong_password()
    remember(pw)
    data = json.dumps({"email": unique_email(), "password": pw, "name": "N"}).encode()
    r = http.post(REGISTER, data=data)
    assert "Content-Type" not in r.request.headers, describe(r)
    assert_problem(r, 415, stack=stack)


@pytest.mark.parametrize("raw", [b'{"email": ', b"{oops}", b'{"email":"a@b.test",}', b"",
                                 b'["email"]', b"\xff\xfe{}"],
                         ids=["truncated", "bare-word", "trailing-comma", "empty", "array", "bad-utf8"])
def test_register_malformed_json_400(http, stack, raw):
    r = http.post(REGISTER, data=raw, headers={"Content-Type": "application/json"})
    if raw == b'["email"]':
        # valid JSON, but not an object
        assert r.status_code in (400, 422), describe(r)
        assert_problem(r, r.status_code, stack=stack)
    else:
        assert_problem(r, 400, slug="malformed-json", stack=stack)


@pytest.mark.parametrize("field", ["email", "password", "name"])
@pytest.mark.parametrize("bad", ["missing", 123, None, ["x"], {"x": "y"}, True],
                         ids=["missing", "number", "null", "array", "object", "bool"])
def test_register_missing_or_non_string_field_422(http, stack, field, bad):
    body = {"email": unique_email(), "password": strong_password(), "name": "Test User"}
    remember(body["password"])
    if bad == "missing":
        del body[field]
    else:
        body[field] = bad
    r = http.post(REGISTER, json=body)
    assert_problem(r, 422, field=field, stack=stack)


@pytest.mark.parametrize("email", ["not-an-email", "@example.test", "user@", "a b@example.test",
                                   "two@@example.test", "x@y@example.test"])
def test_register_bad_email_422(http, stack, email):
    r = register(http, email, strong_password(), "Test User", expect=None)
    assert_problem(r, 422, field="email", stack=stack)


@pytest.mark.parametrize("nbytes,ok", [(11, False), (12, True), (256, True), (257, False)])
def test_register_password_length(http, stack, nbytes, ok):
    pw = strong_password(nbytes)
    assert len(pw.encode()) == nbytes
    r = register(http, unique_email(), pw, "Test User", expect=None)
    if ok:
        assert r.status_code == 202, "a %d-byte password was refused%s" % (nbytes, describe(r))
    else:
        assert_problem(r, 422, slug="weak-password", field="password", stack=stack)
        assert pw not in r.text, "the answer echoes the password%s" % describe(r)


def test_register_password_length_counts_bytes(http, stack):
    four = "日本語字"            # 4 characters, 12 bytes
    assert len(four) == 4 and len(four.encode()) == 12
    r = register(http, unique_email(), four, "Test User", expect=None)
    assert r.status_code == 202, "12-byte multibyte password refused%s" % describe(r)
    three = "日本語"             # 3 characters, 9 bytes
    r = register(http, unique_email(), three, "Test User", expect=None)
    assert_problem(r, 422, slug="weak-password", field="password", stack=stack)


def test_register_name_counts_characters(http, stack):
    """docs/openapi.json: name is at most 200 characters (not bytes), no
    control characters (found by the OpenAPI contract run: the handler
    counted bytes, refusing 200 characters of non-ASCII)."""
    r = register(http, unique_email(), strong_password(), "é" * 200, expect=None)
    assert r.status_code == 202, "200 two-byte characters refused%s" % describe(r)
    r = register(http, unique_email(), strong_password(), "é" * 201, expect=None)
    assert_problem(r, 422, slug="invalid-field", field="name", stack=stack)
    r = register(http, unique_email(), strong_password(), "Bad\u0007Name", expect=None)
    assert_problem(r, 422, slug="invalid-field", field="name", stack=stack)


def _weak_cases():
    tag = uuid.uuid4().hex[:8]
    local = "ada.lovelace-" + tag
    return [
        ("common-stem", unique_email(), "password1234", "Test User"),
        ("repetitive", unique_email(), "aaaaaaaaaaaa", "Test User"),
        ("email-local-part", local + "@example.test", "Zq9!" + local.upper() + "#x7", "Test User"),
        ("name", unique_email(), "zz9" + "GRACEhopper" + tag + "!!", "Grace Hopper" + tag),
    ]


@pytest.mark.parametrize("case", _weak_cases(), ids=lambda c: c[0])
def test_register_weak_password_422(http, stack, case):
    _, email, pw, name = case
    r = register(http, email, pw, name, expect=None)
    assert_problem(r, 422, slug="weak-password", field="password", stack=stack)
    assert pw not in r.text, "the answer echoes the password%s" % describe(r)


def test_register_duplicate_email_case_insensitive(http, stack):
    tag = uuid.uuid4().hex
    first = register(http, "Dup-%s@Example.TEST" % tag, strong_password(), "First")
    for variant in ("dup-%s@example.test" % tag, "DUP-%s@EXAMPLE.TEST" % tag.upper()):
        r = register(http, variant, strong_password(), "Second", expect=None)
        # no enumeration: the answer of a new address
        assert r.status_code == 202 and r.json() == first.json(), describe(r)
    n = stack_sql_count("SELECT count(*) FROM users WHERE email_norm = 'dup-%s@example.test'" % tag)
    assert n == 1


def test_register_refused_creates_nothing(http, stack):
    email = unique_email()
    r = register(http, email, "short", "Test User", expect=None)
    assert_problem(r, 422, slug="weak-password", field="password")
    r = register(http, email, "password1234", "Test User", expect=None)
    assert_problem(r, 422, slug="weak-password", field="password")
    r = http.post(REGISTER, json={"email": email, "password": strong_password(), "name": 7})
    assert_problem(r, 422, field="name")
    pw = strong_password()
    r = register(http, email, pw, "Test User", expect=None)
    assert r.status_code == 202, "a refused registration left something behind%s" % describe(r)
    # and the account is the good one
    login(http, {"email": email, "password": pw})


# ==================================================================== login

@pytest.mark.smoke
def test_login_answer_and_cookies(http, internal):
    user = new_user(http)
    lifetime = settings(http, internal)["access_token_lifetime"]
    body = login(http, user)
    r = body["_resp"]
    assert_token_answer(r, user, lifetime)
    got = set_cookies(r)
    lines = set_cookie_lines(r)
    for name in (COOKIE_ACCESS, COOKIE_REFRESH, COOKIE_CSRF):
        assert name in got, "no Set-Cookie for %s: %r%s" % (name, lines, describe(r))
        c = got[name]
        a = c["attrs"]
        assert c["value"], "empty %s%s" % (name, describe(r))
        assert a.get("secure") is True, "%s lacks Secure: %r" % (name, c["line"])
        assert a.get("path") == "/", "%s Path is not /: %r" % (name, c["line"])
        assert "domain" not in a, "%s has a Domain: %r" % (name, c["line"])
        assert str(a.get("samesite", "")).lower() == "lax", "%s SameSite is not Lax: %r" % (name, c["line"])
        if name == COOKIE_CSRF:
            assert "httponly" not in a, "%s must be readable by the page (no HttpOnly): %r" % (name, c["line"])
        else:
            assert a.get("httponly") is True, "%s lacks HttpOnly: %r" % (name, c["line"])
    assert got[COOKIE_CSRF]["value"] == body["csrf_token"], \
        "csrf cookie %r != csrf_token %r" % (got[COOKIE_CSRF]["value"], body["csrf_token"])


def test_login_bad_requests_are_not_failed_logins(http, stack):
    # refused before any password check, so they cost no throttle budget
    data = json.dumps({"email": unique_email(), "password": strong_password()})
    assert_problem(http.post(LOGIN, data=data, headers={"Content-Type": "text/plain"}), 415, stack=stack)
    assert_problem(http.post(LOGIN, data=b'{"email": ', headers={"Content-Type": "application/json"}),
                   400, slug="malformed-json", stack=stack)
    assert_problem(http.post(LOGIN, json={"email": unique_email()}), 422, field="password", stack=stack)
    assert_problem(http.post(LOGIN, json={"password": strong_password()}), 422, field="email", stack=stack)
    assert_problem(http.post(LOGIN, json={"email": unique_email(), "password": 5}), 422,
                   field="password", stack=stack)


def test_login_unknown_email_and_wrong_password_look_the_same(http, stack):
    # 6 failed logins (3 + 3): part of FAILED_LOGIN_BUDGET
    user = new_user(http)
    unknown = unique_email("nobody")
    times = {"unknown": [], "wrong": []}
    answers = {"unknown": [], "wrong": []}
    for _ in range(3):
        for kind, email in (("unknown", unknown), ("wrong", user["email"])):
            pw = strong_password()
            t0 = time.perf_counter()
            r = login_raw(http, email, pw)
            times[kind].append(time.perf_counter() - t0)
            answers[kind].append(r)
            assert_unauthenticated(r, slug="invalid-credentials")
    shapes = {k: [json.dumps({kk: vv for kk, vv in r.json().items() if kk != "request_id"},
                             sort_keys=True) for r in v] for k, v in answers.items()}
    assert shapes["unknown"][0] == shapes["wrong"][0], \
        "unknown email and wrong password give different bodies:%s%s" % (
            describe(answers["unknown"][0]), describe(answers["wrong"][0]))
    assert len(set(shapes["unknown"] + shapes["wrong"])) == 1, shapes
    assert answers["unknown"][0].headers.get("WWW-Authenticate") == \
        answers["wrong"][0].headers.get("WWW-Authenticate")
    mu, mw = statistics.median(times["unknown"]), statistics.median(times["wrong"])
    diff = abs(mu - mw)
    ratio_ok = max(mu, mw) < 1.5 * min(mu, mw)
    assert ratio_ok or diff < 0.060, \
        ("timing tells an unknown email from a wrong password: median %.1f ms vs %.1f ms "
         "(unknown %r, wrong %r)" % (mu * 1000, mw * 1000,
                                     [round(t * 1000, 1) for t in times["unknown"]],
                                     [round(t * 1000, 1) for t in times["wrong"]]))


def test_login_throttle_per_account_and_address(http, stack):
    # 5 failed logins: part of FAILED_LOGIN_BUDGET
    user = new_user(http)
    other = new_user(http)
    for i in range(5):
        r = login_raw(http, user["email"], strong_password())
        assert_unauthenticated(r, slug="invalid-credentials")
    # the 6th attempt is refused even with the right password
    r = login_raw(http, user["email"], user["password"])
    assert_problem(r, 429, slug="too-many-attempts", stack=stack)
    ra = r.headers.get("Retry-After", "")
    assert re.fullmatch(r"[1-9][0-9]*", ra), "Retry-After %r is not a positive integer%s" % (ra, describe(r))
    assert int(ra) <= 15 * 60, "Retry-After %s beyond the 15-minute window%s" % (ra, describe(r))
    assert "access_token" not in r.text, describe(r)
    # the same address, another account: not locked out by someone else's failures
    login(http, other)
    # (and the victim's account is not locked for everybody: only this
    # (email, address) pair is refused, which a single-address suite cannot show)


# ------------------------------------------------------------ from other addresses
#
# The web servers always show 127.0.0.1; the app driven directly over FastCGI
# (standalone mode, same database) takes REMOTE_ADDR from the test, so these
# tests use fresh addresses of their own and cost the 127.0.0.1 budget nothing.

STANDALONE_LOGS = []


def fresh_addr():
    """A client address no earlier run used (10.x.y.z from a uuid)."""
    b = uuid.uuid4().bytes
    return "10.%d.%d.%d" % (b[0], b[1], max(1, b[2]) if b[2] < 255 else 254)


def sa_post(app, path, obj, addr):
    import fcgi_client
    return fcgi_client.request(app.address, "POST", path, body=json.dumps(obj),
                               content_type="application/json",
                               extra_params={"REMOTE_ADDR": addr})


def sa_login(app, email, password, addr):
    remember(password)
    r = sa_post(app, LOGIN, {"email": email, "password": password}, addr)
    if r.status == 200:
        body = r.json()
        remember(body.get("access_token"), body.get("refresh_token"))
    return r


def sa_problem(r, status, slug):
    assert r.status == status, r
    assert r.header("content-type", "").split(";")[0].strip() == "application/problem+json", r
    body = r.json()
    assert body.get("type", "").endswith("/" + slug), r
    return body


@pytest.fixture
def sa(standalone):
    def start(**kw):
        app = standalone(**kw)
        STANDALONE_LOGS.append(app.log_path)
        return app
    return start


@pytest.mark.standalone
def test_login_throttle_is_per_address_not_per_account(http, sa):
    # nobody can lock a user out from elsewhere: 5 failures for the account
    # from address A refuse A, not B
    app = sa(workers=1)
    user = new_user(http)
    a, b = fresh_addr(), fresh_addr()
    for _ in range(5):
        sa_problem(sa_login(app, user["email"], strong_password(), a), 401, "invalid-credentials")
    r = sa_login(app, user["email"], user["password"], a)
    sa_problem(r, 429, "too-many-attempts")
    assert re.fullmatch(r"[1-9][0-9]*", r.header("retry-after", "")), r
    r = sa_login(app, user["email"], user["password"], b)
    assert r.status == 200, "the account is locked for every address after failures from one: %r" % r
    # and through the web server (127.0.0.1) too
    login(http, user)


@pytest.mark.standalone
@pytest.mark.slow
def test_login_throttle_per_address_30(http, sa):
    # 30 failed logins from one address (one each for 30 unknown emails) refuse
    # that address for every account, even with the right password
    app = sa(workers=2)
    user = new_user(http)
    addr = fresh_addr()
    for i in range(30):
        r = sa_login(app, unique_email("nobody"), strong_password(), addr)
        sa_problem(r, 401, "invalid-credentials")
    r = sa_login(app, user["email"], user["password"], addr)
    sa_problem(r, 429, "too-many-attempts")
    ra = r.header("retry-after", "")
    assert re.fullmatch(r"[1-9][0-9]*", ra) and int(ra) <= 900, r
    # another address is not affected
    assert sa_login(app, user["email"], user["password"], fresh_addr()).status == 200


# ==================================================================== tokens

@pytest.mark.smoke
def test_jwks(http):
    r = http.get(JWKS)
    assert r.status_code == 200, describe(r)
    assert media_type(r) in ("application/json", "application/jwk-set+json"), describe(r)
    assert "public" in r.headers.get("Cache-Control", "").lower(), describe(r)
    doc = r.json()
    assert isinstance(doc.get("keys"), list) and doc["keys"], \
        "no signing key in the JWKS (stack should have run `accupredix-admin jwt rotate`)%s" % describe(r)
    kids = set()
    for k in doc["keys"]:
        assert k.get("kty") == "EC" and k.get("crv") == "P-256", k
        assert k.get("use") == "sig" and k.get("alg") == "ES256", k
        assert isinstance(k.get("kid"), str) and k["kid"], k
        assert len(b64u_decode(k["x"])) == 32 and len(b64u_decode(k["y"])) == 32, k
        kids.add(k["kid"])
    assert len(kids) == len(doc["keys"]), "duplicate kids %r" % doc["keys"]
    # no private member anywhere (d, or RSA/oct private parts)
    assert not re.search(r'"(d|p|q|dp|dq|qi|k)"\s*:', r.text), "private key material in the JWKS%s" % describe(r)


def test_access_token_shape(http, jwks):
    user = new_user(http)
    before = int(time.time())
    body = login(http, user)
    after = int(time.time())
    tok = body["access_token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", tok), tok
    header, payload, sig = jwt_parts(tok)
    assert set(header) == {"alg", "typ", "kid"}, header
    assert header["alg"] == "ES256" and header["typ"] == "at+jwt", header
    jwk = jwk_for(jwks, header["kid"])
    assert len(sig) == 64, "ES256 signature must be R||S (64 bytes), got %d bytes" % len(sig)
    assert es256_verify(jwk, tok), "the access token does not verify with its JWKS key"
    for k in ("iss", "aud", "sub", "sid", "iat", "nbf", "exp", "jti"):
        assert k in payload, "claim %s missing: %r" % (k, payload)
    assert payload["sub"] == str(user["id"]), payload
    for k in ("iat", "nbf", "exp"):
        assert isinstance(payload[k], int) and not isinstance(payload[k], bool), payload
    assert before - 5 <= payload["iat"] <= after + 5, (before, payload)
    assert payload["nbf"] <= payload["iat"] + 1, payload
    assert payload["exp"] - payload["iat"] == body["expires_in"], payload
    assert isinstance(payload["iss"], str) and payload["iss"], payload
    assert isinstance(payload["aud"], (str, list)) and payload["aud"], payload
    assert isinstance(payload["jti"], str) and payload["jti"], payload
    # a second login: another session, another jti
    p2 = claims(login(http, user)["access_token"])
    assert p2["jti"] != payload["jti"] and p2["sid"] != payload["sid"], (payload, p2)


@pytest.mark.smoke
def test_me_with_bearer(http):
    user = new_user(http)
    tok = login(http, user)["access_token"]
    r = me(http, tok)
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json", describe(r)
    u = r.json()["user"]
    assert (u.get("id"), u.get("email"), u.get("name"), u.get("is_superuser")) == \
        (user["id"], user["email"], user["name"], False), describe(r)
    assert not any("password" in k or "hash" in k for k in u), describe(r)
    assert "no-store" in r.headers.get("Cache-Control", "").lower() or \
        "private" in r.headers.get("Cache-Control", "").lower(), \
        "a personal answer that shared caches may keep%s" % describe(r)


@pytest.mark.smoke
def test_me_with_access_cookie(http):
    user = new_user(http)
    body = login(http, user)
    cookies = login_cookies(body)
    r = http.get(ME, headers={"Cookie": cookie_header({COOKIE_ACCESS: cookies[COOKIE_ACCESS]})})
    assert r.status_code == 200, describe(r)
    assert r.json()["user"]["id"] == user["id"], describe(r)


@pytest.mark.smoke
def test_me_without_credentials_401(http, stack):
    r = http.get(ME)
    assert_unauthenticated(r)
    assert_no_leak(r.text, stack)


@pytest.fixture(scope="module")
def victim(http, jwks):
    """A live session of one user, another user's id, and a foreign P-256 key."""
    user = new_user(http)
    other = new_user(http)
    body = login(http, user)
    tok = body["access_token"]
    assert me(http, tok).status_code == 200
    header, payload, _ = jwt_parts(tok)
    tmp = Path(tempfile.mkdtemp(prefix="apx-auth-"))
    foreign = new_p256_key(tmp)
    pub = subprocess.run(["openssl", "pkey", "-in", str(foreign), "-pubout", "-outform", "DER"],
                         capture_output=True, timeout=30).stdout
    point = pub[-65:]
    assert point[0] == 4
    foreign_jwk = {"kty": "EC", "crv": "P-256", "x": b64u(point[1:33]), "y": b64u(point[33:])}
    yield {"user": user, "other": other, "token": tok, "header": header, "payload": payload,
           "jwk": jwk_for(jwks, header["kid"]), "foreign": foreign, "foreign_jwk": foreign_jwk}
    foreign.unlink()
    tmp.rmdir()


def _hs256_with(material):
    def make(v):
        h = dict(v["header"], alg="HS256")
        return hs256_token(h, v["payload"], material(v))
    return make


def _tampered_sub(v):
    h, p, s = v["token"].split(".")
    payload = dict(v["payload"], sub=str(v["other"]["id"]))
    return "%s.%s.%s" % (h, b64u_json(payload), s)


HOSTILE = {
    "alg-none": lambda v: jwt_make(dict(v["header"], alg="none"), v["payload"]),
    "alg-None": lambda v: jwt_make(dict(v["header"], alg="None"), v["payload"]),
    "alg-none-no-kid": lambda v: jwt_make({"alg": "none", "typ": "at+jwt"}, v["payload"]),
    "alg-none-keep-sig": lambda v: "%s.%s.%s" % (b64u_json(dict(v["header"], alg="none")),
                                                v["token"].split(".")[1], v["token"].split(".")[2]),
    "hs256-pem": _hs256_with(lambda v: jwk_to_pem(v["jwk"]).encode()),
    "hs256-pem-no-newline": _hs256_with(lambda v: jwk_to_pem(v["jwk"]).rstrip("\n").encode()),
    "hs256-jwk-json": _hs256_with(lambda v: json.dumps(v["jwk"]).encode()),
    "hs256-jwk-json-compact": _hs256_with(lambda v: json.dumps(v["jwk"], separators=(",", ":")).encode()),
    "hs256-x": _hs256_with(lambda v: v["jwk"]["x"].encode()),
    "hs256-point": _hs256_with(lambda v: b"\x04" + b64u_decode(v["jwk"]["x"]) + b64u_decode(v["jwk"]["y"])),
    "hs256-xy": _hs256_with(lambda v: b64u_decode(v["jwk"]["x"]) + b64u_decode(v["jwk"]["y"])),
    "hs256-kid": _hs256_with(lambda v: v["header"]["kid"].encode()),
    "unknown-kid": lambda v: es256_token(v["foreign"], dict(v["header"], kid="nope-" + uuid.uuid4().hex),
                                         v["payload"]),
    "unknown-kid-real-sig": lambda v: "%s.%s.%s" % (
        b64u_json(dict(v["header"], kid="nope-" + uuid.uuid4().hex)), *v["token"].split(".")[1:]),
    "kid-path": lambda v: es256_token(v["foreign"], dict(v["header"], kid="../../../../dev/null"),
                                      v["payload"]),
    "no-kid": lambda v: es256_token(v["foreign"], {"alg": "ES256", "typ": "at+jwt"}, v["payload"]),
    "foreign-key-real-kid": lambda v: es256_token(v["foreign"], v["header"], v["payload"]),
    "embedded-jwk": lambda v: es256_token(v["foreign"], {"alg": "ES256", "typ": "at+jwt",
                                                         "jwk": v["foreign_jwk"]}, v["payload"]),
    "tampered-sub": _tampered_sub,
    "tampered-exp": lambda v: "%s.%s.%s" % (
        v["token"].split(".")[0], b64u_json(dict(v["payload"], exp=v["payload"]["exp"] + 86400)),
        v["token"].split(".")[2]),
    "truncated-signature": lambda v: v["token"][:-4],
    "no-signature": lambda v: v["token"].rsplit(".", 1)[0] + ".",
    "two-parts": lambda v: v["token"].rsplit(".", 1)[0],
    "der-signature": lambda v: v["token"].rsplit(".", 1)[0] + "." + b64u(
        raw_sig_to_der(b64u_decode(v["token"].rsplit(".", 1)[1]))),
    "extra-part": lambda v: v["token"] + ".AAAA",
    "garbage": lambda v: "garbage",
    "garbage-dots": lambda v: "a.b.c",
    "padded-b64": lambda v: ".".join(p + "==" for p in v["token"].split(".")),
}


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_me_rejects_hostile_token(http, stack, victim, attack):
    tok = HOSTILE[attack](victim)
    assert tok != victim["token"]
    r = http.get(ME, headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 401, "attack %s accepted%s" % (attack, describe(r))
    assert_unauthenticated(r)
    assert_problem(r, 401, stack=stack)
    # the real token still works (the attack did not break the session either)
    assert me(http, victim["token"]).status_code == 200


@pytest.mark.parametrize("authz", ["Bearer ", "Bearer", "Basic xyz", "Basic dXNlcjpwYXNz",
                                   "bearer", "Token abc", "Bearer  ", "Bearer a b"],
                         ids=["bearer-empty", "bearer-bare", "basic", "basic-b64", "lower-bare",
                              "token-scheme", "bearer-spaces", "bearer-two-words"])
def test_me_rejects_bad_authorization_header(http, stack, authz):
    r = http.get(ME, headers={"Authorization": authz})
    assert_unauthenticated(r)


def test_me_rejects_garbage_cookie(http, victim):
    r = http.get(ME, headers={"Cookie": "%s=%s" % (COOKIE_ACCESS, HOSTILE["alg-none"](victim))})
    assert_unauthenticated(r)
    r = http.get(ME, headers={"Cookie": "%s=garbage" % COOKIE_ACCESS})
    assert_unauthenticated(r)
    # a cookie without the __Host- prefix is not the session cookie
    r = http.get(ME, headers={"Cookie": "apx_access=%s" % victim["token"]})
    assert_unauthenticated(r)


@pytest.fixture(scope="module")
def real_key(stack, http, victim, tmp_path_factory):
    """A signing key the server trusts: registered in jwt_keys by SQL (the stack's
    own private keys are sealed by its vault). The header is the victim's with
    this key's kid. Workers re-read their keyring on an unknown kid at most every
    5 s, so the first accepted token is waited for."""
    path, kid = registered_signing_key(stack, tmp_path_factory.mktemp("realkey"))
    header = dict(victim["header"], kid=kid)

    def accepted():
        tok = es256_token(path, header, _claims_now(victim))
        remember(tok)
        return me(http, tok).status_code == 200
    apxtest.poll(accepted, 20, interval=0.5, what="the registered key to be trusted")
    return path, header


def _claims_now(v, **changes):
    now = int(time.time())
    p = dict(v["payload"], iat=now, nbf=now, exp=now + 300, jti=uuid.uuid4().hex)
    for k, val in changes.items():
        if val is None:
            p.pop(k, None)
        else:
            p[k] = val(now) if callable(val) else val
    return p


def test_forged_with_real_key_control(http, victim, real_key):
    # the forging machinery itself is right: a well-formed token made with the
    # stack's own key is accepted (so the refusals below are about the claims)
    path, header = real_key
    tok = es256_token(path, header, _claims_now(victim))
    remember(tok)
    r = me(http, tok)
    assert r.status_code == 200, describe(r)


SIGNED_BAD_CLAIMS = {
    "expired": dict(iat=lambda n: n - 1000, nbf=lambda n: n - 1000, exp=lambda n: n - 300),
    "not-yet-valid": dict(nbf=lambda n: n + 600, exp=lambda n: n + 1200),
    "no-exp": dict(exp=None),
    "no-sub": dict(sub=None),
    "no-sid": dict(sid=None),
    "wrong-aud": dict(aud="someone-else"),
    "wrong-iss": dict(iss="https://evil.example"),
    "unknown-sid": dict(sid=lambda n: 999999999),
}


@pytest.mark.parametrize("case", sorted(SIGNED_BAD_CLAIMS))
def test_forged_with_real_key_bad_claims(http, victim, real_key, case):
    payload = _claims_now(victim, **SIGNED_BAD_CLAIMS[case])
    if case == "unknown-sid" and isinstance(victim["payload"]["sid"], str):
        payload["sid"] = "999999999"
    path, header = real_key
    tok = es256_token(path, header, payload)
    remember(tok)
    r = me(http, tok)
    assert r.status_code == 401, "a %s token was accepted%s" % (case, describe(r))
    assert_unauthenticated(r)


def test_forged_with_real_key_wrong_typ(http, victim, real_key):
    # RFC 9068 4: a resource server must check typ (no ID token / other JWT confusion)
    path, header = real_key
    tok = es256_token(path, dict(header, typ="JWT"), _claims_now(victim))
    remember(tok)
    assert_unauthenticated(me(http, tok))


def test_expires_in_follows_setting(http, internal):
    # An expiry cannot be waited for here; check the lifetime reaches new tokens.
    before = settings(http, internal)["access_token_lifetime"]
    user = new_user(http)
    try:
        r = patch_settings(http, internal, {"access_token_lifetime": 60})
        assert r.status_code == 200, describe(r)
        body = assert_token_answer(login(http, user)["_resp"], user, 60)
        p = claims(body["access_token"])
        assert p["exp"] - p["iat"] == 60, p
    finally:
        r = patch_settings(http, internal, {"access_token_lifetime": before})
        assert r.status_code == 200, "could not restore access_token_lifetime%s" % describe(r)
    body = assert_token_answer(login(http, user)["_resp"], user, before)
    p = claims(body["access_token"])
    assert p["exp"] - p["iat"] == before, p


# ==================================================================== CSRF / logout

def test_cookie_logout_needs_csrf_token_and_origin(http, stack):
    user = new_user(http)
    body = login(http, user)
    ck = login_cookies(body)
    assert set(ck) == {COOKIE_ACCESS, COOKIE_REFRESH, COOKIE_CSRF}, ck
    cookie = {"Cookie": cookie_header(ck)}
    csrf = ck[COOKIE_CSRF]

    r = http.post(LOGOUT, headers=dict(cookie))
    assert_problem(r, 403, slug="csrf-failed", stack=stack)
    r = http.post(LOGOUT, headers=dict(cookie, Origin=ORIGIN))
    assert_problem(r, 403, slug="csrf-failed", stack=stack)
    r = http.post(LOGOUT, headers=dict(cookie, Origin=ORIGIN, **{"X-CSRF-Token": csrf[:-2] + "xx"}))
    assert_problem(r, 403, slug="csrf-failed", stack=stack)
    r = http.post(LOGOUT, headers=dict(cookie, Origin=ORIGIN, **{"X-CSRF-Token": ""}))
    assert_problem(r, 403, slug="csrf-failed", stack=stack)
    r = http.post(LOGOUT, headers=dict(cookie, **{"X-CSRF-Token": csrf}))
    assert_problem(r, 403, slug="origin-refused", stack=stack)
    for bad in (EVIL, "null", ORIGIN + ".evil.example", "http://app.example.test", ORIGIN + "/"):
        r = http.post(LOGOUT, headers=dict(cookie, Origin=bad, **{"X-CSRF-Token": csrf}))
        assert_problem(r, 403, stack=stack)
        assert r.status_code == 403, "Origin %r accepted%s" % (bad, describe(r))

    # none of that touched the session
    assert me(http, body["access_token"]).status_code == 200

    r = http.post(LOGOUT, headers=dict(cookie, Origin=ORIGIN, **{"X-CSRF-Token": csrf}))
    assert r.status_code == 204, describe(r)
    assert not r.content, describe(r)
    got = set_cookies(r)
    for name in (COOKIE_ACCESS, COOKIE_REFRESH, COOKIE_CSRF):
        assert name in got, "logout does not expire %s: %r%s" % (name, set_cookie_lines(r), describe(r))
        c = got[name]
        assert c["attrs"].get("max-age") == "0", "%s not expired (Max-Age=0): %r" % (name, c["line"])
        # browsers ignore a __Host- cookie (even a deletion) without Secure and Path=/
        assert c["attrs"].get("secure") is True and c["attrs"].get("path") == "/" \
            and "domain" not in c["attrs"], "%s deletion is not a valid __Host- cookie: %r" % (name, c["line"])
    assert_unauthenticated(me(http, body["access_token"]))
    r = http.get(ME, headers={"Cookie": cookie_header({COOKIE_ACCESS: ck[COOKIE_ACCESS]})})
    assert_unauthenticated(r)
    assert_problem(refresh_raw(http, body["refresh_token"]), 401)


def test_cookie_get_needs_no_csrf(http):
    user = new_user(http)
    ck = login_cookies(login(http, user))
    r = http.get(ME, headers={"Cookie": cookie_header(ck), "Origin": EVIL})
    assert r.status_code == 200, describe(r)


def test_bearer_logout_needs_no_csrf_and_revokes_at_once(http, stack):
    user = new_user(http)
    body = login(http, user)
    tok, rt = body["access_token"], body["refresh_token"]
    assert me(http, tok).status_code == 200
    r = http.post(LOGOUT, headers=bearer(tok))
    assert r.status_code == 204, describe(r)
    # revoked now, not at exp
    assert_unauthenticated(me(http, tok))
    r = refresh_raw(http, rt)
    assert_problem(r, 401, stack=stack)
    # logging out twice: the token is dead
    assert_unauthenticated(http.post(LOGOUT, headers=bearer(tok)))


def test_logout_only_ends_its_own_session(http):
    user = new_user(http)
    a, b = login(http, user), login(http, user)
    assert http.post(LOGOUT, headers=bearer(a["access_token"])).status_code == 204
    assert me(http, b["access_token"]).status_code == 200
    assert refresh_raw(http, b["refresh_token"]).status_code == 200


# ==================================================================== refresh

def test_refresh_rotates(http):
    user = new_user(http)
    a = login(http, user)
    r = refresh_raw(http, a["refresh_token"])
    b = assert_token_answer(r, user)
    assert b["refresh_token"] != a["refresh_token"], describe(r)
    assert b["access_token"] != a["access_token"], describe(r)
    assert claims(b["access_token"])["sid"] == claims(a["access_token"])["sid"], \
        "refresh changed the session id"
    r = me(http, b["access_token"])
    assert r.status_code == 200 and r.json()["user"]["id"] == user["id"], describe(r)


def test_refresh_reuse_revokes_the_family(http, stack):
    user = new_user(http)
    a = login(http, user)
    r1, a1 = a["refresh_token"], a["access_token"]
    b = assert_token_answer(refresh_raw(http, r1), user)
    r2, a2 = b["refresh_token"], b["access_token"]
    assert r2 != r1
    assert me(http, a2).status_code == 200
    # r1 again, past the second-tab grace: stolen-token replay
    age_refresh_token(r1)
    r = refresh_raw(http, r1)
    assert_problem(r, 401, slug="refresh-token-reused", stack=stack)
    assert "access_token" not in r.text, describe(r)
    # the whole family is gone: r2, and every access token of the session
    r = refresh_raw(http, r2)
    assert_problem(r, 401, stack=stack)
    assert_unauthenticated(me(http, a2))
    assert_unauthenticated(me(http, a1))


def test_refresh_via_cookie(http):
    user = new_user(http)
    a = login(http, user)
    ck = login_cookies(a)
    r = refresh_raw(http, cookie=ck[COOKIE_REFRESH])
    b = assert_token_answer(r, user)
    assert b["refresh_token"] != ck[COOKIE_REFRESH] and b["refresh_token"] != a["refresh_token"], describe(r)
    assert me(http, b["access_token"]).status_code == 200
    # the new refresh token also reaches the browser as a cookie
    got = set_cookies(r)
    assert COOKIE_REFRESH in got and got[COOKIE_REFRESH]["value"] not in (ck[COOKIE_REFRESH], ""), \
        describe(r)


@pytest.mark.parametrize("origin", [None, "https://evil.example"])
def test_refresh_via_cookie_needs_our_origin(http, stack, origin):
    user = new_user(http)
    a = login(http, user)
    ck = login_cookies(a)
    r = refresh_raw(http, cookie=ck[COOKIE_REFRESH], origin=origin)
    assert_problem(r, 403, slug="origin-refused", stack=stack)
    # nothing was spent: the same cookie still refreshes from our origin
    assert_token_answer(refresh_raw(http, cookie=ck[COOKIE_REFRESH]), user)


@pytest.mark.parametrize("token", ["unknown", "empty", "long", "number"])
def test_refresh_invalid_token_401(http, stack, token):
    if token == "unknown":
        r = refresh_raw(http, b64u(uuid.uuid4().bytes + uuid.uuid4().bytes))
        assert_problem(r, 401, slug="invalid-refresh-token", stack=stack)
    elif token == "empty":
        assert_problem(refresh_raw(http, ""), 401, slug="invalid-refresh-token", stack=stack)
    elif token == "long":
        assert_problem(refresh_raw(http, "A" * 5000), 401, slug="invalid-refresh-token", stack=stack)
    else:
        r = http.post(REFRESH, json={"refresh_token": 12345})
        assert r.status_code in (401, 422), describe(r)
        assert_problem(r, r.status_code, stack=stack)


def test_refresh_without_token_401(http, stack):
    r = http.post(REFRESH)
    assert_problem(r, 401, slug="invalid-refresh-token", stack=stack)


def test_access_token_is_not_a_refresh_token(http, stack):
    user = new_user(http)
    a = login(http, user)
    assert_problem(refresh_raw(http, a["access_token"]), 401, stack=stack)
    # nor is a refresh token an access token
    assert_unauthenticated(me(http, a["refresh_token"]))


# ==================================================================== sessions

SESSION_KEYS = {"id", "created_at", "last_used_at", "user_agent", "client_addr", "current"}


def sessions_of(http, tok):
    r = http.get(SESSIONS, headers=bearer(tok))
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json", describe(r)
    s = r.json().get("sessions")
    assert isinstance(s, list), describe(r)
    for entry in s:
        assert SESSION_KEYS <= set(entry), "session entry %r lacks %r" % (entry, SESSION_KEYS - set(entry))
        assert isinstance(entry["current"], bool), entry
        assert not any("token" in k or "hash" in k for k in entry), "session entry leaks %r" % entry
    return s


def test_sessions_list(http):
    user = new_user(http)
    ua_a, ua_b = "apx-test-A/" + uuid.uuid4().hex, "apx-test-B/" + uuid.uuid4().hex
    a, b = login(http, user, ua_a), login(http, user, ua_b)
    sid_a, sid_b = str(claims(a["access_token"])["sid"]), str(claims(b["access_token"])["sid"])
    for tok, sid, ua in ((a["access_token"], sid_a, ua_a), (b["access_token"], sid_b, ua_b)):
        s = sessions_of(http, tok)
        assert len(s) == 2, s
        current = [e for e in s if e["current"]]
        assert len(current) == 1, "want exactly one current session: %r" % s
        assert str(current[0]["id"]) == sid, (sid, s)
        assert current[0]["user_agent"] == ua, s
        assert {str(e["id"]) for e in s} == {sid_a, sid_b}, s
        assert all(e["client_addr"] == "127.0.0.1" for e in s), s


def test_sessions_are_per_user(http):
    u1, u2 = new_user(http), new_user(http)
    a = login(http, u1)
    b = login(http, u2)
    s = sessions_of(http, a["access_token"])
    assert [str(e["id"]) for e in s] == [str(claims(a["access_token"])["sid"])], s
    assert str(claims(b["access_token"])["sid"]) not in {str(e["id"]) for e in s}


def test_delete_other_session(http):
    user = new_user(http)
    a, b = login(http, user), login(http, user)
    sid_b = claims(b["access_token"])["sid"]
    r = http.delete("%s/%s" % (SESSIONS, sid_b), headers=bearer(a["access_token"]))
    assert r.status_code == 204, describe(r)
    assert_unauthenticated(me(http, b["access_token"]))
    assert refresh_raw(http, b["refresh_token"]).status_code == 401
    assert me(http, a["access_token"]).status_code == 200
    s = sessions_of(http, a["access_token"])
    assert str(sid_b) not in {str(e["id"]) for e in s}, "a revoked session is still listed: %r" % s
    # again: already gone
    r = http.delete("%s/%s" % (SESSIONS, sid_b), headers=bearer(a["access_token"]))
    assert_problem(r, 404)


def test_delete_another_users_session_404(http, stack):
    victim_user, attacker = new_user(http), new_user(http)
    v = login(http, victim_user)
    x = login(http, attacker)
    sid_v = claims(v["access_token"])["sid"]
    r = http.delete("%s/%s" % (SESSIONS, sid_v), headers=bearer(x["access_token"]))
    assert_problem(r, 404, stack=stack)
    assert me(http, v["access_token"]).status_code == 200, "another user ended the victim's session"
    assert me(http, x["access_token"]).status_code == 200


@pytest.mark.parametrize("bad", ["abc", "1abc", "0x10", "-1", "0", "1.5", "99999999999999999999999"])
def test_delete_session_bad_id_404(http, stack, bad):
    user = new_user(http)
    a = login(http, user)
    r = http.delete("%s/%s" % (SESSIONS, bad), headers=bearer(a["access_token"]))
    assert_problem(r, 404, stack=stack)
    assert me(http, a["access_token"]).status_code == 200


def test_delete_session_needs_auth(http, stack):
    user = new_user(http)
    a = login(http, user)
    sid = claims(a["access_token"])["sid"]
    assert_unauthenticated(http.delete("%s/%s" % (SESSIONS, sid)))
    # cookie-authenticated DELETE needs CSRF + Origin like any write
    ck = login_cookies(a)
    r = http.delete("%s/%s" % (SESSIONS, sid), headers={"Cookie": cookie_header(ck)})
    assert_problem(r, 403, slug="csrf-failed", stack=stack)
    assert me(http, a["access_token"]).status_code == 200


# ==================================================================== final audit

@pytest.mark.run_last
def test_no_auth_secret_in_logs(http, stack):
    time.sleep(1)
    used = [s for s in USED_SECRETS if len(s.encode()) >= 8]
    if not used:
        pytest.skip("no auth test ran before this one")
    files = log_files(stack)
    assert Path(stack["ERROR_LOG"]).resolve() in files, files
    files += [p for p in STANDALONE_LOGS if p.is_file()]
    leaks = []
    for f in files:
        data = f.read_bytes()
        for s in used:
            idx = data.find(s.encode())
            if idx >= 0:
                ls = data.rfind(b"\n", 0, idx) + 1
                le = data.find(b"\n", idx)
                line = data[ls:le if le >= 0 else None]
                leaks.append("%s: %s" % (f, line.replace(s.encode(), b"<SECRET>")
                                         .decode(errors="replace")[:300]))
    assert not leaks, "passwords/tokens of the auth tests found in logs (%d checked):\n%s" % (
        len(used), "\n".join(leaks))
