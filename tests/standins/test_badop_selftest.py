"""Self-test of the fault-injecting OpenID Provider stand-in (tests/standins/oidc/badop.mjs).

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/standins/test_badop_selftest.py

Starts badop on port 0 in a subprocess and drives it with the standard library's
http.client: the code flow (authorize, token with PKCE and either client authentication,
UserInfo), every fault, the control API and the request log. ID token signatures are
checked against the published JWKs with python3-cryptography (those checks are skipped
when it is not installed; the structural ones still run).
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import time
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import pytest

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    HAVE_CRYPTO = True
except ImportError:                                          # pragma: no cover
    HAVE_CRYPTO = False

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "oidc", "badop.mjs")
REDIRECT = "http://127.0.0.1:9/auth/oidc/cb"
REDIRECT2 = "http://127.0.0.1:9/auth/oidc/cb2?tenant=x"
# a client id and secret that need RFC 6749 2.3.1's form-urlencoding inside HTTP Basic
CLIENT_ID = "apx client:1"
SECRET = "s3cr+t/%41:x \u00e9"
USER = {"sub": "user-0001", "email": "erin@example-agency.test", "email_verified": True,
        "name": "Erin Agency", "locale": "en", "groups": ["analysts"]}
FAULTS = ["none", "bad-signature", "alg-none", "hs256-pubkey", "wrong-iss", "no-aud", "wrong-aud",
          "azp-mismatch", "expired", "iat-past", "iat-future", "no-sub", "wrong-nonce", "unknown-kid",
          "jwks-unknown-kty", "userinfo-sub", "discovery-issuer", "no-email-verified"]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (GET|POST|PUT|DELETE) /\S* \d{3}$")
SEEN = set()         # every code, token and verifier handed out: none may reach the log

needs_crypto = pytest.mark.skipif(not HAVE_CRYPTO, reason="python3-cryptography not installed")


# ---------------------------------------------------------------------------- server

def start(tmp):
    pidfile, log = tmp / "badop.pid", tmp / "badop.log"
    proc = subprocess.Popen(["node", SERVER, "--port", "0", "--pidfile", str(pidfile), "--log", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.fullmatch(r"listening (http://127\.0\.0\.1:(\d+))\n", line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    return {"base": m.group(1), "port": int(m.group(2)), "proc": proc, "pidfile": pidfile, "log": log}


def stop(s):
    if s["proc"].poll() is None:
        s["proc"].send_signal(signal.SIGTERM)
        assert s["proc"].wait(10) == 0


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("badop"))
    yield s
    stop(s)


def call(s, method, url, params=None, form=None, js=None, raw=None, headers=None, basic=None):
    """One request (URL or path); returns (status, headers with lower-case names, body
    parsed as JSON when it is JSON)."""
    parts = urlsplit(url)
    assert parts.netloc in ("", f"127.0.0.1:{s['port']}"), url
    path = parts.path + ("?" + parts.query if parts.query else "")
    if params:
        path += ("&" if "?" in path else "?") + urlencode(params)
    h = dict(headers or {})
    body = raw
    if form is not None:
        body = urlencode(form).encode()
        h.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif js is not None:
        body = json.dumps(js).encode()
        h["Content-Type"] = "application/json"
    if basic is not None:
        h["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
    c = http.client.HTTPConnection("127.0.0.1", s["port"], timeout=10)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
    finally:
        c.close()
    if hdrs.get("content-type", "").startswith("application/json"):
        data = json.loads(data)
    else:
        data = data.decode()
    return r.status, hdrs, data


def ctl(s, method, path, body=None, raw=None):
    st, _h, data = call(s, method, "/_control" + path, js=body, raw=raw)
    return st, data


def put_issuer(s, name, **over):
    body = {"client_id": CLIENT_ID, "client_secret": SECRET, "redirect_uris": [REDIRECT, REDIRECT2],
            "user": USER}
    body.update(over)
    st, data = ctl(s, "PUT", f"/issuers/{name}", body)
    assert st == 200, data
    assert data == {"issuer": f"{s['base']}/i/{name}",
                    "discovery": f"{s['base']}/i/{name}/.well-known/openid-configuration"}
    return data["issuer"]


# ---------------------------------------------------------------------------- flow helpers

def b64d(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def decode_jwt(jwt):
    h, p, sig = jwt.split(".")
    return json.loads(b64d(h)), json.loads(b64d(p)), b64d(sig) if sig else b""


def pkce():
    verifier = secrets.token_urlsafe(48)
    SEEN.add(verifier)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def form_basic(client_id=CLIENT_ID, secret=SECRET):
    """HTTP Basic credentials as RFC 6749 2.3.1 wants them: each half form-urlencoded."""
    return quote_plus(client_id, safe="") + ":" + quote_plus(secret, safe="")


def authorize(s, iss, **over):
    """GET authorize; returns (status, headers, the query of the Location when there is one)."""
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
              "scope": "openid email profile", "state": "st a&b=c/\u00e9", "nonce": "n-123",
              "code_challenge": pkce()[1], "code_challenge_method": "S256"}
    params.update(over)
    params = {k: v for k, v in params.items() if v is not None}
    st, h, _ = call(s, "GET", iss + "/authorize", params=params)
    q = None
    if "location" in h:
        loc = urlsplit(h["location"])
        q = dict(parse_qsl(loc.query, keep_blank_values=True))
        q["_location"] = h["location"]
    return st, h, q


def get_code(s, iss, redirect_uri=REDIRECT, nonce="n-123", state="st a&b=c/\u00e9"):
    verifier, challenge = pkce()
    st, h, q = authorize(s, iss, redirect_uri=redirect_uri, nonce=nonce, state=state, code_challenge=challenge)
    assert st == 302, (st, h)
    assert h["location"].startswith(redirect_uri + ("&" if "?" in redirect_uri else "?"))
    assert set(q) - {"tenant", "_location"} == {"code", "state"}
    assert q["state"] == state
    SEEN.add(q["code"])
    return q["code"], verifier


def exchange(s, iss, code, verifier, redirect_uri=REDIRECT, auth="basic", **extra):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier}
    form.update(extra)
    form = {k: v for k, v in form.items() if v is not None}
    if auth == "basic":
        st, h, body = call(s, "POST", iss + "/token", form=form, basic=form_basic())
    else:
        form.update(client_id=CLIENT_ID, client_secret=SECRET)
        st, h, body = call(s, "POST", iss + "/token", form=form)
    if st == 200:
        SEEN.update((body["access_token"], body["id_token"]))
    return st, h, body


def flow(s, iss, nonce="n-123", auth="basic"):
    code, verifier = get_code(s, iss, nonce=nonce)
    st, h, tok = exchange(s, iss, code, verifier, auth=auth)
    assert st == 200, tok
    return tok


def userinfo(s, iss, token, **kw):
    return call(s, "GET", iss + "/userinfo", headers={"Authorization": "Bearer " + token}, **kw)


def jwks(s, iss):
    st, _h, body = call(s, "GET", iss + "/jwks")
    assert st == 200
    return body["keys"]


# ---------------------------------------------------------------------------- signatures

def b64int(v):
    return int.from_bytes(b64d(v), "big")


def public_key(jwk):
    if jwk["kty"] == "RSA":
        return rsa.RSAPublicNumbers(b64int(jwk["e"]), b64int(jwk["n"])).public_key()
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    return ec.EllipticCurvePublicNumbers(b64int(jwk["x"]), b64int(jwk["y"]), ec.SECP256R1()).public_key()


def verifies(jwt, keys):
    """True when the JWS verifies with the published key of its kid (RS256, PS256 with a
    32-byte salt, ES256 in JOSE r||s form)."""
    header, _c, sig = decode_jwt(jwt)
    (jwk,) = [k for k in keys if k.get("kid") == header["kid"]]
    key = public_key(jwk)
    data = jwt.rsplit(".", 1)[0].encode()
    try:
        if header["alg"] == "RS256":
            key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        elif header["alg"] == "PS256":
            key.verify(sig, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                       hashes.SHA256())
        elif header["alg"] == "ES256":
            assert len(sig) == 64
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise AssertionError(header["alg"])
    except InvalidSignature:
        return False
    return True


# ---------------------------------------------------------------------------- basics

def test_startup_pidfile_and_health(srv):
    assert int(srv["pidfile"].read_text()) == srv["proc"].pid
    assert ctl(srv, "GET", "/health") == (200, {"ok": True})


def test_discovery_document(srv):
    iss = put_issuer(srv, "disc")
    st, h, doc = call(srv, "GET", iss + "/.well-known/openid-configuration")
    assert st == 200 and h["content-type"].startswith("application/json")
    assert doc == {
        "issuer": iss,
        "authorization_endpoint": iss + "/authorize",
        "token_endpoint": iss + "/token",
        "userinfo_endpoint": iss + "/userinfo",
        "jwks_uri": iss + "/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "PS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "email", "profile"],
    }
    assert not iss.endswith("/")
    keys = jwks(srv, iss)
    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("RSA", "RS256", "sig"), ("EC", "ES256", "sig")]
    assert keys[1]["crv"] == "P-256" and len(b64d(keys[0]["n"])) == 256
    assert all("d" not in k and "p" not in k and k["kid"] for k in keys)
    assert len({k["kid"] for k in keys}) == 2


def test_unknown_issuer_and_path_404(srv):
    assert call(srv, "GET", "/i/nobody/.well-known/openid-configuration")[0] == 404
    assert call(srv, "GET", "/i/NoBody/jwks")[0] == 404
    assert call(srv, "GET", "/")[0] == 404
    iss = put_issuer(srv, "paths")
    assert call(srv, "GET", iss + "/nothing")[0] == 404
    assert call(srv, "GET", iss + "/.well-known/openid-configuration/")[0] == 404
    assert call(srv, "POST", iss + "/jwks")[0] == 405
    assert call(srv, "GET", iss + "/token")[0] == 405


# ---------------------------------------------------------------------------- code flow

@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256"])
def test_full_code_flow(srv, alg):
    iss = put_issuer(srv, "flow-" + alg.lower(), alg=alg)
    code, verifier = get_code(srv, iss, nonce="nonce-" + alg)
    st, h, tok = exchange(srv, iss, code, verifier)
    assert st == 200, tok
    assert h["cache-control"] == "no-store"
    assert set(tok) == {"access_token", "token_type", "expires_in", "scope", "id_token"}
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 300
    assert tok["scope"] == "openid email profile"

    header, claims, sig = decode_jwt(tok["id_token"])
    keys = jwks(srv, iss)
    want_kid = keys[1 if alg == "ES256" else 0]["kid"]
    assert header == {"alg": alg, "kid": want_kid, "typ": "JWT"}
    now = time.time()
    assert claims["iss"] == iss and claims["sub"] == USER["sub"] and claims["aud"] == CLIENT_ID
    assert claims["nonce"] == "nonce-" + alg
    assert abs(claims["iat"] - now) < 5 and claims["exp"] == claims["iat"] + 300
    assert claims["auth_time"] == claims["iat"]
    assert {k: claims[k] for k in USER} == USER
    assert "azp" not in claims
    assert len(sig) == (64 if alg == "ES256" else 256)
    if HAVE_CRYPTO:
        assert verifies(tok["id_token"], keys)

    st, h, info = userinfo(srv, iss, tok["access_token"])
    assert st == 200 and info == USER


def test_client_secret_post_and_nonce_absent(srv):
    iss = put_issuer(srv, "post")
    code, verifier = get_code(srv, iss, nonce=None)
    st, _h, tok = exchange(srv, iss, code, verifier, auth="post")
    assert st == 200, tok
    assert "nonce" not in decode_jwt(tok["id_token"])[1]


def test_redirect_uri_with_query_and_scope_subset(srv):
    iss = put_issuer(srv, "query-ru")
    verifier, challenge = pkce()
    st, h, q = authorize(srv, iss, redirect_uri=REDIRECT2, code_challenge=challenge, scope="openid offline_access")
    assert st == 302 and h["location"].startswith(REDIRECT2 + "&code=")
    assert q["tenant"] == "x"
    SEEN.add(q["code"])
    st, _h, tok = exchange(srv, iss, q["code"], verifier, redirect_uri=REDIRECT2)
    assert st == 200 and tok["scope"] == "openid"


def test_state_is_echoed_url_encoded(srv):
    iss = put_issuer(srv, "state")
    st, h, q = authorize(srv, iss, state="a b+c&d=e%f")
    assert st == 302
    assert "state=a%20b%2Bc%26d%3De%25f" in h["location"] and q["state"] == "a b+c&d=e%f"
    st, h, q = authorize(srv, iss, state=None)
    assert st == 302 and "state" not in q


def test_basic_credentials_must_be_form_urlencoded(srv):
    iss = put_issuer(srv, "basic")
    code, verifier = get_code(srv, iss)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    # the id and secret sent raw: the first ':' splits "apx client" from the rest
    st, h, body = call(srv, "POST", iss + "/token", form=form, basic=CLIENT_ID + ":" + SECRET)
    assert st == 401 and body["error"] == "invalid_client" and h["www-authenticate"].startswith("Basic")
    # a raw client refusal does not spend the code
    st, _h, tok = call(srv, "POST", iss + "/token", form=form, basic=form_basic())
    assert st == 200, tok
    SEEN.update((tok["access_token"], tok["id_token"]))


def test_client_authentication_refusals(srv):
    iss = put_issuer(srv, "clientauth")
    code, verifier = get_code(srv, iss)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    cases = [
        ({"basic": form_basic(secret="wrong")}, 401, "invalid_client"),
        ({"basic": form_basic(client_id="other")}, 401, "invalid_client"),
        ({}, 401, "invalid_client"),                                                   # none at all
        ({"form": dict(form, client_id=CLIENT_ID, client_secret="wrong")}, 401, "invalid_client"),
        ({"form": dict(form, client_secret=SECRET), "basic": form_basic()}, 400, "invalid_request"),  # two methods
        ({"headers": {"Authorization": "Basic !!!"}}, 401, "invalid_client"),
    ]
    for kw, status, error in cases:
        kw.setdefault("form", form)
        st, _h, body = call(srv, "POST", iss + "/token", **kw)
        assert (st, body["error"]) == (status, error), (kw, st, body)
    # not a form
    st, _h, body = call(srv, "POST", iss + "/token", js=form, basic=form_basic())
    assert st == 400 and body["error"] == "invalid_request"
    # other grant types
    st, _h, body = call(srv, "POST", iss + "/token", form=dict(form, grant_type="refresh_token"), basic=form_basic())
    assert st == 400 and body["error"] == "unsupported_grant_type"
    # none of these spent the code
    st, _h, tok = exchange(srv, iss, code, verifier)
    assert st == 200, tok


def test_code_single_use_and_replay_revokes_token(srv):
    iss = put_issuer(srv, "single")
    code, verifier = get_code(srv, iss)
    st, _h, tok = exchange(srv, iss, code, verifier)
    assert st == 200
    assert userinfo(srv, iss, tok["access_token"])[0] == 200
    st, _h, body = exchange(srv, iss, code, verifier)
    assert st == 400 and body["error"] == "invalid_grant"
    assert userinfo(srv, iss, tok["access_token"])[0] == 401
    st, _h, body = exchange(srv, iss, "not-a-code", verifier)
    assert st == 400 and body["error"] == "invalid_grant"


def test_wrong_verifier(srv):
    iss = put_issuer(srv, "verifier")
    code, verifier = get_code(srv, iss)
    st, _h, body = exchange(srv, iss, code, verifier[:-1] + ("A" if verifier[-1] != "A" else "B"))
    assert st == 400 and body["error"] == "invalid_grant"
    # a failed attempt spends the code
    st, _h, body = exchange(srv, iss, code, verifier)
    assert st == 400 and body["error"] == "invalid_grant"
    code, verifier = get_code(srv, iss)
    st, _h, body = exchange(srv, iss, code, None)
    assert st == 400 and body["error"] == "invalid_grant"


def test_wrong_redirect_uri_at_authorize(srv):
    iss = put_issuer(srv, "ru-authz")
    for ru in ("http://127.0.0.1:9/evil", REDIRECT + "/", REDIRECT.upper(), REDIRECT + "?x=1", None):
        st, h, _q = authorize(srv, iss, redirect_uri=ru)
        assert st == 400 and "location" not in h, ru
        assert h["content-type"].startswith("text/plain")
    st, h, _q = authorize(srv, iss, client_id="unknown")
    assert st == 400 and "location" not in h
    st, h, _q = authorize(srv, iss, client_id=None)
    assert st == 400 and "location" not in h


def test_wrong_redirect_uri_at_token(srv):
    iss = put_issuer(srv, "ru-token")
    code, verifier = get_code(srv, iss)
    st, _h, body = exchange(srv, iss, code, verifier, redirect_uri=REDIRECT2)
    assert st == 400 and body["error"] == "invalid_grant"
    code, verifier = get_code(srv, iss)
    st, _h, body = exchange(srv, iss, code, verifier, redirect_uri=None)
    assert st == 400 and body["error"] == "invalid_grant"


@pytest.mark.parametrize("over", [
    {"code_challenge": None},
    {"code_challenge_method": None},
    {"code_challenge_method": "plain"},
    {"code_challenge": "short"},
    {"scope": "email profile"},
    {"scope": None},
    {"response_type": "token"},
    {"response_type": None},
])
def test_authorize_error_redirects(srv, over):
    iss = put_issuer(srv, "authz-errors")
    st, h, q = authorize(srv, iss, **over)
    assert st == 302, (st, h)
    assert q["error"] == "invalid_request" and q["state"] == "st a&b=c/\u00e9" and "code" not in q
    assert h["location"].startswith(REDIRECT + "?error=invalid_request&")


# ---------------------------------------------------------------------------- faults

def expected_claims(iss, fault, nonce, now):
    """The ID token's claims for FAULT: the good ones with exactly that change."""
    c = {"iss": iss, "sub": USER["sub"], "aud": CLIENT_ID, "exp": now + 300, "iat": now,
         "auth_time": now, "nonce": nonce, **{k: v for k, v in USER.items() if k != "sub"}}
    if fault == "wrong-iss":
        c["iss"] = iss + "/evil"
    elif fault == "no-aud":
        del c["aud"]
    elif fault == "wrong-aud":
        c["aud"] = "someone-else"
    elif fault == "azp-mismatch":
        c["aud"], c["azp"] = [CLIENT_ID, "other-client"], "other-client"
    elif fault == "expired":
        c["exp"], c["iat"] = now - 600, now - 900
    elif fault == "iat-past":
        c["iat"] = now - 7200
    elif fault == "iat-future":
        c["iat"], c["exp"] = now + 3600, now + 4000
    elif fault == "no-sub":
        del c["sub"]
    elif fault == "no-email-verified":
        del c["email_verified"]
    return c


