"""Helpers for the auth tests: accounts, tokens, cookies, hostile JWTs.

Only the stdlib, requests and the `openssl` command line (for ECDSA): no
PyJWT, no cryptography.  No fixtures here.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import tempfile
import uuid
from pathlib import Path

from apxtest import CORS_ORIGIN, config_dict, describe, media_type

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"
SESSIONS = "/api/v1/me/sessions"
JWKS = "/.well-known/jwks.json"

COOKIE_ACCESS = "__Host-apx_access"
COOKIE_REFRESH = "__Host-apx_refresh"
COOKIE_CSRF = "__Host-apx_csrf"
ORIGIN = CORS_ORIGIN
EVIL = "https://evil.example"

# Every password and token the auth tests used: the final log audit looks for
# each of them in every log of the stack.
USED_SECRETS = []


def remember(*values):
    for v in values:
        if isinstance(v, str) and v and v not in USED_SECRETS:
            USED_SECRETS.append(v)


# ------------------------------------------------------------------ base64url / JWT

def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text):
    if isinstance(text, bytes):
        text = text.decode()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64u_json(obj):
    return b64u(json.dumps(obj, separators=(",", ":")))


def jwt_parts(token):
    """(header dict, payload dict, signature bytes) of a compact JWS."""
    parts = token.split(".")
    assert len(parts) == 3, "not a compact JWS (%d parts): %r" % (len(parts), token[:80])
    h, p, s = parts
    return json.loads(b64u_decode(h)), json.loads(b64u_decode(p)), b64u_decode(s)


def jwt_make(header, payload, signature=b""):
    return "%s.%s.%s" % (b64u_json(header), b64u_json(payload), b64u(signature))


def hs256_token(header, payload, key):
    signing_input = "%s.%s" % (b64u_json(header), b64u_json(payload))
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64u(sig)


# ------------------------------------------------------------------ ECDSA via openssl

# SubjectPublicKeyInfo of a P-256 key (id-ecPublicKey, prime256v1), before 04||X||Y
_P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def jwk_to_pem(jwk):
    x, y = b64u_decode(jwk["x"]), b64u_decode(jwk["y"])
    assert len(x) == 32 and len(y) == 32, "P-256 coordinates must be 32 bytes: %r" % jwk
    der = _P256_SPKI_PREFIX + b"\x04" + x + y
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" % "\n".join(lines)


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der_int(raw):
    raw = raw.lstrip(b"\x00") or b"\x00"
    if raw[0] & 0x80:
        raw = b"\x00" + raw
    return b"\x02" + _der_len(len(raw)) + raw


def raw_sig_to_der(sig):
    assert len(sig) == 64, "an ES256 JWS signature is R||S, 64 bytes; got %d" % len(sig)
    body = _der_int(sig[:32]) + _der_int(sig[32:])
    return b"\x30" + _der_len(len(body)) + body


def der_sig_to_raw(der):
    def read_len(buf, i):
        n = buf[i]
        if n < 0x80:
            return n, i + 1
        k = n & 0x7f
        return int.from_bytes(buf[i + 1:i + 1 + k], "big"), i + 1 + k

    assert der[0] == 0x30, "not a DER SEQUENCE"
    _, i = read_len(der, 1)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02, "not a DER INTEGER"
        n, i = read_len(der, i + 1)
        out += int.from_bytes(der[i:i + n], "big").to_bytes(32, "big")
        i += n
    return out


def _openssl(args, data):
    p = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=30)
    return p


def es256_sign(pem_path, signing_input):
    """JOSE ES256 signature (R||S) of signing_input with the private key in pem_path."""
    p = _openssl(["dgst", "-sha256", "-sign", str(pem_path)], signing_input.encode())
    assert p.returncode == 0, "openssl dgst -sign failed: %s" % p.stderr.decode(errors="replace")
    return der_sig_to_raw(p.stdout)


def es256_verify(jwk, token):
    """True when token's signature verifies with the public JWK (checked by openssl)."""
    h, p, s = token.split(".")
    sig = b64u_decode(s)
    if len(sig) != 64:
        return False
    with tempfile.TemporaryDirectory() as d:
        pub = Path(d) / "pub.pem"
        pub.write_text(jwk_to_pem(jwk))
        sigf = Path(d) / "sig.der"
        sigf.write_bytes(raw_sig_to_der(sig))
        r = _openssl(["dgst", "-sha256", "-verify", str(pub), "-signature", str(sigf)],
                     ("%s.%s" % (h, p)).encode())
    return r.returncode == 0


def es256_token(pem_path, header, payload):
    signing_input = "%s.%s" % (b64u_json(header), b64u_json(payload))
    return signing_input + "." + b64u(es256_sign(pem_path, signing_input))


