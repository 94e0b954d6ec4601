"""Sync of sales data (docs/api.md "Sync"): each connector's plugin pages through its
provider's API (the stand-ins of tests/standins/providers.py) from the connection's
cursor, through 429s, Shopify's cost-based throttling and expired tokens, into the
org's own database and a daily series in the connection's workspace; idempotent,
resumable after SIGKILL, one run at a time per connection.
"""

import json
import signal
import time

import pytest

import connhelp as ch
import connhooks as wh
from apxtest import assert_problem, describe
from authhelp import bearer
from datahelp import content_rows, default_workspace, forecast
from orghelp import add_member, create_workspace, new_member, org_audit, psql


@pytest.fixture(scope="module")
def have_sync(stack):
    if not stack.get("PROVIDERS_URL") or not stack.get("JOBS_PID"):
        pytest.skip("stack without provider stand-ins or job runner")
    return True


@pytest.fixture(autouse=True)
def calm_providers(stack, have_sync):
    """Every fault knob off before and after each test."""
    def reset():
        for p in ch.CONNECTORS:
            wh.knobs(stack, p, rate_limit_at=0, expire_token_at=0)
        wh.knobs(stack, "shopify", bucket_max=2000, restore_rate=100)
    reset()
    yield
    reset()


def account_of(name, org, conn):
    if name == "shopify":
        return org["shop"].split(".")[0]
    if name == "intuit":
        return org["realm"]
    return conn["accounts"][0]["id"]


def connected(http, stack, name):
    if name == "shopify":
        return wh.shop_org(http, stack)
    if name == "intuit":
        return wh.intuit_org(http, stack, wh.new_realm())
    return wh.xero_org(http, stack)


def run_sync(stack, conn, expect=0):
    r = wh.sync_cli(stack, "--connection", str(conn["id"]))
    assert r.returncode == expect, r.stdout + r.stderr
    return r.stdout


def assert_matches_truth(stack, name, org, conn):
    t = wh.truth(stack, name, account_of(name, org, conn))
    if name == "xero":      # the connection reaches both Xero tenants
        t2 = wh.truth(stack, name, conn["accounts"][1]["id"])
        assert t2["count"] >= 0
    got = wh.sales_summary(stack, org, conn["id"])
    if name != "xero":
        assert got["count"] == t["count"], (got["count"], t["count"])
        assert got["total"] == t["total"] and got["by_day"] == t["by_day"]
    return got, t


@pytest.mark.parametrize("name", ch.CONNECTORS)
def test_sync_pages_through_a_429_and_an_expired_token(http, stack, name):
    u, org, conn = connected(http, stack, name)
    acct = account_of(name, org, conn)
    n = {"shopify": 620, "intuit": 450, "xero": 230}[name]
    wh.set_sales(stack, name, acct, n)
    before = wh.stats(stack)
    wh.knobs(stack, name, rate_limit_at=2, expire_token_at=3)
    out = run_sync(stack, conn)
    after = wh.stats(stack)
    assert after["rate_limited"][name] == before["rate_limited"][name] + 1
    assert after["expired_injected"][name] == before["expired_injected"][name] + 1
    assert after["token_calls"][name]["refresh_token"] > before["token_calls"][name]["refresh_token"]
    got, t = assert_matches_truth(stack, name, org, conn)
    if name == "xero":
        assert got["count"] == t["count"], (got, t)
        assert got["total"] == t["total"] and got["by_day"] == t["by_day"]
    c = wh.connection(http, u, org["slug"], conn["id"])
    assert c["sync"]["state"] == "ok" and c["sync"]["pages"] >= 2, c
    assert c["status"] == "active", c
    # a second run adds nothing
    run_sync(stack, conn)
    assert wh.sales_summary(stack, org, conn["id"]) == got
    # the daily series in the default workspace, one row a day, ready to forecast
    ws = default_workspace(http, u["token"], org["slug"])["id"]
    r = http.get("/api/v1/orgs/%s/workspaces/%d/uploads" % (org["slug"], ws),
                 headers=bearer(u["token"]))
    ups = [x for x in r.json()["uploads"] if x["name"].startswith("Sales from")]
    assert len(ups) == 1, r.json()
    rows = content_rows(http, bearer(u["token"]), org["slug"], ws, ups[0]["id"])
    assert rows[0] == ["date", "orders", "sales"], rows[:2]
    series = {d: s for d, o, s in rows[1:] if s != "0.00"}
    assert series == got["by_day"]
    f = forecast(http, bearer(u["token"]), org["slug"], ws, ups[0]["id"], value_column="sales",
                 method="moving_average", horizon=7, window=7)
    assert f["forecast"]["upload_id"] == ups[0]["id"], f


