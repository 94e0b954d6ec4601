#!/usr/bin/python3
"""Loopback stand-in for the OAuth endpoints of Shopify, Intuit QuickBooks Online and Xero.

Used by AccuPredix's integration tests and dev stack in place of the real providers.
Python 3 standard library only; plain HTTP on 127.0.0.1; one port serves all three
providers under the prefixes /shopify/{label}, /intuit and /xero, plus a test control
API under /_control.  Each provider also serves its sales-data API (Shopify GraphQL
orders, QuickBooks query, Xero Invoices) over deterministic generated datasets, with
pagination, Shopify's cost throttle and injectable 429s and token expiries.
Everything lives in memory behind one lock.  See README.md.

    /usr/bin/python3 tests/standins/providers.py --port 0 --config cfg.json \
        [--pidfile F] [--log F]

The log holds one line per request: time, method, path without query, status.  It never
holds a token, code or secret (paths carry only store labels and realm ids).
"""
import argparse
import base64
import bisect
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from itertools import islice
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

PROVIDERS = ("shopify", "intuit", "xero")
GRANT_TYPES = ("authorization_code", "refresh_token")
CODE_TTL = 600          # seconds an authorization code stays redeemable
MAX_BODY = 1 << 20

# Per-provider knobs; the config file's provider sections and POST /_control/config
# may override any of them.
SALES_KNOBS = {"rate_limit_at": 0, "retry_after": 1, "expire_token_at": 0}
DEFAULT_KNOBS = {
    "shopify": dict({"expires_in": 3600, "refresh_expires_in": 7776000, "refresh_delay_ms": 0,
                     "drop_refresh_responses": 0, "timestamp_offset": 0,
                     "bucket_max": 2000, "restore_rate": 100}, **SALES_KNOBS),
    "intuit": dict({"expires_in": 3600, "refresh_expires_in": 8726400, "refresh_delay_ms": 0,
                    "drop_refresh_responses": 0, "realm_id": "9130354872341234",
                    "consent": "allow"}, **SALES_KNOBS),
    "xero": dict({"expires_in": 1800, "refresh_expires_in": 5184000, "refresh_delay_ms": 0,
                  "drop_refresh_responses": 0, "xero_grace": 1800, "consent": "allow"},
                 **SALES_KNOBS),
}
# One-shot fault knobs: "the N-th sales API call counted from when the knob was set".
FAULT_KNOBS = ("rate_limit_at", "expire_token_at")

# Sales datasets
SALES_DEFAULT_COUNT = 30       # records of an account that was never configured
SALES_MAX = 1000000            # records per account, at most
CURRENCY = {"shopify": "EUR", "intuit": "USD", "xero": "NZD"}
INTUIT_ENTITIES = ("Invoice", "SalesReceipt")      # record i is INTUIT_ENTITIES[i % 2]

# Stable tenant ids (the same on every run) for GET /xero/connections.
XERO_TENANTS = [(name, str(uuid.uuid5(uuid.NAMESPACE_URL, "accupredix-standin:xero:" + name)))
                for name in ("Demo Org A", "Demo Org B")]

SHOP_LABEL = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*$")

# The one query shape the Intuit stand-in understands (keywords in any case).
INTUIT_QUERY = re.compile(
    r"^\s*SELECT\s+\*\s+FROM\s+(Invoice|SalesReceipt)"
    r"(?:\s+WHERE\s+MetaData\.LastUpdatedTime\s*>=\s*'([^']*)')?"
    r"(?:\s+ORDER\s*BY\s+MetaData\.LastUpdatedTime(?:\s+ASC)?)?"
    r"\s+STARTPOSITION\s+(\d{1,9})\s+MAXRESULTS\s+(\d{1,9})\s*$", re.I)


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


# ----------------------------------------------------------------------------- sales data

def iso_z(ts):
    """Shopify / ISO 8601 UTC timestamp: 2026-11-02T10:11:12Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def iso_intuit(ts):
    """Intuit's MetaData style: 2026-11-02T10:11:12-00:00."""
    return time.strftime("%Y-%m-%dT%H:%M:%S-00:00", time.gmtime(ts))


