"""Helpers for the connector-data tests (docs/api.md "Webhooks" and "Sync"):
signed deliveries as Shopify, Intuit and Xero send them, the stand-ins' sales
truth, and waiting for the job runner (accupredix-admin jobs run, started by
scripts/stack: JOBS_PID, JOBS_LOG in stack.env).
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid

import connhelp as ch
from apxtest import describe
from authhelp import bearer, remember
from datahelp import tenant_json, tenant_scalar
from orghelp import create_org, new_member, psql

WAIT_S = 30          # the job runner is woken by NOTIFY; this bounds a stuck one


def keys(stack):
    """{connector: {current, previous}} of the stack's webhook secrets."""
    with open(stack["WEBHOOK_KEYS"]) as f:
        k = json.load(f)
    remember(*(v for d in k.values() for v in d.values()))
    return k


def sign(secret, body):
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


SIG_HEADER = {"shopify": "X-Shopify-Hmac-Sha256", "intuit": "intuit-signature",
              "xero": "x-xero-signature"}


def deliver(http, stack, name, body, headers=None, secret="current", signature=None):
    """POST /webhooks/NAME with BODY (bytes or JSON-able), signed with the
    connector's SECRET ("current", "previous", a literal, or None: unsigned)."""
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    if signature is None and secret is not None:
        key = keys(stack)[name].get(secret, secret)
        signature = sign(key, body)
    if signature is not None:
        h[SIG_HEADER[name]] = signature
    return http.post("/webhooks/" + name, data=body, headers=h)


def shopify_headers(shop, topic, event_id=None):
    return {"X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": "2026-12-02T10:00:00Z", "X-Shopify-API-Version": "2025-10"}


def shopify_order(shop, order_id=1001):
    return {"id": order_id, "name": "#%d" % order_id, "created_at": "2026-11-30T10:00:00Z",
            "processed_at": "2026-11-30T10:00:00Z", "current_total_price": "12.50",
            "currency": "EUR", "shop_domain": shop}


# ------------------------------------------------------------------ orgs and connections

def unique_shop():
    return "shop-%s.myshopify.com" % uuid.uuid4().hex[:10]


def shop_org(http, stack, shop=None, plan=None):
    """An owner and org connected to a fresh Shopify shop: (owner, org, connection)."""
    u = new_member(http)
    org = create_org(http, u["token"], plan=plan)
    shop = shop or unique_shop()
    ch.set_config(http, u["token"], org["slug"], "shopify", {"shop": shop})
    conn = ch.connect(http, stack, u["token"], org["slug"], "shopify")
    org["shop"] = shop
    return u, org, conn


def intuit_org(http, stack, realm):
    """An org connected to QuickBooks company REALM (the stand-in's realm knob)."""
    u = new_member(http)
    org = create_org(http, u["token"])
    ch.control(stack, "config", {"provider": "intuit", "realm_id": realm})
    conn = ch.connect(http, stack, u["token"], org["slug"], "intuit")
    org["realm"] = realm
    return u, org, conn


def xero_org(http, stack):
    u = new_member(http)
    org = create_org(http, u["token"])
    conn = ch.connect(http, stack, u["token"], org["slug"], "xero")
    return u, org, conn


def new_realm():
    return str(9000000000000000 + uuid.uuid4().int % 999999999999)


# ------------------------------------------------------------------ what was stored

def events(stack, org, conn=None):
    q = "SELECT connector, connection_id, event_id, type, account_id, payload, " \
        "processed_at IS NOT NULL AS processed, outcome FROM webhook_events"
    if conn is not None:
        q += " WHERE connection_id = %d" % int(conn)
    return tenant_json(stack, org, q + " ORDER BY id")


def sales(stack, org, conn):
    return tenant_json(stack, org, "SELECT kind, external_id, day::text AS day, "
                       "amount::text AS amount, currency, voided FROM sales_records WHERE "
                       "connection_id = %d ORDER BY kind, external_id" % int(conn))


def sales_summary(stack, org, conn):
    """{count, total (2 decimals, non-voided), by_day} of the records stored."""
    rows = sales(stack, org, conn)
    by_day, total = {}, 0
    for r in rows:
        if r["voided"]:
            continue
        cents = round(float(r["amount"]) * 100)
        total += cents
        by_day[r["day"]] = by_day.get(r["day"], 0) + cents
    return {"count": len(rows), "total": "%.2f" % (total / 100.0),
            "by_day": {d: "%.2f" % (c / 100.0) for d, c in sorted(by_day.items())}}


def truth(stack, provider, account):
    return ch.control(stack, "sales?provider=%s&account=%s" % (provider, account))


def set_sales(stack, provider, account, count, **kw):
    body = {"provider": provider, "account": account, "count": count}
    body.update(kw)
    return ch.control(stack, "sales", body)


def jobs(stack, org_id):
    out = psql(stack, "SELECT coalesce(json_agg(json_build_object('kind', kind, 'attempts', "
               "attempts, 'last_error', last_error) ORDER BY id), '[]') FROM jobs WHERE org_id = %d"
               % int(org_id)).stdout.strip()
    return json.loads(out)


def wait_for(what, fn, timeout=WAIT_S):
    """FN() until it is truthy (its value), or fail saying WHAT."""
    end = time.time() + timeout
    v = fn()
    while not v and time.time() < end:
        time.sleep(0.2)
        v = fn()
    assert v, "waited %d s for %s" % (timeout, what)
    return v


def wait_jobs_done(stack, org_id):
    wait_for("the jobs of org %s to finish" % org_id, lambda: jobs(stack, org_id) == [])


def connection(http, u, slug, conn_id):
    r = http.get("/api/v1/orgs/%s/connections/%d" % (slug, int(conn_id)),
                 headers=bearer(u["token"]))
    assert r.status_code == 200, describe(r)
    return r.json()


def sync_cli(stack, *args, background=False):
    """accupredix-admin connectors sync ARGS, as the job runner runs it."""
    exe = os.path.join(stack["BUILD_DIR"], "src", "accupredix-admin")
    cmd = [exe, "--config", stack["APX_CONFIG"], "connectors", "sync", *args]
    if background:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def knobs(stack, provider, **values):
    values["provider"] = provider
    return ch.control(stack, "config", values)


def stats(stack):
    return ch.control(stack, "stats")


def count_events(stack, org):
    return int(tenant_scalar(stack, org, "SELECT count(*) FROM webhook_events"))