@pytest.mark.parametrize("name", ch.CONNECTORS)
def test_an_incremental_run_takes_changes_voids_and_additions(http, stack, name):
    u, org, conn = connected(http, stack, name)
    acct = account_of(name, org, conn)
    wh.set_sales(stack, name, acct, 25)
    run_sync(stack, conn)
    ids = wh.truth(stack, name, acct)["ids"]
    wh.ch.control(stack, "sales/update", {"provider": name, "account": acct, "ids": ids[:2],
                                          "amount": "99.99"})
    wh.ch.control(stack, "sales/update", {"provider": name, "account": acct, "ids": ids[2:3],
                                          "void": True})
    wh.ch.control(stack, "sales/add", {"provider": name, "account": acct, "count": 5})
    calls = wh.stats(stack)["sales_calls"][name]
    run_sync(stack, conn)
    assert wh.stats(stack)["sales_calls"][name] - calls <= 3     # only what changed
    t = wh.truth(stack, name, acct)
    got = wh.sales_summary(stack, org, conn["id"])
    if name != "xero":
        assert got["count"] == t["count"] == 30
    assert got["total"] == t["total"] and got["by_day"] == t["by_day"]


def test_a_run_killed_with_sigkill_resumes_without_loss_or_duplicate(http, stack):
    u, org, conn = wh.shop_org(http, stack)
    acct = account_of("shopify", org, conn)
    wh.set_sales(stack, "shopify", acct, 5000)
    # a slow provider: Shopify's cost bucket holds two pages, then one a second
    wh.knobs(stack, "shopify", bucket_max=600, restore_rate=250)
    p = wh.sync_cli(stack, "--connection", str(conn["id"]), background=True)
    try:
        wh.wait_for("three pages", lambda: wh.connection(
            http, u, org["slug"], conn["id"])["sync"]["pages"] >= 3, timeout=60)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    part = wh.sales_summary(stack, org, conn["id"])["count"]
    assert 0 < part < 5000, part
    c = wh.connection(http, u, org["slug"], conn["id"])
    assert c["sync"]["state"] == "running", c      # what the dead run left
    # the connection's lock died with the process: the next run goes on
    wh.knobs(stack, "shopify", bucket_max=2000, restore_rate=1000)
    calls = wh.stats(stack)["sales_calls"]["shopify"]
    out = run_sync(stack, conn)
    assert "failed" not in out and "another run" not in out, out
    pages = wh.stats(stack)["sales_calls"]["shopify"] - calls
    assert pages <= 20 - part // 250 + 1, (pages, part)      # resumed, not restarted
    t = wh.truth(stack, "shopify", acct)
    got = wh.sales_summary(stack, org, conn["id"])
    assert got["count"] == t["count"] == 5000
    assert got["total"] == t["total"] and got["by_day"] == t["by_day"]


def test_one_run_at_a_time_per_connection(http, stack):
    u, org, conn = wh.shop_org(http, stack)
    acct = account_of("shopify", org, conn)
    wh.set_sales(stack, "shopify", acct, 2000)
    wh.knobs(stack, "shopify", bucket_max=600, restore_rate=250)
    p = wh.sync_cli(stack, "--connection", str(conn["id"]), background=True)
    try:
        wh.wait_for("a page", lambda: wh.connection(
            http, u, org["slug"], conn["id"])["sync"]["pages"] >= 1, timeout=60)
        out = run_sync(stack, conn)
        assert "another run is at it" in out, out
    finally:
        out, err = p.communicate(timeout=120)
    assert p.returncode == 0, out + err
    assert wh.sales_summary(stack, org, conn["id"])["count"] == 2000