def ms_date(ts):
    """Xero's JSON date: /Date(1730542272000+0000)/."""
    return "/Date(%d+0000)/" % (int(ts) * 1000)


def money(cents):
    return "%s%d.%02d" % ("-" if cents < 0 else "", abs(cents) // 100, abs(cents) % 100)


def parse_instant(text, naive_ok=True, rfc1123=False):
    """Seconds since the epoch for an ISO 8601 instant (Z or an offset; a bare date is its
    midnight; without an offset it is UTC when naive_ok) or, when rfc1123, an HTTP date.
    None when unparseable."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
    except ValueError:
        if not rfc1123:
            return None
        try:
            dt = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if dt.tzinfo is None:
        if not naive_ok:
            return None
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


class Sales:
    """One account's sales records, generated on demand from (seed, index).

    Record i of the first `n_base` ones is never stored: its amount, transaction date and
    processing time come from a hash of (seed, i); it was created/updated at base + i.
    Records changed by update() or appended by add() get an entry in `over` with an
    updated time later than every other record's, and go to the end of the order."""

    def __init__(self, provider, account, count, seed=1, days=90, currency=None, now=None):
        self.provider, self.account = provider, account
        self.seed, self.days = int(seed), int(days)
        self.currency = currency or CURRENCY[provider]
        self.gen = int(now if now is not None else time.time())
        self.base = self.gen - self.days * 86400
        self.today = self.gen - self.gen % 86400          # midnight UTC of generation day
        self.n_base = self.n = int(count)
        self.last = self.base + self.n - 1                # greatest updated time so far
        self.over = {}        # index -> [updated, amount cents or None, voided-at or 0]
        self.tail = []        # indices of `over`, ascending updated
        self.born = []        # created time of appended record n_base + k
        self._order = None
        self._xero_ids = None

    # -- per record
    def _h(self, i):
        d = hashlib.blake2b(b"%d:%d" % (self.seed, i), digest_size=8).digest()
        return int.from_bytes(d, "little")

    def _static(self, i):
        """(amount cents, midnight of the transaction date, processed time) of record i."""
        h = self._h(i)
        off = (h >> 24) % self.days
        tod = (h >> 44) % 86400
        if off == 0:                        # today: not later than the generation time
            tod %= self.gen - self.today + 1
        day = self.today - off * 86400
        return 100 + h % 49901, day, day + tod

    def updated(self, i):
        o = self.over.get(i)
        return o[0] if o else self.base + i

    def key(self, i):
        return (self.updated(i), i)

    def record(self, i):
        """dict: index, cents (current amount), voided (time or 0), day, date, processed,
        created, updated."""
        cents, day, processed = self._static(i)
        born = self.base + i if i < self.n_base else self.born[i - self.n_base]
        o = self.over.get(i)
        voided = 0
        if o:
            cents = o[1] if o[1] is not None else cents
            voided = o[2]
        return {"index": i, "cents": cents, "voided": voided, "day": day,
                "date": time.strftime("%Y-%m-%d", time.gmtime(day)), "processed": processed,
                "created": min(processed, born), "updated": self.updated(i)}

    # -- ids
    def ext_id(self, i):
        if self.provider == "shopify":
            return 1000 + i
        if self.provider == "intuit":
            return str(1 + i)
        return self.xero_id(i)

    def xero_id(self, i):
        """uuid5(NAMESPACE_URL, "accupredix-standin:xero-invoice:{tenant}:{i}"), computed
        without the uuid module's overhead (ids of a large set are mapped in one go)."""
        name = ("accupredix-standin:xero-invoice:%s:%d" % (self.account, i)).encode()
        h = bytearray(hashlib.sha1(uuid.NAMESPACE_URL.bytes + name).digest()[:16])
        h[6], h[8] = (h[6] & 0x0F) | 0x50, (h[8] & 0x3F) | 0x80
        x = h.hex()
        return "%s-%s-%s-%s-%s" % (x[:8], x[8:12], x[12:16], x[16:20], x[20:])

    def index_of(self, ext):
        """Index of a record given its provider id (Shopify also as a gid), or None."""
        i = None
        if self.provider == "xero":
            if self._xero_ids is None or len(self._xero_ids) < self.n:
                self._xero_ids = {self.xero_id(j): j for j in range(self.n)}
            i = self._xero_ids.get(str(ext).lower())
        else:
            text = str(ext).rsplit("/", 1)[-1]
            if text.isdigit():
                i = int(text) - (1000 if self.provider == "shopify" else 1)
        return i if i is not None and 0 <= i < self.n else None

    # -- order (by updated time, then index; updated times are unique)
    def order(self):
        if self._order is None:
            head = (range(self.n_base) if not self.over
                    else [i for i in range(self.n_base) if i not in self.over])
            self._order = list(head) + self.tail
        return self._order

    def start(self, since=None, after=None):
        """Position in order() of the first record updated at or after `since` and after
        the keyset `after` = (updated, index)."""
        order, pos = self.order(), 0
        if since is not None:
            pos = bisect.bisect_left(order, since, key=self.updated)
        if after is not None:
            pos = max(pos, bisect.bisect_right(order, tuple(after), key=self.key))
        return pos

    # -- changes
    def _stamp(self):
        self.last = max(int(time.time()), self.last + 1)
        return self.last

    def _move(self, i, updated):
        if i in self.over:
            self.tail.remove(i)
        self.tail.append(i)
        self._order = None
        return self.over.setdefault(i, [updated, None, 0])

    def update(self, indices, cents=None, void=None):
        for i in dict.fromkeys(indices):
            t = self._stamp()
            o = self._move(i, t)
            o[0] = t
            if cents is not None:
                o[1] = cents
            if void is not None:
                o[2] = (o[2] or t) if void else 0

    def add(self, count):
        out = []
        for _ in range(count):
            i, t = self.n, self._stamp()
            self.n += 1
            self.born.append(t)
            self._move(i, t)
            out.append(i)
        return out

    # -- the truth for tests
    def truth(self):
        total, by_day, dates = 0, {}, {}
        for i in range(self.n):
            if i in self.over:
                r = self.record(i)
                if r["voided"]:
                    continue
                cents, day = r["cents"], r["day"]
            else:
                cents, day, _ = self._static(i)
            total += cents
            by_day[day] = by_day.get(day, 0) + cents
        for day in by_day:
            dates[day] = time.strftime("%Y-%m-%d", time.gmtime(day))
        out = {"provider": self.provider, "account": self.account, "count": self.n,
               "total": money(total), "currency": self.currency,
               "by_day": {dates[d]: money(c) for d, c in sorted(by_day.items())},
               "voided": sum(1 for o in self.over.values() if o[2])}
        if self.provider == "intuit":
            out["entities"] = {INTUIT_ENTITIES[0]: (self.n + 1) // 2,
                               INTUIT_ENTITIES[1]: self.n // 2}
        if self.n <= 1000:
            out["ids"] = [self.ext_id(i) for i in range(self.n)]
        return out


class Store:
    """All in-memory state; every public method takes the lock."""

    def __init__(self, cfg):
        self.lock = threading.Lock()
        self.clients = {p: (cfg.get(p) or {}) for p in PROVIDERS}
        self.redirect_uris = list(cfg.get("redirect_uris") or [])
        self.knobs = {p: dict(DEFAULT_KNOBS[p]) for p in PROVIDERS}
        self.since = {p: {k: 0 for k in FAULT_KNOBS} for p in PROVIDERS}   # sales calls since set
        self.buckets = {}          # Shopify shop label -> [points available, at time]
        self.sales = {}            # (provider, account) -> Sales
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
            "sales_calls": {p: 0 for p in PROVIDERS},
            "rate_limited": {p: 0 for p in PROVIDERS},
            "throttled": {p: 0 for p in PROVIDERS},
            "expired_injected": {p: 0 for p in PROVIDERS},
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
                if k in FAULT_KNOBS:
                    self.since[provider][k] = 0         # count calls from now on
                if k in ("bucket_max", "restore_rate"):
                    self.buckets.clear()                # every shop starts with a full bucket
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

    # -- sales data
    def dataset(self, provider, account):
        """The account's Sales, made with the defaults on first use (caller holds the lock)."""
        ds = self.sales.get((provider, account))
        if ds is None:
            ds = self.sales[(provider, account)] = Sales(provider, account, SALES_DEFAULT_COUNT)
        return ds

    def sales_call(self, provider, token):
        """Counts one sales API call and applies the one-shot faults.  Returns
        "rate_limited" (answer 429), "expired" (the access token was just expired: answer
        401) or None.  When both knobs come due on one call the 429 wins and the expiry
        comes due on the next call."""
        with self.lock:
            st, kn, since = self.stats, self.knobs[provider], self.since[provider]
            st["api_calls"][provider] += 1
            st["sales_calls"][provider] += 1
            for k in FAULT_KNOBS:
                since[k] += 1
            expire_due = 0 < kn["expire_token_at"] <= since["expire_token_at"]
            if 0 < kn["rate_limit_at"] <= since["rate_limit_at"]:
                kn["rate_limit_at"] = 0
                st["rate_limited"][provider] += 1
                if expire_due:
                    since["expire_token_at"] -= 1
                return "rate_limited"
            if expire_due:
                kn["expire_token_at"] = 0
                st["expired_injected"][provider] += 1
                st["api_rejected"][provider] += 1
                a = self.access.get(token or "")
                if a is not None and a.grant.provider == provider:
                    a.expires_at = 0
                return "expired"
            return None

    def _bucket(self, label):
        kn, now = self.knobs["shopify"], time.time()
        b = self.buckets.get(label)
        if b is None:
            b = self.buckets[label] = [float(kn["bucket_max"]), now]
        b[0] = min(float(kn["bucket_max"]), b[0] + (now - b[1]) * float(kn["restore_rate"]))
        b[1] = now
        return b

    def bucket_take(self, label, points):
        """Shopify leaky bucket: takes `points` if that many are available.  Returns
        (taken, currently available after, maximum, restore rate)."""
        with self.lock:
            b, kn = self._bucket(label), self.knobs["shopify"]
            taken = b[0] >= points
            if taken:
                b[0] -= points
            else:
                self.stats["throttled"]["shopify"] += 1
            return taken, b[0], kn["bucket_max"], kn["restore_rate"]

    def bucket_refund(self, label, points):
        with self.lock:
            b = self._bucket(label)
            b[0] = min(float(self.knobs["shopify"]["bucket_max"]), b[0] + points)
            return b[0]


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
            self.unauthorized("shopify")
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
            return self.unauthorized("intuit")
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
            return self.unauthorized("xero")
        when = time.strftime("%Y-%m-%dT%H:%M:%S.0000000", time.gmtime(grant.created))
        self.send_json(200, [{
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "accupredix-standin:conn:%s:%s"
                                 % (grant.client_id, tid))),
            "authEventId": grant.auth_event, "tenantId": tid, "tenantType": "ORGANISATION",
            "tenantName": name, "createdDateUtc": when, "updatedDateUtc": when}
            for name, tid in XERO_TENANTS])

    # -- sales APIs (shared)
    def unauthorized(self, provider):
        """The provider's 401 for a bad, expired or revoked access token."""
        if provider == "shopify":
            return self.send_json(401, {"errors": "[API] Invalid API key or access token "
                                                  "(unrecognized login or wrong password)"})
        if provider == "intuit":
            return self.send_json(401, {"fault": {"type": "AUTHENTICATION", "error": [{
                "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "detail": "Token invalid or expired", "code": "3200"}]}},
                {"WWW-Authenticate": 'Bearer realm="Intuit"'})
        return self.send_json(401, {"Type": None, "Title": "Unauthorized", "Status": 401,
                                    "Detail": "AuthenticationUnsuccessful"},
                              {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def rate_limited(self, provider):
        ra = float(self.store.knob(provider, "retry_after"))
        if provider == "shopify":
            return self.send_json(429, {"errors": "Exceeded 2 calls per second for api client. "
                                                  "Reduce request rates to resume uninterrupted "
                                                  "service."}, {"Retry-After": "%.1f" % ra})
        hdrs = {"Retry-After": str(max(0, math.ceil(ra)))}
        if provider == "intuit":
            return self.send_json(429, {"Fault": {"Error": [{
                "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                "code": "3001"}], "type": "SERVICE"}}, hdrs)
        hdrs["X-Rate-Limit-Problem"] = "minute"
        return self.send_json(429, {"Title": "Too Many Requests"}, hdrs)

    def sales_gate(self, provider, token, shop=None, ok=None):
        """Counts a sales API call, applies the injected faults and checks the access token
        (and ok(grant)).  Returns the grant, or None once the refusal has been sent."""
        fault = self.store.sales_call(provider, token)
        if fault == "rate_limited":
            self.rate_limited(provider)
            return None
        grant = None
        if fault is None:
            grant = self.store.use_access(provider, token, shop=shop)
            if grant is not None and ok is not None and not ok(grant):
                grant = None
            if grant is None:
                self.store.count("api_rejected", provider)
        if grant is None:
            self.unauthorized(provider)
        return grant

    # -- Shopify GraphQL Admin API: orders
    def gql_error(self, message, code="BAD_USER_INPUT", cost=None):
        out = {"errors": [{"message": message, "extensions": {"code": code}}]}
        if cost:
            out["extensions"] = {"cost": cost}
        self.send_json(200, out)

    @staticmethod
    def gql_cost(requested, actual, available, maximum, rate):
        return {"requestedQueryCost": requested, "actualQueryCost": actual,
                "throttleStatus": {"maximumAvailable": float(maximum),
                                   "currentlyAvailable": int(available),
                                   "restoreRate": float(rate)}}

    def shopify_graphql(self, label, version):
        if self.sales_gate("shopify", self.headers.get("X-Shopify-Access-Token"), shop=label) is None:
            return
        try:
            req = json.loads(self._raw.decode("utf-8", "replace") or "null")
        except ValueError:
            req = None
        if not isinstance(req, dict) or not isinstance(req.get("query"), str):
            return self.send_json(400, {"errors": {"query": "Required parameter missing or invalid"}})
        if "orders" not in req["query"]:
            return self.gql_error("this stand-in answers only orders queries", "UNSUPPORTED")
        v = req.get("variables") or {}
        if not isinstance(v, dict):
            return self.gql_error("variables must be an object")
        first = v.get("first")
        first = 50 if first is None else first
        if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first <= 250:
            return self.gql_error("first must be an integer between 1 and 250")
        after = None
        if v.get("after") is not None:
            try:
                after = json.loads(base64.urlsafe_b64decode(str(v["after"]).encode("ascii")))
                if not (isinstance(after, list) and len(after) == 2
                        and all(isinstance(x, int) for x in after)):
                    raise ValueError
            except (ValueError, UnicodeError):
                return self.gql_error("Invalid cursor for current pagination sort.")
        since = None
        filt = v.get("query")
        if filt is not None:
            if not isinstance(filt, str):
                return self.gql_error("query must be a string")
            if "updated_at" in filt:
                m = re.search(r"updated_at\s*:\s*(>=|>)\s*(['\"]?)([^'\"\s]+)\2", filt)
                since = parse_instant(m.group(3)) if m else None
                if since is None:
                    return self.gql_error("only updated_at:>='<ISO instant>' (or >) is understood")
                if m.group(1) == ">":
                    since = math.floor(since) + 1        # updated times are whole seconds
        requested = 2 + first
        maximum = self.store.knob("shopify", "bucket_max")
        if requested > maximum:
            return self.gql_error("Query cost is %d, which exceeds the single query max cost "
                                  "limit (%d)." % (requested, maximum), "MAX_COST_EXCEEDED")
        taken, avail, maximum, rate = self.store.bucket_take(label, requested)
        if not taken:
            return self.send_json(200, {
                "errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": {"cost": self.gql_cost(requested, None, avail, maximum, rate)}})
        with self.store.lock:
            ds = self.store.dataset("shopify", label)
            pos = ds.start(since, after)
            rows = [ds.record(i) for i in ds.order()[pos:pos + first + 1]]
            currency = ds.currency
        more = len(rows) > first
        edges = []
        for r in rows[:first]:
            oid = 1000 + r["index"]
            cursor = base64.urlsafe_b64encode(json.dumps([r["updated"], r["index"]]).encode()).decode()
            edges.append({"cursor": cursor, "node": {
                "id": "gid://shopify/Order/%d" % oid, "legacyResourceId": str(oid),
                "name": "#%d" % oid, "createdAt": iso_z(r["created"]),
                "processedAt": iso_z(r["processed"]), "updatedAt": iso_z(r["updated"]),
                "cancelledAt": iso_z(r["voided"]) if r["voided"] else None, "test": False,
                "currentTotalPriceSet": {"shopMoney": {"amount": money(r["cents"]),
                                                       "currencyCode": currency}}}})
        actual = 2 + len(edges)
        avail = self.store.bucket_refund(label, requested - actual)
        self.send_json(200, {
            "data": {"orders": {"edges": edges, "pageInfo": {
                "hasNextPage": more, "endCursor": edges[-1]["cursor"] if edges else None}}},
            "extensions": {"cost": self.gql_cost(requested, actual, avail, maximum, rate)}})

    # -- Intuit QuickBooks Online query API
    def intuit_query(self, realm):
        if self.sales_gate("intuit", self.bearer(), ok=lambda g: g.realm == realm) is None:
            return
        m = INTUIT_QUERY.match(self.query.get("query", ""))
        since = None
        if m and m.group(2) is not None:
            since = parse_instant(m.group(2), naive_ok=False)
        if (not m or (m.group(2) is not None and since is None)
                or int(m.group(3)) < 1 or not 1 <= int(m.group(4)) <= 1000):
            return self.send_json(400, {"Fault": {"Error": [{"Message": "Error parsing query",
                                                             "code": "4000"}],
                                                  "type": "ValidationFault"}})
        entity = next(e for e in INTUIT_ENTITIES if e.lower() == m.group(1).lower())
        parity, start, limit = INTUIT_ENTITIES.index(entity), int(m.group(3)), int(m.group(4))
        with self.store.lock:
            ds = self.store.dataset("intuit", realm)
            pos = ds.start(since)
            of_type = (i for i in islice(ds.order(), pos, None) if i % 2 == parity)
            rows = [ds.record(i) for i in islice(of_type, start - 1, start - 1 + limit)]
            currency = ds.currency
        items = [{"Id": str(1 + r["index"]), "DocNumber": str(1001 + r["index"]),
                  "TxnDate": r["date"],
                  "TotalAmt": 0 if r["voided"] else r["cents"] / 100,
                  "CurrencyRef": {"value": currency},
                  "PrivateNote": "Voided" if r["voided"] else "",
                  "MetaData": {"CreateTime": iso_intuit(r["created"]),
                               "LastUpdatedTime": iso_intuit(r["updated"])}} for r in rows]
        qr = {entity: items, "startPosition": start, "maxResults": len(items)} if items else {}
        self.send_json(200, {"QueryResponse": qr, "time": time.strftime(
            "%Y-%m-%dT%H:%M:%S.000-00:00", time.gmtime())})

    # -- Xero Accounting API: Invoices
    def xero_invoices(self):
        if self.sales_gate("xero", self.bearer()) is None:
            return
        tenant = (self.headers.get("xero-tenant-id") or "").strip().lower()
        if tenant not in {tid for _, tid in XERO_TENANTS}:
            return self.send_json(403, {"Type": None, "Title": "Forbidden", "Status": 403,
                                        "Detail": "AuthenticationUnsuccessful"})

        def bad(message):
            self.send_json(400, {"ErrorNumber": 10, "Type": "ValidationException",
                                 "Message": message})
        q = self.query
        page, size = q.get("page", "1"), q.get("pageSize", "100")
        if not (page.isdigit() and int(page) >= 1):
            return bad("page must be a positive integer")
        if not (size.isdigit() and 1 <= int(size) <= 1000):
            return bad("pageSize must be an integer between 1 and 1000")
        page, size = int(page), int(size)
        since, ims = None, self.headers.get("If-Modified-Since")
        if ims is not None:
            since = parse_instant(ims, rfc1123=True)
            if since is None:
                return bad("If-Modified-Since must be an HTTP date or an ISO 8601 instant")
        where = re.sub(r"\s+", "", q.get("where", ""))
        none = 'Type=="ACCPAY"' in where and 'Type=="ACCREC"' not in where
        with self.store.lock:
            ds = self.store.dataset("xero", tenant)
            pos = ds.start(since)
            order = ds.order()
            total = 0 if none else len(order) - pos
            lo = pos + (page - 1) * size
            rows = [] if none else [ds.record(i) for i in order[lo:min(lo + size, len(order))]]
            currency = ds.currency
        now_ms = int(time.time() * 1000)
        self.send_json(200, {
            "Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": "AccuPredix",
            "DateTimeUTC": "/Date(%d)/" % now_ms,
            "pagination": {"page": page, "pageSize": size, "pageCount": -(-total // size),
                           "itemCount": total},
            "Invoices": [{"Type": "ACCREC", "InvoiceID": ds.xero_id(r["index"]),
                          "InvoiceNumber": "INV-%04d" % (1 + r["index"]),
                          "Date": ms_date(r["day"]), "DateString": r["date"] + "T00:00:00",
                          "Status": "VOIDED" if r["voided"] else "AUTHORISED",
                          "Total": r["cents"] / 100, "CurrencyCode": currency,
                          "UpdatedDateUTC": ms_date(r["updated"])} for r in rows]})

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

    def sales_account(self, provider, account):
        if not isinstance(account, str) or not account.strip() or len(account) > 200:
            raise OAuthError(400, "account required (shop label, realmId or tenantId)")
        if provider == "shopify" and not SHOP_LABEL.match(account):
            raise OAuthError(400, "account must be a shop label")
        return account.strip().lower() if provider == "xero" else account.strip()

    @staticmethod
    def int_arg(data, name, default, lo, hi):
        v = data.get(name, default)
        if isinstance(v, str) and re.match(r"^-?\d+$", v.strip()):
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise OAuthError(400, "%s must be an integer from %d to %d" % (name, lo, hi))
        return v

    def control_sales_get(self):
        p = self.query.get("provider")
        if p not in PROVIDERS:
            raise OAuthError(400, "provider must be one of " + ", ".join(PROVIDERS))
        account = self.sales_account(p, self.query.get("account"))
        with self.store.lock:
            out = self.store.dataset(p, account).truth()
        self.send_json(200, out)

    def control_sales_set(self):
        p = self.control_provider()
        j = self._json
        account = self.sales_account(p, j.get("account"))
        count = self.int_arg(j, "count", None, 0, SALES_MAX)
        seed = self.int_arg(j, "seed", 1, -(1 << 62), 1 << 62)
        days = self.int_arg(j, "days", 90, 1, 3650)
        currency = j.get("currency") or CURRENCY[p]
        if not (isinstance(currency, str) and re.match(r"^[A-Za-z]{3}$", currency)):
            raise OAuthError(400, "currency must be a 3-letter code")
        ds = Sales(p, account, count, seed=seed, days=days, currency=currency.upper())
        with self.store.lock:
            self.store.sales[(p, account)] = ds
        self.send_json(200, {"provider": p, "account": account, "count": count, "seed": seed,
                             "days": days, "currency": ds.currency})

    def control_sales_update(self):
        p = self.control_provider()
        j = self._json
        account = self.sales_account(p, j.get("account"))
        ids = j.get("ids")
        if not isinstance(ids, list):
            raise OAuthError(400, "ids must be a list")
        cents = None
        if j.get("amount") is not None:
            try:
                d = Decimal(str(j["amount"]))
                ok = d.is_finite() and 0 <= d <= 10000000 and not isinstance(j["amount"], bool)
            except InvalidOperation:
                ok = False
            if not ok:
                raise OAuthError(400, "amount must be a number from 0 to 10000000")
            cents = int((d * 100).to_integral_value())
        void = j.get("void")
        if void is not None and not isinstance(void, bool):
            raise OAuthError(400, "void must be true or false")
        with self.store.lock:
            ds = self.store.dataset(p, account)
            idx = []
            for e in ids:
                i = ds.index_of(e) if isinstance(e, (str, int)) and not isinstance(e, bool) else None
                if i is None:
                    raise OAuthError(400, "unknown id: %s" % str(e)[:80])
                idx.append(i)
            ds.update(idx, cents=cents, void=void)
            out = {"provider": p, "account": account, "count": ds.n,
                   "updated": [ds.ext_id(i) for i in dict.fromkeys(idx)]}
        self.send_json(200, out)

    def control_sales_add(self):
        p = self.control_provider()
        j = self._json
        account = self.sales_account(p, j.get("account"))
        count = self.int_arg(j, "count", None, 1, SALES_MAX)
        with self.store.lock:
            ds = self.store.dataset(p, account)
            if ds.n + count > SALES_MAX:
                raise OAuthError(400, "at most %d records per account" % SALES_MAX)
            new = ds.add(count)
            out = {"provider": p, "account": account, "count": ds.n}
            if count <= 1000:
                out["added"] = [ds.ext_id(i) for i in new]
        self.send_json(200, out)


_L = r"([^/]+)"
Handler.ROUTES = [(m, re.compile("^" + rx + "$"), fn) for m, rx, fn in [
    ("GET", r"/shopify/%s/admin/oauth/authorize" % _L, "shopify_authorize"),
    ("POST", r"/shopify/%s/admin/oauth/access_token" % _L, "shopify_token"),
    ("GET", r"/shopify/%s/admin/api/%s/shop\.json" % (_L, _L), "shopify_shop"),
    ("POST", r"/shopify/%s/admin/api/%s/graphql\.json" % (_L, _L), "shopify_graphql"),
    ("DELETE", r"/shopify/%s/admin/api_permissions/current\.json" % _L, "shopify_uninstall"),
    ("GET", r"/(intuit)/connect/oauth2", "oauth_authorize"),
    ("POST", r"/intuit/oauth2/v1/tokens/bearer", "intuit_token"),
    ("POST", r"/(intuit)/v2/oauth2/tokens/revoke", "basic_revoke"),
    ("GET", r"/intuit/v3/company/%s/companyinfo/%s" % (_L, _L), "intuit_company"),
    ("GET", r"/intuit/v3/company/%s/query" % _L, "intuit_query"),
    ("GET", r"/(xero)/identity/connect/authorize", "oauth_authorize"),
    ("POST", r"/xero/identity/connect/token", "xero_token"),
    ("POST", r"/(xero)/identity/connect/revocation", "basic_revoke"),
    ("GET", r"/xero/connections", "xero_connections"),
    ("GET", r"/xero/api\.xro/2\.0/Invoices", "xero_invoices"),
    ("GET", r"/_control/stats", "control_stats"),
    ("POST", r"/_control/reset-stats", "control_reset_stats"),
    ("GET", r"/_control/config", "control_config_get"),
    ("POST", r"/_control/config", "control_config"),
    ("POST", r"/_control/revoke-all", "control_revoke_all"),
    ("GET", r"/_control/secrets", "control_secrets"),
    ("GET", r"/_control/sales", "control_sales_get"),
    ("POST", r"/_control/sales", "control_sales_set"),
    ("POST", r"/_control/sales/update", "control_sales_update"),
    ("POST", r"/_control/sales/add", "control_sales_add"),
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
