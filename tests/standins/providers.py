#!/usr/bin/python3
"""Loopback stand-in for the OAuth endpoints of Shopify, Intuit QuickBooks Online and Xero.

Used by AccuPredix's integration tests and dev stack in place of the real providers.
Python 3 standard library only; plain HTTP on 127.0.0.1; one port serves all three
providers under the prefixes /shopify/{label}, /intuit and /xero, plus a test control
API under /_control.  Everything lives in memory behind one lock.  See README.md.

    /usr/bin/python3 tests/standins/providers.py --port 0 --config cfg.json \
        [--pidfile F] [--log F]

The log holds one line per request: time, method, path without query, status.  It never
holds a token, code or secret (paths carry only store labels and realm ids).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

PROVIDERS = ("shopify", "intuit", "xero")
GRANT_TYPES = ("authorization_code", "refresh_token")
CODE_TTL = 600          # seconds an authorization code stays redeemable
MAX_BODY = 1 << 20

# Per-provider knobs; the config file's provider sections and POST /_control/config
# may override any of them.
DEFAULT_KNOBS = {
    "shopify": {"expires_in": 3600, "refresh_expires_in": 7776000, "refresh_delay_ms": 0,
                "drop_refresh_responses": 0, "timestamp_offset": 0},
    "intuit": {"expires_in": 3600, "refresh_expires_in": 8726400, "refresh_delay_ms": 0,
               "drop_refresh_responses": 0, "realm_id": "9130354872341234",
               "consent": "allow"},
    "xero": {"expires_in": 1800, "refresh_expires_in": 5184000, "refresh_delay_ms": 0,
             "drop_refresh_responses": 0, "xero_grace": 1800, "consent": "allow"},
}

# Stable tenant ids (the same on every run) for GET /xero/connections.
XERO_TENANTS = [(name, str(uuid.uuid5(uuid.NAMESPACE_URL, "accupredix-standin:xero:" + name)))
                for name in ("Demo Org A", "Demo Org B")]

SHOP_LABEL = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*$")


def shopify_hmac(secret, params):
    """Shopify's callback hmac: drop hmac and signature, sort by key, join k=v with '&',
    HMAC-SHA256 with the client secret, lower-case hex."""
    msg = "&".join(f"{k}={v}" for k, v in sorted(params.items())
                   if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()


def s256(verifier):
    """RFC 7636 S256 code challenge: base64url without padding of sha256(verifier)."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def same(a, b):
    """Constant-time string comparison that tolerates None."""
    return a is not None and b is not None and hmac.compare_digest(str(a).encode(), str(b).encode())


class OAuthError(Exception):
    """An error answered as JSON {"error": ...} with the given HTTP status."""

    def __init__(self, status, error):
        super().__init__(error)
        self.status, self.error = status, error


# ----------------------------------------------------------------------------- state

@dataclass(eq=False)
class Grant:
    """One consent: a code exchange and every token descended from it."""
    provider: str
    client_id: str
    scope: str
    shop: str = ""            # Shopify label
    realm: str = ""           # Intuit realmId
    auth_event: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: float = field(default_factory=time.time)
    revoked: bool = False


@dataclass(eq=False)
class Code:
    provider: str
    client_id: str
    redirect_uri: str
    scope: str
    expires_at: float
    shop: str = ""
    realm: str = ""
    challenge: str = ""
    used: bool = False


@dataclass(eq=False)
class Refresh:
    grant: Grant
    expires_at: float
    successor: str = ""             # the refresh token that replaced this one
    rotated_at: float = 0.0
    dead: bool = False


@dataclass(eq=False)
class Access:
    grant: Grant
    expires_at: float
    releases: list = field(default_factory=list)   # Shopify: Refresh tokens killed on first use