def new_p256_key(directory):
    """A fresh (foreign) P-256 private key; its PEM path."""
    path = Path(directory) / ("foreign-%s.pem" % uuid.uuid4().hex)
    p = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", str(path)],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, "openssl genpkey failed: %s" % p.stderr.decode(errors="replace")
    return path


def p256_kid(pem_path):
    """RFC 7638 thumbprint (base64url SHA-256) of a P-256 key file's public half."""
    p = subprocess.run(["openssl", "pkey", "-in", str(pem_path), "-pubout", "-outform", "DER"],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, "openssl pkey failed: %s" % p.stderr.decode(errors="replace")
    der = p.stdout
    assert der.startswith(_P256_SPKI_PREFIX) and len(der) == len(_P256_SPKI_PREFIX) + 65
    point = der[len(_P256_SPKI_PREFIX) + 1:]
    jwk = {"crv": "P-256", "kty": "EC", "x": b64u(point[:32]), "y": b64u(point[32:])}
    canon = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    return b64u(hashlib.sha256(canon).digest()), jwk


def registered_signing_key(stack, directory):
    """A key of the test's own whose public half is registered in jwt_keys as an
    older, verification-only key (the stack's own private halves are sealed by its
    vault and never leave it). Tokens it signs pass the signature check, so that
    only the claims decide. Returns (private key path, kid)."""
    path = new_p256_key(directory)
    kid, jwk = p256_kid(path)
    pem = jwk_to_pem(jwk)
    sql = ("INSERT INTO jwt_keys (kid, public_pem, created_at) VALUES "
           "('%s', '%s', now() - interval '1 hour')" % (kid, pem))
    subprocess.run(
        ["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
         "-h", stack["PGHOST"], "-p", stack["PGPORT"], "-U", "postgres",
         "-d", stack.get("PGDATABASE", "accupredix"), "-c", sql],
        capture_output=True, text=True, timeout=30, check=True)
    return path, kid


# ------------------------------------------------------------------ accounts

def strong_password(nbytes=24):
    """Random-looking ASCII of exactly nbytes bytes (letters, digits, - and _)."""
    pw = ""
    while len(pw) < nbytes:
        pw += secrets.token_urlsafe(nbytes)
    pw = "Q7" + pw[:nbytes - 2] if nbytes >= 2 else pw[:nbytes]
    assert len(pw.encode()) == nbytes
    return pw


def unique_email(prefix="t"):
    return "%s-%s@example.test" % (prefix, uuid.uuid4().hex)


def random_net_addr():
    """An address of a random IPv6 /64 of the documentation prefix: the
    stack trusts X-Forwarded-For from loopback, so each caller that says it
    comes from one gets its own per-network registration budget."""
    return "2001:db8:%x:%x::1" % (secrets.randbits(16), secrets.randbits(16))


def register(http, email, password, name="Test User", expect=202, **kw):
    remember(password)
    headers = dict(kw.pop("headers", None) or {})
    headers.setdefault("X-Forwarded-For", random_net_addr())
    r = http.post(REGISTER, json={"email": email, "password": password, "name": name},
                  headers=headers, **kw)
    if expect is not None:
        assert r.status_code == expect, describe(r)
    return r


def stack_sql(sql, base=None):
    """One statement against the control database of the stack at BASE (this
    run's by default) as the superuser (psql); its output lines."""
    from apxtest import stack_of
    st = stack_of(base)
    p = subprocess.run(
        ["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
         "-h", st["PGHOST"], "-p", st["PGPORT"], "-U", "postgres",
         "-d", st.get("PGDATABASE", "accupredix"), "-c", sql],
        capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, "psql failed: %s" % p.stderr
    return p.stdout.splitlines()


def verify_by_sql(email, base=None):
    """Mark the account of EMAIL verified, as its owner's click on the mailed
    link would (test_accounts.py tests the link itself); its id."""
    out = stack_sql("UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) "
                    "WHERE email_norm = lower('%s') RETURNING id" % email.replace("'", "''"),
                    base)
    assert out, "no account for %s" % email
    return int(out[0])


def new_user(http, name=None, verified=True):
    """A freshly registered account: dict(email, password, name, id); its
    address verified unless VERIFIED is false."""
    email = unique_email()
    password = strong_password()
    name = name or ("Test User %s" % uuid.uuid4().hex[:8])
    register(http, email, password, name)
    base = getattr(http, "base", None)
    if verified:
        uid = verify_by_sql(email, base)
    else:
        uid = int(stack_sql("SELECT id FROM users WHERE email_norm = lower('%s')"
                            % email.replace("'", "''"), base)[0])
    return {"email": email, "password": password, "name": name, "id": uid}


def age_refresh_token(token, seconds=3600):
    """Make a spent refresh token look spent SECONDS ago: past the grace in
    which a second tab gets its successor, its reuse is a replay."""
    stack_sql("UPDATE refresh_tokens SET spent_at = spent_at - make_interval(secs => %d) "
              "WHERE token_hash = sha256(convert_to('%s', 'UTF8'))"
              % (int(seconds), token.replace("'", "''")))


def login_raw(http, email, password, headers=None):
    remember(password)
    r = http.post(LOGIN, json={"email": email, "password": password}, headers=headers or {})
    if r.status_code == 200 and media_type(r) == "application/json":
        body = r.json()
        remember(body.get("access_token"), body.get("refresh_token"))
        remember(*[c["value"] for c in set_cookies(r).values()
                   if c["name"] in (COOKIE_ACCESS, COOKIE_REFRESH)])
    return r


def login(http, user, user_agent=None):
    """Log user in; the 200 answer's JSON body (plus '_resp')."""
    headers = {"User-Agent": user_agent} if user_agent else {}
    r = login_raw(http, user["email"], user["password"], headers)
    if r.status_code == 429:
        raise AssertionError(
            "login refused with 429: the per-address throttle (30 failed logins / 15 min from "
            "127.0.0.1) is probably used up by earlier runs against this stack (test_auth.py "
            "fails 11 logins per run); wait 15 minutes or start a fresh stack%s" % describe(r))
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json", describe(r)
    body = r.json()
    body["_resp"] = r
    return body


def refresh_raw(http, refresh_token=None, cookie=None, origin="https://app.example.test"):
    if cookie is not None:
        headers = {"Cookie": "%s=%s" % (COOKIE_REFRESH, cookie)}
        if origin is not None:
            headers["Origin"] = origin
        r = http.post(REFRESH, headers=headers)
    else:
        r = http.post(REFRESH, json={"refresh_token": refresh_token})
    if r.status_code == 200 and media_type(r) == "application/json":
        body = r.json()
        remember(body.get("access_token"), body.get("refresh_token"))
        remember(*[c["value"] for c in set_cookies(r).values()
                   if c["name"] in (COOKIE_ACCESS, COOKIE_REFRESH)])
    return r


def bearer(token):
    return {"Authorization": "Bearer " + token}


def me(http, token):
    return http.get(ME, headers=bearer(token))


# ------------------------------------------------------------------ cookies

def set_cookie_lines(resp):
    return list(resp.raw.headers.getlist("Set-Cookie"))


def parse_set_cookie(line):
    """{'name','value','attrs': {lower-name: value or True}, 'line'}."""
    parts = [p.strip() for p in line.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return {"name": name.strip(), "value": value.strip(), "attrs": attrs, "line": line}


def set_cookies(resp):
    """name -> parsed Set-Cookie (the last one of each name)."""
    out = {}
    for line in set_cookie_lines(resp):
        c = parse_set_cookie(line)
        out[c["name"]] = c
    return out


def cookie_header(cookies):
    """A Cookie: header value from {name: value}."""
    return "; ".join("%s=%s" % kv for kv in cookies.items())


def login_cookies(body):
    """{name: value} of the three session cookies a login/refresh answer set."""
    got = set_cookies(body["_resp"])
    return {n: got[n]["value"] for n in (COOKIE_ACCESS, COOKIE_REFRESH, COOKIE_CSRF) if n in got}


# ------------------------------------------------------------------ logs

def log_files(stack):
    """Log files of the stack: everything log-like under STACK_DIR (and LOG_DIR /
    STAGE_DIR outside it), plus ERROR_LOG, ACCESS_LOG, PG_LOG."""
    roots = [Path(stack["STACK_DIR"])]
    for key in ("LOG_DIR", "STAGE_DIR"):
        if stack.get(key) and Path(stack[key]).is_dir():
            roots.append(Path(stack[key]))
    files = set()
    for extra in ("ERROR_LOG", "ACCESS_LOG", "PG_LOG"):
        if stack.get(extra) and Path(stack[extra]).is_file():
            files.add(Path(stack[extra]).resolve())
    for root in roots:
        for dirpath, _dirnames, filenames in os.walk(root):
            rel = Path(dirpath).relative_to(root).parts
            if "data" in rel and "pg" in rel:
                continue
            in_log_dir = any(p.lower() in ("log", "logs", "pg_log", "sanitizer") for p in rel)
            in_log_dir = in_log_dir or root.name.lower() in ("log", "logs")
            for f in filenames:
                p = Path(dirpath) / f
                name = f.lower()
                if name.endswith((".conf", ".env", ".sock", ".pid", ".json", ".html", ".pem")):
                    continue
                if in_log_dir or name.endswith(".log") or "log" in name:
                    if p.is_file():
                        files.add(p.resolve())
    return sorted(files)
