#!/usr/bin/python3
"""bench/webhooks.py: the set-up of bench/run's `webhooks` and `sync`
benchmarks, made with the integration tests' own helpers
(tests/integration/connhooks.py and what it imports).

  webhooks.py shop STACK_ENV LUA_OUT
      An owner, an org and a Shopify connection to a fresh shop (the whole
      connect flow through the Shopify stand-in: connhooks.shop_org). Writes
      LUA_OUT (0600), wrk's request script: POST /webhooks/shopify with one
      orders/create body signed once with the stack's Shopify client secret
      (X-Shopify-Hmac-Sha256 covers the body only), and a NEW
      X-Shopify-Event-Id (and webhook id) on every request: a random tag per
      wrk run and thread, then a counter, so every delivery is stored, never
      a duplicate. Then one delivery made here must answer 200 and store one
      event in the org's database (probe).

  webhooks.py sync STACK_ENV COUNT
      An org connected to a fresh shop whose stand-in dataset has COUNT
      orders (POST /_control/sales), and the stand-in's GraphQL cost
      throttling opened wide (bucket_max and restore_rate 1000000), so that
      the sync measures our side and not the throttle's waits.

Prints `RESULT key=value ...` lines for bench/run (never a secret, a token
or the signature), `ERROR text` and exit 1 on failure.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import apxtest  # noqa: E402
import connhooks as wh  # noqa: E402
from datahelp import tenant_scalar  # noqa: E402

KNOBS = {"bucket_max": 1000000, "restore_rate": 1000000}


class Client:
    """The tests' `http` fixture (conftest.py): a session bound to BASE_URL."""

    def __init__(self, base_url):
        self.base = base_url.rstrip("/")
        self.session = apxtest.new_session()

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 60)
        kw.setdefault("allow_redirects", False)
        return self.session.request(method, self.base + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)


def die(msg):
    print("ERROR %s" % msg)
    sys.exit(1)


def lua_long_string(text):
    """TEXT as a Lua long string that cannot end early."""
    n = 1
    while ("]" + "=" * n + "]") in text:
        n += 1
    return "[" + "=" * n + "[" + text + "]" + "=" * n + "]"


LUA = r"""-- written by bench/webhooks.py: signed Shopify deliveries, one new event
-- id per request (the signature covers the body only).
local body = %(body)s
local fixed = {
	["Content-Type"] = "application/json",
	["X-Shopify-Hmac-Sha256"] = "%(sig)s",
	["X-Shopify-Topic"] = "orders/create",
	["X-Shopify-Shop-Domain"] = "%(shop)s",
	["X-Shopify-Triggered-At"] = "2026-12-02T10:00:00Z",
	["X-Shopify-API-Version"] = "2025-10",
}
local nthreads = 0

function setup(thread)
	nthreads = nthreads + 1
	thread:set("thread_no", nthreads)
end

function init(args)
	-- a tag per wrk run and thread: event ids never repeat across runs
	local f = io.open("/dev/urandom", "rb")
	local raw = f:read(6)
	f:close()
	run_tag = string.format("bench-%%02x%%02x%%02x%%02x%%02x%%02x",
	    raw:byte(1, 6)) .. "-" .. tostring(thread_no or 0)
	sent = 0
	hdrs = {}
	for k, v in pairs(fixed) do
		hdrs[k] = v
	end
end

function request()
	sent = sent + 1
	local id = run_tag .. "-" .. sent
	hdrs["X-Shopify-Event-Id"] = id
	hdrs["X-Shopify-Webhook-Id"] = id
	return wrk.format("POST", "/webhooks/shopify", hdrs, body)
end
"""


def stack_of(path):
    st = apxtest.parse_env_file(path)
    for k in ("BASE_URL", "PROVIDERS_URL", "WEBHOOK_KEYS"):
        if not st.get(k):
            die("the stack has no %s (no provider stand-ins or webhook keys)" % k)
    return st


def connected(st):
    http = Client(st["BASE_URL"])
    try:
        u, org, conn = wh.shop_org(http, st)
    except AssertionError as e:
        die("connecting a Shopify shop failed: %s" % str(e).splitlines()[0][:200])
    return http, u, org, conn


def cmd_shop(st, lua_out):
    http, u, org, conn = connected(st)
    shop = org["shop"]
    body = json.dumps(wh.shopify_order(shop)).encode()
    secret = wh.keys(st)["shopify"]["current"]
    sig = wh.sign(secret, body)
    old = os.umask(0o077)
    try:
        with open(lua_out, "w") as f:
            f.write(LUA % {"body": lua_long_string(body.decode()), "sig": sig, "shop": shop})
    finally:
        os.umask(old)
    # one delivery now: 200, and one event in the org's own database
    r = wh.deliver(http, st, "shopify", body, wh.shopify_headers(shop, "orders/create"))
    n = int(tenant_scalar(st, org, "SELECT count(*) FROM webhook_events"))
    print("RESULT slug=%s org_id=%d region=%s connection=%d shop=%s body_bytes=%d"
          % (org["slug"], int(org["id"]), org.get("region") or "eu", int(conn["id"]), shop,
             len(body)))
    print("RESULT probe_status=%d probe_stored=%d" % (r.status_code, n))


def cmd_sync(st, count):
    http, u, org, conn = connected(st)
    label = org["shop"].split(".")[0]
    try:
        wh.knobs(st, "shopify", **KNOBS)
        wh.set_sales(st, "shopify", label, count)
        truth = wh.truth(st, "shopify", label)
    except AssertionError as e:
        die("the Shopify stand-in refused a control call: %s" % str(e).splitlines()[0][:200])
    print("RESULT slug=%s org_id=%d region=%s connection=%d shop=%s"
          % (org["slug"], int(org["id"]), org.get("region") or "eu", int(conn["id"]), org["shop"]))
    print("RESULT truth_count=%d truth_total=%s bucket_max=%d restore_rate=%d"
          % (int(truth["count"]), truth.get("total", "?"), KNOBS["bucket_max"],
             KNOBS["restore_rate"]))


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("shop", "sync"):
        die("usage: webhooks.py shop STACK_ENV LUA_OUT | sync STACK_ENV COUNT")
    st = stack_of(sys.argv[2])
    if sys.argv[1] == "shop":
        cmd_shop(st, sys.argv[3])
    else:
        cmd_sync(st, int(sys.argv[3]))


if __name__ == "__main__":
    main()
