"""Self-test of the OAuth provider stand-in (tests/standins/providers.py).

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/standins/test_providers_selftest.py

Starts the server on port 0 in a subprocess and drives each provider's flow, and each
sales API (pagination, incremental sync, 429s, token expiry, Shopify's cost throttle),
with the standard library's http.client.
"""
import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from decimal import Decimal
from unittest.mock import ANY
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "providers.py")
REDIRECT = "http://127.0.0.1:9/oauth/callback"
CFG = {
    "shopify": {"client_id": "shp-client", "client_secret": "shp-secret-0123456789"},
    "intuit": {"client_id": "qbo-client", "client_secret": "qbo-secret-0123456789"},
    "xero": {"client_id": "xero-client", "client_secret": "xero-secret-0123456789"},
    "redirect_uris": [REDIRECT, "http://127.0.0.1:9/other?x=1"],
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = tmp_path_factory.mktemp("standin")
    cfg, pidfile, log = d / "cfg.json", d / "pid", d / "log"
    cfg.write_text(json.dumps(CFG))
    proc = subprocess.Popen([sys.executable, SERVER, "--port", "0", "--config", str(cfg),
                             "--pidfile", str(pidfile), "--log", str(log)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line.startswith("listening 127.0.0.1:"), line
    s = {"port": int(line.rsplit(":", 1)[1]), "proc": proc, "pidfile": pidfile, "log": log}
    assert int(pidfile.read_text()) == proc.pid
    yield s
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def call(srv, method, path, params=None, form=None, js=None, headers=None, basic=None):
    """One request; returns (status, headers dict, body parsed as JSON when possible)."""
    if params:
        path += "?" + urlencode(params)
    h = dict(headers or {})
    body = None
    if form is not None:
        body = urlencode(form).encode()
        h["Content-Type"] = "application/x-www-form-urlencoded"
    elif js is not None:
        body = json.dumps(js).encode()
        h["Content-Type"] = "application/json"
    if basic:
        h["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % basic).encode()).decode()
    c = http.client.HTTPConnection("127.0.0.1", srv["port"], timeout=10)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        raw = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
    finally:
        c.close()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = raw.decode()
    return r.status, hdrs, data


def callback(hdrs):
    """The redirect target's base and its query as a dict."""
    u = urlsplit(hdrs["location"])
    return "%s://%s%s" % (u.scheme, u.netloc, u.path), dict(parse_qsl(u.query, keep_blank_values=True))


def control(srv, what, **body):
    st, _, data = call(srv, "POST", "/_control/" + what, js=body)
    assert st == 200, data
    return data


def stats(srv):
    return call(srv, "GET", "/_control/stats")[2]


# ----------------------------------------------------------------------------- Shopify

SHP = CFG["shopify"]


def shopify_code(srv, label="demo-store", state="st-1"):
    st, h, _ = call(srv, "GET", "/shopify/%s/admin/oauth/authorize" % label,
                    {"client_id": SHP["client_id"], "scope": "read_orders,read_products",
                     "redirect_uri": REDIRECT, "state": state})
    assert st == 302
    return callback(h)


def shopify_token(srv, label="demo-store", **form):
    form = dict({"client_id": SHP["client_id"], "client_secret": SHP["client_secret"]}, **form)
    return call(srv, "POST", "/shopify/%s/admin/oauth/access_token" % label, form=form)


def shop_json(srv, token, label="demo-store"):
    return call(srv, "GET", "/shopify/%s/admin/api/2024-10/shop.json" % label,
                headers={"X-Shopify-Access-Token": token})


def test_shopify_authorize_refuses_bad_client_or_redirect(srv):
    base = {"client_id": SHP["client_id"], "scope": "read_orders", "redirect_uri": REDIRECT}
    st, h, body = call(srv, "GET", "/shopify/demo-store/admin/oauth/authorize",
                       dict(base, client_id="nope"))
    assert st == 400 and "location" not in h
    st, h, body = call(srv, "GET", "/shopify/demo-store/admin/oauth/authorize",
                       dict(base, redirect_uri=REDIRECT + "x"))
    assert st == 400 and "location" not in h


def test_shopify_callback_hmac_and_params(srv):
    base, q = shopify_code(srv, state="a&b=c")
    assert base == REDIRECT
    assert set(q) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert q["shop"] == "demo-store.myshopify.com" and q["state"] == "a&b=c"
    assert base64.b64decode(q["host"]).decode() == "admin.shopify.com/store/demo-store"
    assert abs(int(q["timestamp"]) - time.time()) < 5
    msg = "&".join("%s=%s" % (k, v) for k, v in sorted(q.items()) if k not in ("hmac", "signature"))
    want = hmac.new(SHP["client_secret"].encode(), msg.encode(), hashlib.sha256).hexdigest()
    assert q["hmac"] == want
    # a redirect_uri that already has a query keeps it
    st, h, _ = call(srv, "GET", "/shopify/demo-store/admin/oauth/authorize",
                    {"client_id": SHP["client_id"], "scope": "read_orders",
                     "redirect_uri": "http://127.0.0.1:9/other?x=1", "state": "s"})
    assert st == 302 and callback(h)[1]["x"] == "1"


def test_shopify_full_flow(srv):
    _, q = shopify_code(srv)
    assert shopify_token(srv, code=q["code"], client_secret="wrong")[0] == 401
    _, q = shopify_code(srv)
    assert shopify_token(srv, label="other-store", code=q["code"], expiring="1")[0] == 400  # bound to shop
    _, q = shopify_code(srv)
    st, _, tok = shopify_token(srv, code=q["code"], expiring="1")
    assert st == 200, tok
    assert tok["scope"] == "read_orders,read_products" and tok["expires_in"] == 3600
    assert tok["refresh_token_expires_in"] == 7776000 and tok["refresh_token"] != tok["access_token"]
    st, _, err = shopify_token(srv, code=q["code"], expiring="1")        # single use
    assert (st, err) == (400, {"error": "invalid_grant"})
    st, _, shop = shop_json(srv, tok["access_token"])
    assert st == 200 and shop["shop"]["myshopify_domain"] == "demo-store.myshopify.com"
    assert shop_json(srv, tok["access_token"], label="other-store")[0] == 401
    assert shop_json(srv, "not-a-token")[0] == 401
    # rotation: the old refresh token stays usable until the new access token is used
    r1 = tok["refresh_token"]
    st, _, t2 = shopify_token(srv, grant_type="refresh_token", refresh_token=r1)
    assert st == 200 and t2["refresh_token"] != r1 and t2["access_token"] != tok["access_token"]
    st, _, t2b = shopify_token(srv, grant_type="refresh_token", refresh_token=r1)
    assert st == 200 and t2b["refresh_token"] == t2["refresh_token"]
    assert shop_json(srv, t2["access_token"])[0] == 200
    st, _, err = shopify_token(srv, grant_type="refresh_token", refresh_token=r1)
    assert (st, err) == (400, {"error": "invalid_grant"})
    # uninstall revokes every token of the grant
    st, _, body = call(srv, "DELETE", "/shopify/demo-store/admin/api_permissions/current.json",
                       headers={"X-Shopify-Access-Token": t2["access_token"]})
    assert (st, body) == (200, {})
    assert shop_json(srv, t2["access_token"])[0] == 401
    assert shop_json(srv, t2b["access_token"])[0] == 401
    st, _, err = shopify_token(srv, grant_type="refresh_token", refresh_token=t2["refresh_token"])
    assert (st, err) == (400, {"error": "invalid_grant"})


def test_shopify_non_expiring_token(srv):
    _, q = shopify_code(srv, label="plain-store")
    st, _, tok = shopify_token(srv, label="plain-store", code=q["code"])
    assert st == 200 and set(tok) == {"access_token", "scope"}
    assert shop_json(srv, tok["access_token"], label="plain-store")[0] == 200


# ----------------------------------------------------------------------------- Intuit

QBO = CFG["intuit"]
QBO_BASIC = (QBO["client_id"], QBO["client_secret"])


def intuit_code(srv, redirect=REDIRECT):
    st, h, _ = call(srv, "GET", "/intuit/connect/oauth2",
                    {"client_id": QBO["client_id"], "response_type": "code",
                     "scope": "com.intuit.quickbooks.accounting", "redirect_uri": redirect,
                     "state": "st-q"})
    assert st == 302
    base, q = callback(h)
    assert base == redirect.split("?")[0] and q["state"] == "st-q"
    return q


def intuit_token(srv, basic=QBO_BASIC, **form):
    return call(srv, "POST", "/intuit/oauth2/v1/tokens/bearer", form=form, basic=basic,
                headers={"Accept": "application/json"})


def intuit_tokens(srv):
    q = intuit_code(srv)
    st, _, tok = intuit_token(srv, grant_type="authorization_code", code=q["code"],
                              redirect_uri=REDIRECT)
    assert st == 200, tok
    return q["realmId"], tok


def company(srv, realm, token):
    return call(srv, "GET", "/intuit/v3/company/%s/companyinfo/%s" % (realm, realm),
                headers={"Authorization": "Bearer " + token, "Accept": "application/json"})


def test_intuit_full_flow(srv):
    q = intuit_code(srv)
    assert q["realmId"] == "9130354872341234"
    st, _, err = intuit_token(srv, basic=None, grant_type="authorization_code", code=q["code"],
                              redirect_uri=REDIRECT)
    assert (st, err) == (401, {"error": "invalid_client"})
    assert intuit_token(srv, basic=(QBO["client_id"], "bad"), grant_type="authorization_code",
                        code=q["code"], redirect_uri=REDIRECT)[0] == 401
    st, _, err = intuit_token(srv, grant_type="authorization_code", code=q["code"],
                              redirect_uri="http://127.0.0.1:9/other?x=1")
    assert (st, err) == (400, {"error": "invalid_grant"})          # redirect_uri mismatch
    realm, tok = intuit_tokens(srv)
    assert tok["token_type"] == "bearer" and tok["expires_in"] == 3600
    assert tok["x_refresh_token_expires_in"] == 8726400
    st, _, info = company(srv, realm, tok["access_token"])
    assert st == 200 and info["CompanyInfo"] == dict(info["CompanyInfo"], CompanyName="Demo Company", Id=realm)
    assert company(srv, "123", tok["access_token"])[0] == 401
    # rotation: the old refresh token is refused at once
    r1 = tok["refresh_token"]
    st, _, t2 = intuit_token(srv, grant_type="refresh_token", refresh_token=r1)
    assert st == 200 and t2["refresh_token"] != r1
    st, _, err = intuit_token(srv, grant_type="refresh_token", refresh_token=r1)
    assert (st, err) == (400, {"error": "invalid_grant"})
    st, _, t3 = intuit_token(srv, grant_type="refresh_token", refresh_token=t2["refresh_token"])
    assert st == 200
    # revoke (JSON body) kills the whole grant
    st, _, _ = call(srv, "POST", "/intuit/v2/oauth2/tokens/revoke", js={"token": t3["refresh_token"]},
                    basic=QBO_BASIC)
    assert st == 200
    st, _, err = intuit_token(srv, grant_type="refresh_token", refresh_token=t3["refresh_token"])
    assert (st, err) == (400, {"error": "invalid_grant"})
    assert company(srv, realm, t3["access_token"])[0] == 401


def test_intuit_code_single_use(srv):
    q = intuit_code(srv)
    form = dict(grant_type="authorization_code", code=q["code"], redirect_uri=REDIRECT)
    assert intuit_token(srv, **form)[0] == 200
    assert intuit_token(srv, **form)[2] == {"error": "invalid_grant"}


def test_intuit_concurrent_refresh_one_wins(srv):
    _, tok = intuit_tokens(srv)
    control(srv, "config", provider="intuit", refresh_delay_ms=300)
    try:
        out = []
        ts = [threading.Thread(target=lambda: out.append(intuit_token(
            srv, grant_type="refresh_token", refresh_token=tok["refresh_token"])[0])) for _ in range(2)]
        [t.start() for t in ts]
        [t.join() for t in ts]
    finally:
        control(srv, "config", provider="intuit", refresh_delay_ms=0)
    assert sorted(out) == [200, 400]


def test_expired_access_token_401(srv):
    control(srv, "config", provider="intuit", expires_in=1)
    try:
        realm, tok = intuit_tokens(srv)
        assert tok["expires_in"] == 1
        assert company(srv, realm, tok["access_token"])[0] == 200
        time.sleep(1.3)
        assert company(srv, realm, tok["access_token"])[0] == 401
        st, _, t2 = intuit_token(srv, grant_type="refresh_token", refresh_token=tok["refresh_token"])
        assert st == 200 and company(srv, realm, t2["access_token"])[0] == 200
    finally:
        control(srv, "config", provider="intuit", expires_in=3600)


def test_lost_refresh_response(srv):
    _, tok = intuit_tokens(srv)
    control(srv, "config", provider="intuit", drop_refresh_responses=1)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        intuit_token(srv, grant_type="refresh_token", refresh_token=tok["refresh_token"])
    # the rotation happened although the answer was lost
    assert intuit_token(srv, grant_type="refresh_token",
                        refresh_token=tok["refresh_token"])[2] == {"error": "invalid_grant"}


# ----------------------------------------------------------------------------- Xero

XERO = CFG["xero"]
XERO_BASIC = (XERO["client_id"], XERO["client_secret"])
VERIFIER = "v" * 20 + "-verifier-0123456789abcdefghijklmnop"


def xero_code(srv, verifier=VERIFIER, scope="openid offline_access accounting.transactions"):
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    st, h, _ = call(srv, "GET", "/xero/identity/connect/authorize",
                    {"response_type": "code", "client_id": XERO["client_id"], "redirect_uri": REDIRECT,
                     "scope": scope, "state": "st-x", "code_challenge": challenge,
                     "code_challenge_method": "S256"})
    assert st == 302
    q = callback(h)[1]
    assert q["state"] == "st-x" and "code" in q
    return q["code"]


def xero_token(srv, basic=XERO_BASIC, **form):
    return call(srv, "POST", "/xero/identity/connect/token", form=form, basic=basic)


def xero_tokens(srv, **kw):
    st, _, tok = xero_token(srv, grant_type="authorization_code", code=xero_code(srv, **kw),
                            redirect_uri=REDIRECT, code_verifier=VERIFIER)
    assert st == 200, tok
    return tok


def connections(srv, token):
    return call(srv, "GET", "/xero/connections", headers={"Authorization": "Bearer " + token})


def test_xero_pkce_mismatch_refused(srv):
    code = xero_code(srv)
    st, _, err = xero_token(srv, grant_type="authorization_code", code=code,
                            redirect_uri=REDIRECT, code_verifier=VERIFIER + "x")
    assert (st, err) == (400, {"error": "invalid_grant"})
    code = xero_code(srv)
    assert xero_token(srv, grant_type="authorization_code", code=code,
                      redirect_uri=REDIRECT)[2] == {"error": "invalid_grant"}     # no verifier


def test_xero_full_flow(srv):
    assert xero_token(srv, basic=None, grant_type="authorization_code",
                      code=xero_code(srv))[2] == {"error": "invalid_client"}
    tok = xero_tokens(srv)
    assert tok["expires_in"] == 1800 and tok["token_type"] == "Bearer"
    st, _, conns = connections(srv, tok["access_token"])
    assert st == 200 and [c["tenantName"] for c in conns] == ["Demo Org A", "Demo Org B"]
    assert all(c["tenantType"] == "ORGANISATION" for c in conns)
    assert connections(srv, "junk")[0] == 401
    # rotation with a grace: the old token answers again with the same new refresh token
    r1 = tok["refresh_token"]
    st, _, t2 = xero_token(srv, grant_type="refresh_token", refresh_token=r1)
    assert st == 200 and t2["refresh_token"] != r1
    st, _, t2b = xero_token(srv, grant_type="refresh_token", refresh_token=r1)
    assert st == 200 and t2b["refresh_token"] == t2["refresh_token"]
    assert connections(srv, t2b["access_token"])[0] == 200
    # tenant ids are stable across grants
    assert [c["tenantId"] for c in connections(srv, xero_tokens(srv)["access_token"])[2]] == \
        [c["tenantId"] for c in conns]
    # past the grace the old token is refused
    st, _, t3 = xero_token(srv, grant_type="refresh_token", refresh_token=t2["refresh_token"])
    assert st == 200
    control(srv, "config", provider="xero", xero_grace=0)
    try:
        time.sleep(0.05)
        assert xero_token(srv, grant_type="refresh_token",
                          refresh_token=t2["refresh_token"])[2] == {"error": "invalid_grant"}
    finally:
        control(srv, "config", provider="xero", xero_grace=1800)
    # revocation kills the grant
    st, _, _ = call(srv, "POST", "/xero/identity/connect/revocation",
                    form={"token": t3["refresh_token"]}, basic=XERO_BASIC)
    assert st == 200
    assert xero_token(srv, grant_type="refresh_token",
                      refresh_token=t3["refresh_token"])[2] == {"error": "invalid_grant"}
    assert connections(srv, t3["access_token"])[0] == 401


def test_xero_no_offline_access_no_refresh_token(srv):
    assert "refresh_token" not in xero_tokens(srv, scope="openid accounting.transactions")


def test_xero_concurrent_refresh_both_succeed(srv):
    tok = xero_tokens(srv)
    control(srv, "config", provider="xero", refresh_delay_ms=300)
    try:
        out = []
        ts = [threading.Thread(target=lambda: out.append(xero_token(
            srv, grant_type="refresh_token", refresh_token=tok["refresh_token"]))) for _ in range(2)]
        [t.start() for t in ts]
        [t.join() for t in ts]
    finally:
        control(srv, "config", provider="xero", refresh_delay_ms=0)
    assert [r[0] for r in out] == [200, 200]
    assert out[0][2]["refresh_token"] == out[1][2]["refresh_token"]


# ----------------------------------------------------------------------------- sales APIs

PROVIDERS = ("shopify", "intuit", "xero")
GQL = ("query Orders($first: Int!, $after: String, $query: String) { orders(first: $first, "
       "after: $after, query: $query, sortKey: UPDATED_AT) { edges { cursor node { id name "
       "processedAt updatedAt cancelledAt currentTotalPriceSet { shopMoney { amount currencyCode } } "
       "} } pageInfo { hasNextPage endCursor } } }")
CENT = Decimal("0.01")


def truth(srv, provider, account):
    st, _, data = call(srv, "GET", "/_control/sales", {"provider": provider, "account": account})
    assert st == 200, data
    return data


def summary(recs):
    """(total, by_day) as GET /_control/sales gives them, from {id: (date, amount, voided)}."""
    total, by_day = Decimal(0), {}
    for date, amount, voided in recs.values():
        if not voided:
            total += amount
            by_day[date] = by_day.get(date, Decimal(0)) + amount
    return str(total.quantize(CENT)), {d: str(v.quantize(CENT)) for d, v in by_day.items()}


def assert_matches(recs, t):
    total, by_day = summary(recs)
    assert len(recs) == t["count"]
    assert (total, by_day) == (t["total"], t["by_day"])


def epoch(text):
    """Seconds of an ISO instant (Z or offset), as the plugins must parse them."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso(ts, suffix="Z"):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + suffix


# -- Shopify

def shopify_access(srv, label):
    _, q = shopify_code(srv, label=label)
    st, _, tok = shopify_token(srv, label=label, code=q["code"], expiring="1")
    assert st == 200, tok
    return tok


def orders(srv, token, label, first=50, after=None, since=None):
    v = {"first": first, "after": after}
    if since:
        v["query"] = "updated_at:>='%s'" % since
    return call(srv, "POST", "/shopify/%s/admin/api/2024-10/graphql.json" % label,
                js={"query": GQL, "variables": v}, headers={"X-Shopify-Access-Token": token})


def shopify_sync(srv, token, label, first, since=None):
    """Every order page by page: the list of nodes, in the order they came."""
    out, after = [], None
    while True:
        st, _, body = orders(srv, token, label, first, after, since)
        assert st == 200 and "errors" not in body, body
        conn, cost = body["data"]["orders"], body["extensions"]["cost"]
        assert len(conn["edges"]) <= first
        assert cost["requestedQueryCost"] == 2 + first
        assert cost["actualQueryCost"] == 2 + len(conn["edges"])
        out += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return out
        after = conn["pageInfo"]["endCursor"]
        assert after == conn["edges"][-1]["cursor"]


def shopify_recs(nodes):
    return {n["legacyResourceId"]: (n["processedAt"][:10],
                                    Decimal(n["currentTotalPriceSet"]["shopMoney"]["amount"]),
                                    n["cancelledAt"] is not None) for n in nodes}


def test_sales_default_dataset_and_control_validation(srv):
    t = truth(srv, "shopify", "fresh-shop")
    assert t["count"] == 30 and t["ids"] == list(range(1000, 1030)) and t["currency"] == "EUR"
    assert truth(srv, "shopify", "fresh-shop") == t                    # stable
    assert truth(srv, "intuit", "4620816365")["ids"] == [str(i) for i in range(1, 31)]
    assert truth(srv, "xero", "some-tenant")["currency"] == "NZD"
    assert all(len(v.split(".")[1]) == 2 for v in list(t["by_day"].values()) + [t["total"]])
    assert call(srv, "GET", "/_control/sales", {"provider": "nope", "account": "x"})[0] == 400
    assert call(srv, "GET", "/_control/sales", {"provider": "shopify"})[0] == 400
    for bad in ({"count": -1}, {"count": "many"}, {"count": 5, "days": 0}, {"count": 5, "currency": "E"}):
        assert call(srv, "POST", "/_control/sales",
                    js=dict({"provider": "shopify", "account": "fresh-shop"}, **bad))[0] == 400
    st, _, err = call(srv, "POST", "/_control/sales/update",
                      js={"provider": "shopify", "account": "fresh-shop", "ids": [999]})
    assert st == 400 and "unknown id" in err["error"]
    # the same seed gives the same data, another seed other data
    a = control(srv, "sales", provider="intuit", account="seeded", count=40, seed=7)
    assert a["count"] == 40
    t1 = truth(srv, "intuit", "seeded")
    control(srv, "sales", provider="intuit", account="seeded", count=40, seed=7)
    assert truth(srv, "intuit", "seeded")["total"] == t1["total"]
    control(srv, "sales", provider="intuit", account="seeded", count=40, seed=8)
    assert truth(srv, "intuit", "seeded")["total"] != t1["total"]


def test_shopify_orders_pagination_and_incremental(srv):
    label = "sales-shop"
    control(srv, "sales", provider="shopify", account=label, count=23, days=30)
    tok = shopify_access(srv, label)
    at = tok["access_token"]
    nodes = shopify_sync(srv, at, label, first=5)
    t = truth(srv, "shopify", label)
    assert sorted(int(n["legacyResourceId"]) for n in nodes) == t["ids"]      # each exactly once
    keys = [(n["updatedAt"], int(n["legacyResourceId"])) for n in nodes]
    assert keys == sorted(keys)
    n0 = nodes[0]
    assert n0["id"] == "gid://shopify/Order/%s" % n0["legacyResourceId"]
    assert n0["name"] == "#" + n0["legacyResourceId"] and n0["test"] is False
    assert n0["cancelledAt"] is None and n0["currentTotalPriceSet"]["shopMoney"]["currencyCode"] == "EUR"
    for n in nodes:
        assert 1 <= Decimal(n["currentTotalPriceSet"]["shopMoney"]["amount"]) <= 500
        assert epoch(n["createdAt"]) <= epoch(n["updatedAt"]) <= time.time() + 1
        assert time.time() - epoch(n["processedAt"]) < 31 * 86400
    recs = shopify_recs(nodes)
    assert_matches(recs, t)
    # incremental: only what changed after the last updatedAt seen
    last = max(epoch(n["updatedAt"]) for n in nodes)
    up = control(srv, "sales/update", provider="shopify", account=label, ids=[1003], amount="99.99")
    assert up["updated"] == [1003]
    control(srv, "sales/update", provider="shopify", account=label,
            ids=["gid://shopify/Order/1007"], void=True)
    added = control(srv, "sales/add", provider="shopify", account=label, count=3)
    assert added["added"] == [1023, 1024, 1025] and added["count"] == 26
    delta = shopify_sync(srv, at, label, first=2, since=iso(last + 1))
    assert [int(n["legacyResourceId"]) for n in delta] == [1003, 1007, 1023, 1024, 1025]
    assert all(epoch(n["updatedAt"]) > last for n in delta)
    by_id = {n["legacyResourceId"]: n for n in delta}
    assert by_id["1003"]["currentTotalPriceSet"]["shopMoney"]["amount"] == "99.99"
    assert by_id["1007"]["cancelledAt"] is not None
    recs.update(shopify_recs(delta))
    t2 = truth(srv, "shopify", label)
    assert_matches(recs, t2)
    assert t2["voided"] == 1 and t2["total"] != t["total"]
    # >= includes the boundary record
    assert len(shopify_sync(srv, at, label, first=50, since=iso(last))) == 6
    # a full sync now sees every record once, the changed ones last
    again = shopify_sync(srv, at, label, first=7)
    assert [n["legacyResourceId"] for n in again][-5:] == ["1003", "1007", "1023", "1024", "1025"]
    assert_matches(shopify_recs(again), t2)


def test_shopify_orders_refusals(srv):
    label = "sales-shop"
    tok = shopify_access(srv, label)
    st, _, body = orders(srv, "not-a-token", label)
    assert st == 401 and body == {"errors": "[API] Invalid API key or access token "
                                            "(unrecognized login or wrong password)"}
    assert orders(srv, tok["access_token"], "other-shop")[0] == 401        # token of another shop
    for first in (0, 251, "5"):
        st, _, body = orders(srv, tok["access_token"], label, first=first)
        assert st == 200 and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    st, _, body = orders(srv, tok["access_token"], label, after="!!not-a-cursor")
    assert st == 200 and "errors" in body
    st, _, body = call(srv, "POST", "/shopify/%s/admin/api/2024-10/graphql.json" % label,
                       js={"query": "{ shop { name } }"},
                       headers={"X-Shopify-Access-Token": tok["access_token"]})
    assert st == 200 and "errors" in body and "data" not in body


# -- Intuit

def qbo_query(srv, realm, token, q):
    return call(srv, "GET", "/intuit/v3/company/%s/query" % realm, {"query": q, "minorversion": "75"},
                headers={"Authorization": "Bearer " + token, "Accept": "application/json"})


def intuit_sync(srv, realm, token, entity, size, since=None):
    out, start = [], 1
    where = " WHERE MetaData.LastUpdatedTime >= '%s'" % since if since else ""
    while True:
        st, _, body = qbo_query(srv, realm, token, "SELECT * FROM %s%s ORDERBY MetaData.LastUpdatedTime "
                                "STARTPOSITION %d MAXRESULTS %d" % (entity, where, start, size))
        assert st == 200, body
        qr = body["QueryResponse"]
        rows = qr.get(entity, [])
        if rows:
            assert (qr["startPosition"], qr["maxResults"]) == (start, len(rows))
        else:
            assert qr == {}
        out += rows
        if len(rows) < size:
            return out
        start += size


def intuit_recs(rows):
    return {r["Id"]: (r["TxnDate"], Decimal(str(r["TotalAmt"])), r["PrivateNote"] == "Voided")
            for r in rows}


def test_intuit_query_pagination_and_incremental(srv):
    realm, tok = intuit_tokens(srv)
    control(srv, "sales", provider="intuit", account=realm, count=23)
    at = tok["access_token"]
    inv = intuit_sync(srv, realm, at, "Invoice", 4)
    sr = intuit_sync(srv, realm, at, "SalesReceipt", 4)
    assert len(inv) == 12 and len(sr) == 11
    assert all(int(r["Id"]) % 2 == 1 for r in inv) and all(int(r["Id"]) % 2 == 0 for r in sr)
    t = truth(srv, "intuit", realm)
    assert t["entities"] == {"Invoice": 12, "SalesReceipt": 11}
    assert sorted(r["Id"] for r in inv + sr) == sorted(t["ids"])
    for rows in (inv, sr):
        keys = [(epoch(r["MetaData"]["LastUpdatedTime"]), int(r["Id"])) for r in rows]
        assert keys == sorted(keys)
    r0 = inv[0]
    assert r0["MetaData"]["LastUpdatedTime"].endswith("-00:00") and r0["CurrencyRef"] == {"value": "USD"}
    assert r0["DocNumber"] == str(1000 + int(r0["Id"])) and r0["PrivateNote"] == ""
    recs = intuit_recs(inv + sr)
    assert_matches(recs, t)
    last = max(epoch(r["MetaData"]["LastUpdatedTime"]) for r in inv + sr)
    control(srv, "sales/update", provider="intuit", account=realm, ids=["4"], amount=10.5)
    control(srv, "sales/update", provider="intuit", account=realm, ids=[7], void=True)
    assert control(srv, "sales/add", provider="intuit", account=realm, count=2)["added"] == ["24", "25"]
    since = iso(last + 1, "-00:00")
    d_inv = intuit_sync(srv, realm, at, "Invoice", 1, since=since)
    d_sr = intuit_sync(srv, realm, at, "SalesReceipt", 1, since=iso(last + 1))      # Z works too
    assert [r["Id"] for r in d_inv] == ["7", "25"] and [r["Id"] for r in d_sr] == ["4", "24"]
    assert d_inv[0]["TotalAmt"] == 0 and d_inv[0]["PrivateNote"] == "Voided"
    assert d_sr[0]["TotalAmt"] == 10.5
    recs.update(intuit_recs(d_inv + d_sr))
    assert_matches(recs, truth(srv, "intuit", realm))
    # keywords in any case; ORDERBY optional
    st, _, body = qbo_query(srv, realm, at, "select * from invoice startposition 1 maxresults 3")
    assert st == 200 and len(body["QueryResponse"]["Invoice"]) == 3


def test_intuit_query_refusals(srv):
    realm, tok = intuit_tokens(srv)
    at = tok["access_token"]
    fault = {"Fault": {"Error": [{"Message": "Error parsing query", "code": "4000"}],
                       "type": "ValidationFault"}}
    for q in ("SELECT * FROM Invoice", "SELECT * FROM Bill STARTPOSITION 1 MAXRESULTS 10",
              "SELECT * FROM Invoice STARTPOSITION 0 MAXRESULTS 10",
              "SELECT * FROM Invoice STARTPOSITION 1 MAXRESULTS 1001",
              "SELECT Id FROM Invoice STARTPOSITION 1 MAXRESULTS 10",
              "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2026-01-01T00:00:00' "
              "STARTPOSITION 1 MAXRESULTS 10",                                  # no offset
              "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= 'soon' "
              "STARTPOSITION 1 MAXRESULTS 10"):
        assert qbo_query(srv, realm, at, q) == (400, ANY, fault), q
    q = "SELECT * FROM Invoice STARTPOSITION 1 MAXRESULTS 10"
    st, _, body = qbo_query(srv, realm, "junk", q)
    assert st == 401 and body["fault"]["error"][0]["code"] == "3200"
    assert qbo_query(srv, "123", at, q)[0] == 401                             # another realm
    st, _, body = qbo_query(srv, realm, at, "SELECT * FROM Invoice STARTPOSITION 100000 MAXRESULTS 10")
    assert st == 200 and body["QueryResponse"] == {} and "time" in body


# -- Xero

def xero_tenants(srv, token):
    return [c["tenantId"] for c in connections(srv, token)[2]]


def xero_page(srv, token, tenant, page, size=100, since=None):
    h = {"Authorization": "Bearer " + token, "xero-tenant-id": tenant, "Accept": "application/json"}
    if since:
        h["If-Modified-Since"] = since
    return call(srv, "GET", "/xero/api.xro/2.0/Invoices",
                {"page": page, "pageSize": size, "where": 'Type=="ACCREC"',
                 "order": "UpdatedDateUTC ASC"}, headers=h)


def xero_sync(srv, token, tenant, size, since=None):
    out, page = [], 1
    while True:
        st, _, body = xero_page(srv, token, tenant, page, size, since)
        assert st == 200 and body["Status"] == "OK", body
        assert body["pagination"]["page"] == page and body["pagination"]["pageSize"] == size
        if not body["Invoices"]:
            assert page == body["pagination"]["pageCount"] + 1
            return out
        out += body["Invoices"]
        page += 1


def xero_ms(text):
    m = re.match(r"^/Date\((\d+)\+0000\)/$", text)
    assert m, text
    return int(m.group(1)) / 1000


def xero_recs(rows):
    return {r["InvoiceID"]: (r["DateString"][:10], Decimal(str(r["Total"])), r["Status"] == "VOIDED")
            for r in rows}


def test_xero_invoices_pagination_and_incremental(srv):
    tok = xero_tokens(srv)
    at = tok["access_token"]
    tenant = xero_tenants(srv, at)[0]
    control(srv, "sales", provider="xero", account=tenant, count=23)
    st, _, first = xero_page(srv, at, tenant, 1, 5)
    assert st == 200 and first["pagination"] == {"page": 1, "pageSize": 5, "pageCount": 5, "itemCount": 23}
    assert first["ProviderName"] == "AccuPredix" and re.match(r"^/Date\(\d+\)/$", first["DateTimeUTC"])
    rows = xero_sync(srv, at, tenant, 5)
    t = truth(srv, "xero", tenant)
    assert sorted(r["InvoiceID"] for r in rows) == sorted(t["ids"]) and len(rows) == 23
    keys = [xero_ms(r["UpdatedDateUTC"]) for r in rows]
    assert keys == sorted(keys)
    r0 = rows[0]
    assert r0["Type"] == "ACCREC" and r0["Status"] == "AUTHORISED" and r0["CurrencyCode"] == "NZD"
    assert r0["InvoiceNumber"].startswith("INV-") and r0["DateString"].endswith("T00:00:00")
    assert iso(xero_ms(r0["Date"]), "")[:10] == r0["DateString"][:10]
    recs = xero_recs(rows)
    assert_matches(recs, t)
    last = max(keys)
    ids = [r["InvoiceID"] for r in rows]
    control(srv, "sales/update", provider="xero", account=tenant, ids=[ids[2]], void=True)
    control(srv, "sales/update", provider="xero", account=tenant, ids=[ids[5]], amount="1.00")
    new = control(srv, "sales/add", provider="xero", account=tenant, count=2)["added"]
    since = email.utils.formatdate(last + 1, usegmt=True)
    delta = xero_sync(srv, at, tenant, 3, since=since)
    assert [r["InvoiceID"] for r in delta] == [ids[2], ids[5]] + new
    assert delta[0]["Status"] == "VOIDED" and delta[1]["Total"] == 1.0
    assert [r["InvoiceID"] for r in xero_sync(srv, at, tenant, 100, since=iso(last + 1))] == \
        [r["InvoiceID"] for r in delta]                                     # ISO 8601 works too
    recs.update(xero_recs(delta))
    assert_matches(recs, truth(srv, "xero", tenant))
    st, _, body = xero_page(srv, at, tenant, 99, 5)
    assert st == 200 and body["Invoices"] == [] and body["pagination"]["itemCount"] == 25


def test_xero_invoices_refusals(srv):
    tok = xero_tokens(srv)
    at = tok["access_token"]
    tenant = xero_tenants(srv, at)[0]
    st, _, body = xero_page(srv, at, "00000000-0000-0000-0000-000000000000", 1)
    assert (st, body) == (403, {"Type": None, "Title": "Forbidden", "Status": 403,
                                "Detail": "AuthenticationUnsuccessful"})
    st, _, body = xero_page(srv, "junk", tenant, 1)
    assert st == 401 and body["Title"] == "Unauthorized"
    assert xero_page(srv, at, tenant, 1, 1001)[0] == 400
    assert xero_page(srv, at, tenant, 0)[0] == 400
    assert xero_page(srv, at, tenant, 1, since="yesterday-ish")[0] == 400


# -- faults, throttling, size

def sales_client(srv, provider):
    """(token answer, fetch(access) -> response, refresh(refresh token) -> token answer)."""
    if provider == "shopify":
        tok = shopify_access(srv, "fault-shop")
        return (tok, lambda at: orders(srv, at, "fault-shop", first=5),
                lambda rt: shopify_token(srv, label="fault-shop", grant_type="refresh_token",
                                         refresh_token=rt)[2])
    if provider == "intuit":
        realm, tok = intuit_tokens(srv)
        return (tok, lambda at: qbo_query(srv, realm, at, "SELECT * FROM Invoice STARTPOSITION 1 MAXRESULTS 5"),
                lambda rt: intuit_token(srv, grant_type="refresh_token", refresh_token=rt)[2])
    tok = xero_tokens(srv)
    tenant = xero_tenants(srv, tok["access_token"])[1]
    return (tok, lambda at: xero_page(srv, at, tenant, 1, 5),
            lambda rt: xero_token(srv, grant_type="refresh_token", refresh_token=rt)[2])


def knobs(srv, provider):
    return call(srv, "GET", "/_control/config")[2][provider]


def ok(resp):
    return resp[0] == 200 and "errors" not in resp[2]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sales_rate_limit_injection(srv, provider):
    tok, fetch, _ = sales_client(srv, provider)
    at = tok["access_token"]
    before = stats(srv)
    assert ok(fetch(at)) and ok(fetch(at))      # counted before the knob is set: not counted
    control(srv, "config", provider=provider, rate_limit_at=2, retry_after=3)
    try:
        assert ok(fetch(at))
        st, h, body = fetch(at)
        assert st == 429
        if provider == "shopify":
            assert h["retry-after"] == "3.0" and "Exceeded" in body["errors"]
        elif provider == "intuit":
            assert h["retry-after"] == "3" and body == {"Fault": {"Error": [{
                "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                "code": "3001"}], "type": "SERVICE"}}
        else:
            assert h["retry-after"] == "3" and h["x-rate-limit-problem"] == "minute"
            assert body == {"Title": "Too Many Requests"}
        assert knobs(srv, provider)["rate_limit_at"] == 0
        assert ok(fetch(at)) and ok(fetch(at))     # once only
    finally:
        control(srv, "config", provider=provider, rate_limit_at=0, retry_after=1)
    after = stats(srv)
    assert after["rate_limited"][provider] == before["rate_limited"][provider] + 1
    assert after["sales_calls"][provider] == before["sales_calls"][provider] + 6
    assert after["api_calls"][provider] == before["api_calls"][provider] + 6


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sales_token_expiry_injection(srv, provider):
    tok, fetch, refresh = sales_client(srv, provider)
    at = tok["access_token"]
    before = stats(srv)
    assert ok(fetch(at))
    control(srv, "config", provider=provider, expire_token_at=2)
    assert ok(fetch(at))
    assert fetch(at)[0] == 401
    assert knobs(srv, provider)["expire_token_at"] == 0
    assert fetch(at)[0] == 401                      # expired for good
    t2 = refresh(tok["refresh_token"])
    assert ok(fetch(t2["access_token"]))
    after = stats(srv)
    assert after["expired_injected"][provider] == before["expired_injected"][provider] + 1
    assert after["api_rejected"][provider] == before["api_rejected"][provider] + 2


def test_sales_faults_on_one_call_429_first(srv):
    tok, fetch, _ = sales_client(srv, "xero")
    control(srv, "config", provider="xero", rate_limit_at=1, expire_token_at=1)
    assert fetch(tok["access_token"])[0] == 429
    assert fetch(tok["access_token"])[0] == 401
    assert knobs(srv, "xero")["expire_token_at"] == 0


def test_shopify_cost_throttle(srv):
    label = "throttle-shop"
    control(srv, "sales", provider="shopify", account=label, count=100)
    at = shopify_access(srv, label)["access_token"]
    before = stats(srv)["throttled"]["shopify"]
    control(srv, "config", provider="shopify", bucket_max=60, restore_rate=10)
    try:
        st, _, body = orders(srv, at, label, first=100)          # costs more than the bucket holds
        assert st == 200 and body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
        for _ in range(30):                   # 12 points a call, 60 in the bucket
            st, _, body = orders(srv, at, label, first=10)
            assert st == 200
            if "errors" in body:
                break
            ts = body["extensions"]["cost"]["throttleStatus"]
            assert ts["maximumAvailable"] == 60 and ts["restoreRate"] == 10
        assert body["errors"] == [{"message": "Throttled", "extensions": {
            "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]
        cost = body["extensions"]["cost"]
        assert cost["requestedQueryCost"] == 12 and cost["actualQueryCost"] is None
        assert cost["throttleStatus"]["currentlyAvailable"] < 12
        assert stats(srv)["throttled"]["shopify"] > before
        # the bucket refills at restoreRate points a second
        for _ in range(20):
            time.sleep((12 - cost["throttleStatus"]["currentlyAvailable"]) / 10 + 0.1)
            st, _, body = orders(srv, at, label, first=10)
            if "errors" not in body:
                break
            cost = body["extensions"]["cost"]
        assert st == 200 and len(body["data"]["orders"]["edges"]) == 10
    finally:
        control(srv, "config", provider="shopify", bucket_max=2000, restore_rate=100)


def test_sales_large_dataset(srv):
    label = "big-shop"
    r = control(srv, "sales", provider="shopify", account=label, count=100000)
    assert r["count"] == 100000
    t = truth(srv, "shopify", label)
    assert t["count"] == 100000 and "ids" not in t
    assert Decimal(t["total"]) == sum(Decimal(v) for v in t["by_day"].values())
    at = shopify_access(srv, label)["access_token"]
    st, _, body = orders(srv, at, label, first=250)
    assert st == 200, body
    conn = body["data"]["orders"]
    assert len(conn["edges"]) == 250 and conn["pageInfo"]["hasNextPage"]
    assert body["extensions"]["cost"]["actualQueryCost"] == 252
    st, _, body = orders(srv, at, label, first=250, after=conn["pageInfo"]["endCursor"])
    nxt = [e["node"]["legacyResourceId"] for e in body["data"]["orders"]["edges"]]
    assert len(nxt) == 250 and nxt[0] == "1250"
    # updating a record of the large set moves it to the end
    control(srv, "sales/update", provider="shopify", account=label, ids=[1000], void=True)
    last = epoch(conn["edges"][-1]["node"]["updatedAt"])
    delta = shopify_sync(srv, at, label, 250, since=iso(time.time() - 5))
    assert [n["legacyResourceId"] for n in delta] == ["1000"] and epoch(delta[0]["updatedAt"]) > last


# ----------------------------------------------------------------------------- control API

def test_control_stats_counts(srv):
    control(srv, "reset-stats")
    s = stats(srv)
    assert s["token_calls"]["intuit"] == {"authorization_code": 0, "refresh_token": 0}
    _, tok = intuit_tokens(srv)
    r = intuit_token(srv, grant_type="refresh_token", refresh_token=tok["refresh_token"])[2]
    intuit_token(srv, grant_type="refresh_token", refresh_token=tok["refresh_token"])  # refused
    company(srv, "9130354872341234", r["access_token"])
    call(srv, "POST", "/intuit/v2/oauth2/tokens/revoke", js={"token": r["refresh_token"]}, basic=QBO_BASIC)
    xt = xero_tokens(srv)
    xero_token(srv, grant_type="refresh_token", refresh_token=xt["refresh_token"])
    _, q = shopify_code(srv)
    shopify_token(srv, code=q["code"])
    s = stats(srv)
    assert s["token_calls"]["intuit"] == {"authorization_code": 1, "refresh_token": 2}
    assert s["token_calls"]["xero"] == {"authorization_code": 1, "refresh_token": 1}
    assert s["token_calls"]["shopify"] == {"authorization_code": 1, "refresh_token": 0}
    assert s["revocations"] == {"shopify": 0, "intuit": 1, "xero": 0}
    assert s["api_calls"] == {"shopify": 0, "intuit": 1, "xero": 0}
    assert s["token_errors"]["intuit"] == 1


def test_control_revoke_all(srv):
    _, tok = intuit_tokens(srv)
    xt = xero_tokens(srv)
    assert control(srv, "revoke-all", provider="intuit")["revoked_grants"] >= 1
    assert intuit_token(srv, grant_type="refresh_token",
                        refresh_token=tok["refresh_token"])[2] == {"error": "invalid_grant"}
    assert company(srv, "9130354872341234", tok["access_token"])[0] == 401
    assert connections(srv, xt["access_token"])[0] == 200           # other providers untouched


def test_control_config_rejects_unknown(srv):
    assert call(srv, "POST", "/_control/config", js={"provider": "intuit", "bogus": 1})[0] == 400
    assert call(srv, "POST", "/_control/config", js={"provider": "nope"})[0] == 400


def test_secrets_never_logged_and_sigterm(srv):
    secrets_ = call(srv, "GET", "/_control/secrets")[2]
    assert SHP["client_secret"] in secrets_ and QBO["client_secret"] in secrets_
    assert len(secrets_) > 20
    os.kill(srv["proc"].pid, signal.SIGTERM)
    assert srv["proc"].wait(10) == 0
    assert not srv["pidfile"].exists()
    log = srv["log"].read_text()
    assert "GET /intuit/connect/oauth2 302" in log
    # the sales APIs were called with tokens (checked below), their paths are logged
    assert "POST /shopify/sales-shop/admin/api/2024-10/graphql.json 200" in log
    assert "GET /intuit/v3/company/9130354872341234/query 200" in log
    assert "GET /xero/api.xro/2.0/Invoices 200" in log
    assert "GET /xero/api.xro/2.0/Invoices 401" in log
    for q in ("STARTPOSITION", "ACCREC", "pageSize", "minorversion"):      # queries are not
        assert q not in log
    for s in secrets_:
        assert s not in log