class Store:
    """All in-memory state; every public method takes the lock."""

    def __init__(self, cfg):
        self.lock = threading.Lock()
        self.clients = {p: (cfg.get(p) or {}) for p in PROVIDERS}
        self.redirect_uris = list(cfg.get("redirect_uris") or [])
        self.knobs = {p: dict(DEFAULT_KNOBS[p]) for p in PROVIDERS}
        for p in PROVIDERS:
            self.set_knobs(p, {k: v for k, v in self.clients[p].items() if k in self.knobs[p]})
        self.codes, self.access, self.refresh, self.grants = {}, {}, {}, []
        self.issued = []
        self.reset_stats()

    # -- helpers (caller holds the lock unless stated)
    def reset_stats(self):
        self.stats = {
            "token_calls": {p: {g: 0 for g in GRANT_TYPES} for p in PROVIDERS},
            "token_errors": {p: 0 for p in PROVIDERS},
            "revocations": {p: 0 for p in PROVIDERS},
            "api_calls": {p: 0 for p in PROVIDERS},
            "api_rejected": {p: 0 for p in PROVIDERS},
            "authorizations": {p: 0 for p in PROVIDERS},
        }

    def count(self, kind, provider, sub=None):
        with self.lock:
            if sub is None:
                self.stats[kind][provider] += 1
            else:
                self.stats[kind][provider][sub] += 1

    def knob(self, provider, name):
        with self.lock:
            return self.knobs[provider][name]

    def _token(self):
        t = secrets.token_urlsafe(32)
        self.issued.append(t)
        return t

    def client_ok(self, provider, client_id, secret=None, check_secret=True):
        c = self.clients.get(provider) or {}
        if not same(client_id, c.get("client_id")):
            return False
        return not check_secret or same(secret, c.get("client_secret"))

    def client_secret(self, provider):
        return (self.clients.get(provider) or {}).get("client_secret", "")

    def redirect_ok(self, uri):
        return any(same(uri, u) for u in self.redirect_uris)

    def _mint(self, grant, refresh_token=None, with_refresh=True):
        """New access token (and a new refresh token unless one is given) for grant."""
        kn = self.knobs[grant.provider]
        now = time.time()
        at = self._token()
        self.access[at] = Access(grant, now + float(kn["expires_in"]))
        rt = refresh_token
        if rt is None and with_refresh:
            rt = self._token()
            self.refresh[rt] = Refresh(grant, now + float(kn["refresh_expires_in"]))
        return at, rt

    # -- authorization codes
    def new_code(self, **kw):
        with self.lock:
            code = self._token()
            self.codes[code] = Code(expires_at=time.time() + CODE_TTL, **kw)
            self.stats["authorizations"][kw["provider"]] += 1
            return code

    def redeem(self, provider, code, client_id, shop=None, redirect_uri=None, verifier=None,
               with_refresh=True):
        """Exchange a code once; returns (grant, access, refresh).  Raises OAuthError."""
        with self.lock:
            c = self.codes.get(code or "")
            if c is None or c.provider != provider or c.used or c.expires_at < time.time():
                raise OAuthError(400, "invalid_grant")
            c.used = True        # single use, even when the checks below fail
            if not same(c.client_id, client_id):
                raise OAuthError(400, "invalid_grant")
            if shop is not None and c.shop != shop:
                raise OAuthError(400, "invalid_grant")
            if redirect_uri is not None and not same(c.redirect_uri, redirect_uri):
                raise OAuthError(400, "invalid_grant")
            if c.challenge and not (verifier and same(s256(verifier), c.challenge)):
                raise OAuthError(400, "invalid_grant")
            grant = Grant(provider, c.client_id, c.scope, shop=c.shop, realm=c.realm)
            self.grants.append(grant)
            if provider == "xero":      # Xero: no refresh token without offline_access
                with_refresh = "offline_access" in c.scope.split()
            at, rt = self._mint(grant, with_refresh=with_refresh)
            return grant, at, rt

    # -- refresh tokens
    def rotate(self, provider, token, client_id, shop=None):
        """Refresh-token grant; returns (grant, access, refresh).  Raises OAuthError.

        intuit : the old token dies at once.
        xero   : the old token answers again for xero_grace seconds after rotation, with
                 a fresh access token and the SAME new refresh token as the first time.
        shopify: the old token answers the same way until an access token it produced
                 is first used on the API.
        """
        with self.lock:
            now = time.time()
            r = self.refresh.get(token or "")
            if (r is None or r.dead or r.expires_at < now or r.grant.revoked
                    or r.grant.provider != provider or not same(r.grant.client_id, client_id)
                    or (shop is not None and r.grant.shop != shop)):
                raise OAuthError(400, "invalid_grant")
            if not r.successor:
                at, rt = self._mint(r.grant)
                r.successor, r.rotated_at = rt, now
                if provider == "intuit":
                    r.dead = True
                elif provider == "shopify":
                    self.access[at].releases.append(r)
                return r.grant, at, rt
            # already rotated: a retry of the old token
            if provider == "xero" and now - r.rotated_at > float(self.knobs["xero"]["xero_grace"]):
                r.dead = True
                raise OAuthError(400, "invalid_grant")
            at, _ = self._mint(r.grant, refresh_token=r.successor)
            if provider == "shopify":
                self.access[at].releases.append(r)
            return r.grant, at, r.successor

    # -- access tokens
    def use_access(self, provider, token, shop=None):
        """The grant behind a live access token, or None.  Shopify: first use of a
        refreshed access token retires the refresh token it replaced."""
        with self.lock:
            a = self.access.get(token or "")
            if (a is None or a.grant.revoked or a.grant.provider != provider
                    or a.expires_at < time.time() or (shop is not None and a.grant.shop != shop)):
                return None
            for r in a.releases:
                r.dead = True
            a.releases = []
            return a.grant

    # -- revocation
    def find_grant(self, provider, token):
        with self.lock:
            rec = self.access.get(token or "") or self.refresh.get(token or "")
            if rec is not None and rec.grant.provider == provider:
                return rec.grant
            return None

    def revoke(self, grant, whole_shop=False):
        with self.lock:
            for g in self.grants:
                if g is grant or (whole_shop and g.provider == "shopify" and g.shop == grant.shop
                                  and g.client_id == grant.client_id):
                    g.revoked = True

    def revoke_all(self, provider):
        with self.lock:
            n = 0
            for g in self.grants:
                if g.provider == provider and not g.revoked:
                    g.revoked, n = True, n + 1
            for c in self.codes.values():
                if c.provider == provider:
                    c.used = True
            return n

    # -- control
    def set_knobs(self, provider, values):
        with self.lock:
            kn = self.knobs[provider]
            for k, v in values.items():
                if k not in kn:
                    raise OAuthError(400, "unknown knob for %s: %s" % (provider, k))
                if k == "consent" and v not in ("allow", "deny"):
                    raise OAuthError(400, "consent must be allow or deny")
                if k not in ("consent", "realm_id") and not isinstance(v, (int, float)):
                    raise OAuthError(400, "%s must be a number" % k)
                kn[k] = str(v) if k == "realm_id" else v
            return dict(kn)

    def take_drop(self, provider):
        """True (and one fewer left) when the next refresh answer is to be lost."""
        with self.lock:
            if self.knobs[provider]["drop_refresh_responses"] > 0:
                self.knobs[provider]["drop_refresh_responses"] -= 1
                return True
            return False

    def secret_list(self):
        with self.lock:
            out = [c.get("client_secret") for c in self.clients.values() if c.get("client_secret")]
            return out + list(self.issued)

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.stats))


