"""Self-test of the OAuth provider stand-in (tests/standins/providers.py).

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/standins/test_providers_selftest.py

Starts the server on port 0 in a subprocess and drives each provider's flow with the
standard library's http.client.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
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
    for s in secrets_:
        assert s not in log