def test_throttling_is_honoured_not_failed(http, stack):
    u, org, conn = wh.shop_org(http, stack)
    acct = account_of("shopify", org, conn)
    wh.set_sales(stack, "shopify", acct, 1000)
    wh.knobs(stack, "shopify", bucket_max=300, restore_rate=400)
    before = wh.stats(stack)["throttled"]["shopify"]
    run_sync(stack, conn)
    assert wh.sales_summary(stack, org, conn["id"])["count"] == 1000
    # the plugin waits for its bucket before asking: hardly ever throttled
    assert wh.stats(stack)["throttled"]["shopify"] - before <= 1


def test_revoked_consent_marks_the_connection_and_stops(http, stack):
    u, org, conn = wh.shop_org(http, stack)
    wh.set_sales(stack, "shopify", account_of("shopify", org, conn), 10)
    run_sync(stack, conn)
    ch.control(stack, "revoke-all", {"provider": "shopify"})
    psql(stack, "UPDATE connections SET access_expires_at = now() - interval '1 minute' "
         "WHERE id = %d" % conn["id"])
    out = run_sync(stack, conn, expect=1)
    assert "needs_reauth" in out, out
    c = wh.connection(http, u, org["slug"], conn["id"])
    assert c["status"] == "needs_reauth" and c["sync"]["last_error"] == "needs_reauth", c
    # a queued sync of it ends at once instead of retrying for ever
    r = http.post("/api/v1/orgs/%s/connections/%d/sync" % (org["slug"], conn["id"]),
                  headers=bearer(u["token"]))
    assert_problem(r, 409, "connection-needs-reauth")


def test_sync_on_request_and_the_series_workspace(http, stack):
    u, org, conn = wh.shop_org(http, stack, plan="growth")
    wh.set_sales(stack, "shopify", account_of("shopify", org, conn), 12)
    other = create_workspace(http, u["token"], org["slug"])
    base = "/api/v1/orgs/%s/connections/%d" % (org["slug"], conn["id"])
    r = http.patch(base, json={"workspace_id": other["id"]}, headers=bearer(u["token"]))
    assert r.status_code == 200 and r.json()["workspace_id"] == other["id"], describe(r)
    for bad in ({"workspace_id": "x"}, {"workspace_id": 0}, {"status": "active"}, {}):
        assert_problem(http.patch(base, json=bad, headers=bearer(u["token"])), 422,
                       "invalid-field")
    r = http.post(base + "/sync", headers=bearer(u["token"]))
    assert r.status_code == 202 and r.json()["connection_id"] == conn["id"], describe(r)
    wh.wait_jobs_done(stack, org["id"])
    r = http.get("/api/v1/orgs/%s/workspaces/%d/uploads" % (org["slug"], other["id"]),
                 headers=bearer(u["token"]))
    assert [x["name"] for x in r.json()["uploads"]] == ["Sales from Shopify: " + org["shop"]]
    assert {"connector.update", "connector.sync"} <= {
        e["action"] for e in org_audit(http, bearer(u["token"]), org["slug"])}
    # a viewer may not; another org's member gets the same 404 as for nothing
    v = new_member(http)
    add_member(http, u["token"], org["slug"], "viewer", user=v)
    assert http.post(base + "/sync", headers=bearer(v["token"])).status_code == 403
    x = new_member(http)
    assert http.post(base + "/sync", headers=bearer(x["token"])).status_code == 404
    wh2 = http.patch(base, json={"workspace_id": other["id"]}, headers=bearer(x["token"]))
    assert wh2.status_code == 404
    # a workspace of another org is refused
    ux, ox, cx = wh.shop_org(http, stack)
    wsx = default_workspace(http, ux["token"], ox["slug"])["id"]
    assert_problem(http.patch(base, json={"workspace_id": wsx}, headers=bearer(u["token"])),
                   422, "invalid-field")