# ----------------------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    """Routes requests to the provider and control handlers below."""
    protocol_version = "HTTP/1.1"
    server_version = "accupredix-provider-standin/1"
    ROUTES = []      # filled after the class body: (method, compiled regex, function name)

    # -- plumbing
    def log_message(self, fmt, *args):      # the default log carries the query string
        pass

    def log_request(self, code="-", size="-"):
        path = urlsplit(self.path or "").path if getattr(self, "path", None) else "-"
        self.server.log_line("%s %s %s" % (self.command or "-", path, code))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        parts = urlsplit(self.path)
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.store = self.server.store
        self._body = None
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if not 0 <= n <= MAX_BODY:
            self.close_connection = True
            return self.send_json(400 if n < 0 else 413, {"error": "invalid_request"})
        # read the body now, so that an early error cannot leave it in a kept-alive stream
        self._raw = self.rfile.read(n) if n else b""
        try:
            for m, rx, name in self.ROUTES:
                match = rx.match(parts.path)
                if match and m == method:
                    return getattr(self, name)(*match.groups())
            if any(rx.match(parts.path) for _, rx, _ in self.ROUTES):
                return self.send_json(405, {"error": "method_not_allowed"})
            return self.send_json(404, {"error": "not_found"})
        except OAuthError as e:
            return self.send_json(e.status, {"error": e.error})
        except Exception as e:      # never echo details: they might hold a token
            self.server.log_line("exception %s" % type(e).__name__)
            return self.send_json(500, {"error": "server_error"})

    def body(self):
        """The request body as a dict: JSON object or form, whichever it is."""
        if self._body is None:
            ctype = (self.headers.get("Content-Type") or "").lower()
            text = self._raw.decode("utf-8", "replace")
            if "json" in ctype or text.lstrip().startswith("{"):
                try:
                    data = json.loads(text or "{}")
                except ValueError:
                    raise OAuthError(400, "invalid_request")
                if not isinstance(data, dict):
                    raise OAuthError(400, "invalid_request")
                self._body = {k: v if isinstance(v, str) else str(v) for k, v in data.items()}
                self._json = data
            else:
                self._body = dict(parse_qsl(text, keep_blank_values=True))
                self._json = dict(self._body)
        return self._body

    def send_raw(self, status, payload, ctype, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def send_json(self, status, obj, headers=None):
        self.send_raw(status, json.dumps(obj).encode(), "application/json", headers)

    def send_text(self, status, text):
        self.send_raw(status, (text + "\n").encode(), "text/plain; charset=utf-8")

    def redirect(self, uri, params):
        target = uri + ("&" if "?" in uri else "?") + urlencode(params)
        self.send_raw(302, b"", "text/plain", {"Location": target})

    def basic_client(self, provider):
        """Checks HTTP Basic client credentials; returns client_id or raises 401."""
        auth = self.headers.get("Authorization") or ""
        if auth[:6].lower() == "basic ":
            try:
                cid, _, sec = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
            except ValueError:
                cid = sec = None
            if cid is not None:
                for a, b in ((cid, sec), (unquote(cid), unquote(sec))):
                    if self.store.client_ok(provider, a, b):
                        return a
        raise OAuthError(401, "invalid_client")

    def bearer(self):
        auth = self.headers.get("Authorization") or ""
        return auth[7:].strip() if auth[:7].lower() == "bearer " else None

    def refresh_delay(self, provider):
        ms = self.store.knob(provider, "refresh_delay_ms")
        if ms:
            time.sleep(float(ms) / 1000.0)

    def token_answer(self, provider, grant_type, payload):
        """Send a token-endpoint answer, unless drop_refresh_responses says to lose it."""
        if grant_type == "refresh_token" and self.store.take_drop(provider):
            self.close_connection = True
            self.server.log_line("%s %s dropped" % (self.command, urlsplit(self.path).path))
            return
        self.send_json(200, payload)

    def token_call(self, provider, grant_type):
        if grant_type in GRANT_TYPES:
            self.store.count("token_calls", provider, grant_type)

    # -- Shopify
    def shopify_authorize(self, label):
        q = self.query
        if not SHOP_LABEL.match(label):
            return self.send_text(400, "invalid shop")
        if not self.store.client_ok("shopify", q.get("client_id"), check_secret=False):
            return self.send_text(400, "Oauth error invalid_request: client_id is invalid")
        if not self.store.redirect_ok(q.get("redirect_uri")):
            return self.send_text(400, "Oauth error invalid_request: redirect_uri is not whitelisted")
        scope = ",".join(s for s in re.split(r"[ ,]+", q.get("scope") or "") if s) \
            or "read_orders,read_products"
        code = self.store.new_code(provider="shopify", client_id=q["client_id"],
                                   redirect_uri=q["redirect_uri"], scope=scope, shop=label)
        params = {
            "code": code,
            "host": base64.b64encode(("admin.shopify.com/store/" + label).encode()).decode(),
            "shop": label + ".myshopify.com",
            "timestamp": str(int(time.time() + float(self.store.knob("shopify", "timestamp_offset")))),
        }
        if "state" in q:
            params["state"] = q["state"]
        params["hmac"] = shopify_hmac(self.store.client_secret("shopify"), params)
        self.redirect(q["redirect_uri"], params)

    def shopify_token(self, label):
        b = self.body()
        gt = b.get("grant_type") or ("refresh_token" if "refresh_token" in b else "authorization_code")
        self.token_call("shopify", gt)
        try:
            if not self.store.client_ok("shopify", b.get("client_id"), b.get("client_secret")):
                raise OAuthError(401, "invalid_client")
            if gt == "authorization_code":
                expiring = str(b.get("expiring", "")).lower() in ("1", "true")
                grant, at, rt = self.store.redeem("shopify", b.get("code"), b.get("client_id"),
                                                  shop=label, with_refresh=expiring)
            elif gt == "refresh_token":
                self.refresh_delay("shopify")
                grant, at, rt = self.store.rotate("shopify", b.get("refresh_token"),
                                                  b.get("client_id"), shop=label)
                expiring = True
            else:
                raise OAuthError(400, "unsupported_grant_type")
        except OAuthError:
            self.store.count("token_errors", "shopify")
            raise
        out = {"access_token": at, "scope": grant.scope}
        if expiring:
            out.update(expires_in=int(self.store.knob("shopify", "expires_in")), refresh_token=rt,
                       refresh_token_expires_in=int(self.store.knob("shopify", "refresh_expires_in")))
        self.token_answer("shopify", gt, out)

    def shopify_grant(self, label):
        self.store.count("api_calls", "shopify")
        grant = self.store.use_access("shopify", self.headers.get("X-Shopify-Access-Token"), label)
        if grant is None:
            self.store.count("api_rejected", "shopify")
            self.send_json(401, {"errors": "[API] Invalid API key or access token "
                                           "(unrecognized login or wrong password)"})
            return None
        return grant

    def shopify_shop(self, label, version):
        if self.shopify_grant(label):
            self.send_json(200, {"shop": {"name": label.replace("-", " ").title(),
                                          "myshopify_domain": label + ".myshopify.com",
                                          "domain": label + ".myshopify.com"}})

    def shopify_uninstall(self, label):
        grant = self.shopify_grant(label)
        if grant:
            self.store.count("revocations", "shopify")
            self.store.revoke(grant, whole_shop=True)
            self.send_json(200, {})

    # -- Intuit and Xero
    def oauth_authorize(self, provider):
        """Intuit and Xero authorize: auto-consent (unless the consent knob says deny)."""
        q = self.query
        if not self.store.client_ok(provider, q.get("client_id"), check_secret=False):
            return self.send_text(400, "invalid client_id")
        if not self.store.redirect_ok(q.get("redirect_uri")):
            return self.send_text(400, "redirect_uri is not registered")
        back = {"state": q["state"]} if "state" in q else {}
        challenge = q.get("code_challenge", "") if provider == "xero" else ""
        if (q.get("response_type") != "code" or not q.get("scope")
                or (challenge and q.get("code_challenge_method") != "S256")):
            return self.redirect(q["redirect_uri"], dict(error="invalid_request", **back))
        if self.store.knob(provider, "consent") == "deny":
            return self.redirect(q["redirect_uri"], dict(error="access_denied", **back))
        realm = self.store.knob("intuit", "realm_id") if provider == "intuit" else ""
        code = self.store.new_code(provider=provider, client_id=q["client_id"], realm=realm,
                                   redirect_uri=q["redirect_uri"], scope=q["scope"],
                                   challenge=challenge)
        extra = ({"realmId": realm} if provider == "intuit"
                 else {"scope": q["scope"], "session_state": secrets.token_hex(16)})
        self.redirect(q["redirect_uri"], dict(code=code, **back, **extra))

    def basic_token(self, provider):
        """Intuit and Xero token endpoint: Basic client auth, form body."""
        b = self.body()
        gt = b.get("grant_type", "")
        self.token_call(provider, gt)
        try:
            cid = self.basic_client(provider)
            if gt == "authorization_code":
                return gt, self.store.redeem(provider, b.get("code"), cid,
                                             redirect_uri=b.get("redirect_uri") or "",
                                             verifier=b.get("code_verifier"))
            if gt == "refresh_token":
                self.refresh_delay(provider)
                return gt, self.store.rotate(provider, b.get("refresh_token"), cid)
            raise OAuthError(400, "unsupported_grant_type")
        except OAuthError:
            self.store.count("token_errors", provider)
            raise

    def basic_revoke(self, provider):
        """Intuit and Xero revocation: Basic client auth, token in a JSON or form body;
        a known token revokes its whole grant, an unknown one is answered 200 too."""
        self.basic_client(provider)
        self.store.count("revocations", provider)
        token = self.body().get("token")
        if not token:
            raise OAuthError(400, "invalid_request")
        grant = self.store.find_grant(provider, token)
        if grant is not None:
            self.store.revoke(grant)
        self.send_raw(200, b"", "application/json")

    def intuit_token(self):
        gt, (grant, at, rt) = self.basic_token("intuit")
        self.token_answer("intuit", gt, {
            "access_token": at, "refresh_token": rt, "token_type": "bearer",
            "expires_in": int(self.store.knob("intuit", "expires_in")),
            "x_refresh_token_expires_in": int(self.store.knob("intuit", "refresh_expires_in"))})

    def intuit_company(self, realm, realm2):
        self.store.count("api_calls", "intuit")
        grant = self.store.use_access("intuit", self.bearer())
        if grant is None or grant.realm != realm or realm2 != realm:
            self.store.count("api_rejected", "intuit")
            return self.send_json(401, {"fault": {"type": "AUTHENTICATION", "error": [{
                "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "detail": "Token invalid or expired", "code": "3200"}]}},
                {"WWW-Authenticate": 'Bearer realm="Intuit"'})
        self.send_json(200, {"CompanyInfo": {"CompanyName": "Demo Company", "Id": realm,
                                             "Country": "US"},
                             "time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())})

    # -- Xero
    def xero_token(self):
        gt, (grant, at, rt) = self.basic_token("xero")
        out = {"access_token": at, "expires_in": int(self.store.knob("xero", "expires_in")),
               "token_type": "Bearer", "scope": grant.scope}
        if rt:
            out["refresh_token"] = rt
        self.token_answer("xero", gt, out)

    def xero_connections(self):
        self.store.count("api_calls", "xero")
        grant = self.store.use_access("xero", self.bearer())
        if grant is None:
            self.store.count("api_rejected", "xero")
            return self.send_json(401, {"Type": None, "Title": "Unauthorized", "Status": 401,
                                        "Detail": "AuthenticationUnsuccessful"},
                                  {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        when = time.strftime("%Y-%m-%dT%H:%M:%S.0000000", time.gmtime(grant.created))
        self.send_json(200, [{
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "accupredix-standin:conn:%s:%s"
                                 % (grant.client_id, tid))),
            "authEventId": grant.auth_event, "tenantId": tid, "tenantType": "ORGANISATION",
            "tenantName": name, "createdDateUtc": when, "updatedDateUtc": when}
            for name, tid in XERO_TENANTS])

    # -- control API
    def control_provider(self):
        p = self.body().get("provider")
        if p not in PROVIDERS:
            raise OAuthError(400, "provider must be one of " + ", ".join(PROVIDERS))
        return p

    def control_stats(self):
        self.send_json(200, self.store.snapshot())

    def control_reset_stats(self):
        with self.store.lock:
            self.store.reset_stats()
        self.send_json(200, {"ok": True})

    def control_config_get(self):
        with self.store.lock:
            self.send_json(200, json.loads(json.dumps(self.store.knobs)))

    def control_config(self):
        p = self.control_provider()
        values = {k: v for k, v in self._json.items() if k != "provider"}
        self.send_json(200, {"provider": p, "knobs": self.store.set_knobs(p, values)})

    def control_revoke_all(self):
        p = self.control_provider()
        self.send_json(200, {"provider": p, "revoked_grants": self.store.revoke_all(p)})

    def control_secrets(self):
        self.send_json(200, self.store.secret_list())


_L = r"([^/]+)"
Handler.ROUTES = [(m, re.compile("^" + rx + "$"), fn) for m, rx, fn in [
    ("GET", r"/shopify/%s/admin/oauth/authorize" % _L, "shopify_authorize"),
    ("POST", r"/shopify/%s/admin/oauth/access_token" % _L, "shopify_token"),
    ("GET", r"/shopify/%s/admin/api/%s/shop\.json" % (_L, _L), "shopify_shop"),
    ("DELETE", r"/shopify/%s/admin/api_permissions/current\.json" % _L, "shopify_uninstall"),
    ("GET", r"/(intuit)/connect/oauth2", "oauth_authorize"),
    ("POST", r"/intuit/oauth2/v1/tokens/bearer", "intuit_token"),
    ("POST", r"/(intuit)/v2/oauth2/tokens/revoke", "basic_revoke"),
    ("GET", r"/intuit/v3/company/%s/companyinfo/%s" % (_L, _L), "intuit_company"),
    ("GET", r"/(xero)/identity/connect/authorize", "oauth_authorize"),
    ("POST", r"/xero/identity/connect/token", "xero_token"),
    ("POST", r"/(xero)/identity/connect/revocation", "basic_revoke"),
    ("GET", r"/xero/connections", "xero_connections"),
    ("GET", r"/_control/stats", "control_stats"),
    ("POST", r"/_control/reset-stats", "control_reset_stats"),
    ("GET", r"/_control/config", "control_config_get"),
    ("POST", r"/_control/config", "control_config"),
    ("POST", r"/_control/revoke-all", "control_revoke_all"),
    ("GET", r"/_control/secrets", "control_secrets"),
]]


class Server(ThreadingHTTPServer):
    """Threaded loopback server carrying the store and a query-free request log."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, store, log_path):
        super().__init__(("127.0.0.1", port), Handler)
        self.store = store
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else sys.stderr

    def log_line(self, text):
        with self.log_lock:
            self.log_file.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), text))
            self.log_file.flush()

    def handle_error(self, request, client_address):
        # The default prints a traceback; keep only the exception type.
        self.log_line("connection error %s" % type(sys.exc_info()[1]).__name__)


def load_config(path):
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    if not isinstance(cfg, dict) or not isinstance(cfg.get("redirect_uris", []), list):
        raise SystemExit("config: expected an object with a redirect_uris list")
    return cfg


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0 = any free)")
    ap.add_argument("--config", required=True, help="JSON file with client ids, secrets, redirect_uris")
    ap.add_argument("--pidfile", help="write the process id here")
    ap.add_argument("--log", help="append the request log here (default: stderr)")
    args = ap.parse_args(argv)

    server = Server(args.port, Store(load_config(args.config)), args.log)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("listening 127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        server.log_line("stopped")
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