@pytest.mark.parametrize("fault", FAULTS)
def test_fault(srv, fault):
    iss = put_issuer(srv, "f-" + fault, fault=fault)
    now = int(time.time())
    tok = flow(srv, iss, nonce="nonce-" + fault)
    header, claims, sig = decode_jwt(tok["id_token"])
    keys = jwks(srv, iss)
    rsa_kid = [k["kid"] for k in keys if k["kty"] == "RSA"][0]

    # claims: only what the fault names differs from a good token
    want = expected_claims(iss, fault, "nonce-" + fault, now)
    assert set(claims) == set(want), (fault, claims)
    for k, v in want.items():
        if k in ("exp", "iat", "auth_time"):
            assert abs(claims[k] - v) <= 5, (k, claims[k], v)
        elif k == "nonce" and fault == "wrong-nonce":
            assert isinstance(claims[k], str) and len(claims[k]) >= 16 and claims[k] != v
        else:
            assert claims[k] == v, k

    # header and signature
    if fault == "alg-none":
        assert header == {"alg": "none", "typ": "JWT"} and sig == b""
        assert tok["id_token"].endswith(".") and tok["id_token"].count(".") == 2
    elif fault == "hs256-pubkey":
        assert header == {"alg": "HS256", "kid": rsa_kid}
        assert len(sig) == 32
        if HAVE_CRYPTO:
            (jwk,) = [k for k in keys if k["kid"] == rsa_kid]
            pem = public_key(jwk).public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
            mac = hmac.new(pem, tok["id_token"].rsplit(".", 1)[0].encode(), hashlib.sha256).digest()
            assert mac == sig
    elif fault == "unknown-kid":
        assert header["alg"] == "RS256" and header["typ"] == "JWT"
        assert header["kid"] not in {k["kid"] for k in keys} and len(sig) == 256
    else:
        assert header == {"alg": "RS256", "kid": rsa_kid, "typ": "JWT"}
        if HAVE_CRYPTO:
            good = verifies(tok["id_token"], keys)
            assert good is (fault != "bad-signature"), fault
        if fault == "bad-signature" and HAVE_CRYPTO:
            # exactly one bit, in the middle
            fixed = bytearray(sig)
            fixed[len(sig) // 2] ^= 1
            head = tok["id_token"].rsplit(".", 1)[0]
            assert verifies(head + "." + base64.urlsafe_b64encode(bytes(fixed)).rstrip(b"=").decode(), keys)

    # the JWKS
    if fault == "jwks-unknown-kty":
        okp, weird = keys[0], keys[1]
        assert set(okp) == {"kty", "crv", "x", "kid", "use"}
        assert (okp["kty"], okp["crv"], okp["kid"], okp["use"]) == ("OKP", "Ed25519", "okp-1", "sig")
        assert len(b64d(okp["x"])) == 32
        assert weird == {"kty": "XYZ", "kid": "weird-1"}
        assert [k["kty"] for k in keys[2:]] == ["RSA", "EC"]
    else:
        assert [k["kty"] for k in keys] == ["RSA", "EC"]

    # discovery
    _st, _h, doc = call(srv, "GET", iss + "/.well-known/openid-configuration")
    assert doc["issuer"] == (iss + "-other" if fault == "discovery-issuer" else iss)
    assert doc["jwks_uri"] == iss + "/jwks" and doc["token_endpoint"] == iss + "/token"

    # UserInfo
    st, _h, info = userinfo(srv, iss, tok["access_token"])
    assert st == 200
    want_info = dict(USER)
    if fault == "userinfo-sub":
        assert info["sub"] != USER["sub"] and info["sub"]
        want_info["sub"] = info["sub"]
    if fault == "no-email-verified":
        del want_info["email_verified"]
    assert info == want_info


def test_unknown_kid_on_es256_issuer_signs_rs256(srv):
    iss = put_issuer(srv, "ukid-es", alg="ES256", fault="unknown-kid")
    header, _c, sig = decode_jwt(flow(srv, iss)["id_token"])
    assert header["alg"] == "RS256" and len(sig) == 256
    assert header["kid"] not in {k["kid"] for k in jwks(srv, iss)}


def test_bad_signature_es256_and_ps256(srv):
    for alg in ("ES256", "PS256"):
        iss = put_issuer(srv, "badsig-" + alg.lower(), alg=alg, fault="bad-signature")
        tok = flow(srv, iss)
        header, _c, sig = decode_jwt(tok["id_token"])
        assert header["alg"] == alg
        if HAVE_CRYPTO:
            keys = jwks(srv, iss)
            assert not verifies(tok["id_token"], keys)
            fixed = bytearray(sig)
            fixed[len(sig) // 2] ^= 1
            head = tok["id_token"].rsplit(".", 1)[0]
            assert verifies(head + "." + base64.urlsafe_b64encode(bytes(fixed)).rstrip(b"=").decode(), keys)


def test_fault_switch_at_run_time(srv):
    iss = put_issuer(srv, "switch")
    assert ctl(srv, "POST", "/issuers/switch/fault", {"fault": "wrong-aud"}) == (200, {"fault": "wrong-aud"})
    assert decode_jwt(flow(srv, iss)["id_token"])[1]["aud"] == "someone-else"
    assert ctl(srv, "POST", "/issuers/switch/fault", {"fault": "none"}) == (200, {"fault": "none"})
    assert decode_jwt(flow(srv, iss)["id_token"])[1]["aud"] == CLIENT_ID
    st, body = ctl(srv, "POST", "/issuers/switch/fault", {"fault": "bogus"})
    assert st == 400 and "error" in body


@needs_crypto
def test_jwks_unknown_kty_token_verifies(srv):
    iss = put_issuer(srv, "kty", fault="jwks-unknown-kty", alg="ES256")
    tok = flow(srv, iss)
    keys = jwks(srv, iss)
    usable = [k for k in keys if k["kty"] in ("RSA", "EC")]
    assert len(usable) == 2 and verifies(tok["id_token"], usable)


# ---------------------------------------------------------------------------- control API

def test_rotate_changes_kids(srv):
    iss = put_issuer(srv, "rotate")
    old = {k["kid"] for k in jwks(srv, iss)}
    st, body = ctl(srv, "POST", "/issuers/rotate/rotate")
    assert st == 200 and len(body["kids"]) == 2
    new = {k["kid"] for k in jwks(srv, iss)}
    assert new == set(body["kids"]) and not (new & old)
    tok = flow(srv, iss)
    assert decode_jwt(tok["id_token"])[0]["kid"] in new
    if HAVE_CRYPTO:
        assert verifies(tok["id_token"], jwks(srv, iss))


def test_put_again_keeps_keys_resets_stats_and_codes(srv):
    iss = put_issuer(srv, "again")
    kids = [k["kid"] for k in jwks(srv, iss)]
    code, verifier = get_code(srv, iss)
    put_issuer(srv, "again", alg="ES256")
    assert [k["kid"] for k in jwks(srv, iss)] == kids
    assert ctl(srv, "GET", "/issuers/again/stats")[1] == {"discovery": 0, "jwks": 1, "authorize": 0,
                                                          "token": 0, "userinfo": 0}
    st, _h, body = exchange(srv, iss, code, verifier)
    assert st == 400 and body["error"] == "invalid_grant"
    assert decode_jwt(flow(srv, iss)["id_token"])[0]["kid"] == kids[1]


def test_replace_user(srv):
    iss = put_issuer(srv, "user")
    tok = flow(srv, iss)
    new_user = {"sub": "user-0002", "email": "mallory@other-agency.test", "email_verified": False, "x": {"y": 1}}
    assert ctl(srv, "POST", "/issuers/user/user", new_user) == (200, {"user": new_user})
    assert userinfo(srv, iss, tok["access_token"])[2] == new_user          # current user
    claims = decode_jwt(flow(srv, iss)["id_token"])[1]
    assert claims["sub"] == "user-0002" and claims["x"] == {"y": 1} and "name" not in claims


def test_stats_count(srv):
    iss = put_issuer(srv, "stats")
    assert ctl(srv, "GET", "/issuers/stats/stats") == (200, {"discovery": 0, "jwks": 0, "authorize": 0,
                                                            "token": 0, "userinfo": 0})
    call(srv, "GET", iss + "/.well-known/openid-configuration")
    call(srv, "GET", iss + "/.well-known/openid-configuration")
    jwks(srv, iss)
    tok = flow(srv, iss)
    userinfo(srv, iss, tok["access_token"])
    userinfo(srv, iss, "nope")
    authorize(srv, iss, client_id="unknown")
    assert ctl(srv, "GET", "/issuers/stats/stats")[1] == {"discovery": 2, "jwks": 1, "authorize": 2,
                                                         "token": 1, "userinfo": 2}


def test_control_rejects_bad_input(srv):
    good = {"client_id": "c", "client_secret": "s", "redirect_uris": [REDIRECT], "user": {"sub": "u"}}
    assert ctl(srv, "PUT", "/issuers/ok-1", good)[0] == 200
    for name in ("Upper", "-dash", "a" * 41, "a_b", "a.b"):
        assert ctl(srv, "PUT", f"/issuers/{name}", good)[0] == 400, name
    assert ctl(srv, "PUT", "/issuers/" + "a" * 40, good)[0] == 200
    bad_bodies = [
        dict(good, fault="bogus"), dict(good, alg="HS256"), dict(good, extra=1),
        dict(good, client_id=""), dict(good, client_secret=None), dict(good, redirect_uris=[]),
        dict(good, redirect_uris=["not a url"]), dict(good, redirect_uris=[REDIRECT + "#f"]),
        dict(good, user={"email": "x"}), dict(good, user={"sub": 5}), dict(good, user=[]),
        dict(good, user={"sub": "u", "aud": "x"}), dict(good, user={"sub": "u", "nonce": "x"}),
        [good],
    ]
    for body in bad_bodies:
        st, data = ctl(srv, "PUT", "/issuers/bad", body)
        assert st == 400 and isinstance(data["error"], str), body
    assert ctl(srv, "PUT", "/issuers/bad", raw=b"{not json")[0] == 400
    assert call(srv, "GET", "/i/bad/jwks")[0] == 404                       # never created
    assert ctl(srv, "POST", "/issuers/ok-1/user", {"email": "x"})[0] == 400
    assert ctl(srv, "POST", "/issuers/ok-1/fault", raw=b"[")[0] == 400
    for action, method in (("fault", "POST"), ("user", "POST"), ("rotate", "POST"), ("stats", "GET")):
        assert ctl(srv, method, f"/issuers/missing/{action}", {"fault": "none"})[0] == 404, action
    assert ctl(srv, "GET", "/issuers/ok-1")[0] == 405
    assert ctl(srv, "GET", "/issuers/ok-1/rotate")[0] == 405
    assert ctl(srv, "GET", "/nothing")[0] == 404


# ---------------------------------------------------------------------------- UserInfo

def test_userinfo_refuses_query_token_and_bad_tokens(srv):
    iss = put_issuer(srv, "ui")
    tok = flow(srv, iss)
    at = tok["access_token"]
    st, _h, body = call(srv, "GET", iss + "/userinfo", params={"access_token": at})
    assert st == 400 and body["error"] == "invalid_request"
    st, _h, body = userinfo(srv, iss, at, params={"access_token": at})       # even with the header
    assert st == 400
    st, h, _b = call(srv, "GET", iss + "/userinfo")
    assert st == 401 and h["www-authenticate"] == "Bearer"
    st, h, body = userinfo(srv, iss, "unknown-token")
    assert st == 401 and body["error"] == "invalid_token" and 'error="invalid_token"' in h["www-authenticate"]
    st, _h, _b = call(srv, "POST", iss + "/userinfo", form={"access_token": at})
    assert st == 400
    st, _h, body = call(srv, "POST", iss + "/userinfo", headers={"Authorization": "Bearer " + at})
    assert st == 200 and body["sub"] == USER["sub"]
    assert userinfo(srv, iss, tok["id_token"])[0] == 401                   # an ID token is not an access token
    assert userinfo(srv, iss, at)[0] == 200


# ---------------------------------------------------------------------------- log, shutdown

def test_module_log_never_holds_codes_or_tokens(srv):
    text = srv["log"].read_text()
    assert " GET /i/" in text and " POST /i/" in text
    for line in text.splitlines():
        assert LOG_LINE.match(line), line
    assert "?" not in text
    for needle in SEEN | {SECRET, quote_plus(SECRET), "st a", "nonce-", "Bearer", "code="}:
        assert needle not in text, needle


def test_log_lines_and_sigterm(tmp_path):
    s = start(tmp_path)
    try:
        assert int(s["pidfile"].read_text()) == s["proc"].pid
        iss = put_issuer(s, "one")
        tok = flow(s, iss)
        userinfo(s, iss, tok["access_token"])
        call(s, "GET", "/i/none/jwks")
    finally:
        stop(s)
    assert s["proc"].stdout.read() == ""                  # nothing after the listening line
    assert not s["pidfile"].exists()
    lines = s["log"].read_text().splitlines()
    assert [l.split()[1:] for l in lines] == [
        ["PUT", "/_control/issuers/one", "200"],
        ["GET", "/i/one/authorize", "302"],
        ["POST", "/i/one/token", "200"],
        ["GET", "/i/one/userinfo", "200"],
        ["GET", "/i/none/jwks", "404"],
        ["stopped"],
    ]
    assert all(LOG_LINE.match(l) for l in lines[:-1]), lines
    text = s["log"].read_text()
    for needle in (tok["access_token"], tok["id_token"][:40], SECRET):
        assert needle not in text


def test_sigint_and_port_in_use(tmp_path):
    s = start(tmp_path)
    p = subprocess.run(["node", SERVER, "--port", str(s["port"])], capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and p.stdout == "" and "cannot listen" in p.stderr
    s["proc"].send_signal(signal.SIGINT)
    assert s["proc"].wait(10) == 0 and not s["pidfile"].exists()
    p = subprocess.run(["node", SERVER, "--bogus"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 2 and p.stdout == ""
