"""POST /webhooks/{connector} through Apache + mod_fcgid (docs/api.md "Webhooks"):
signatures checked on the raw body before anything parses it, routing to the
org(s) whose connection reaches the account, one stored event per delivery,
the work done by the job runner after the answer, Shopify's privacy topics.
"""

import base64
import json
import os
import signal
import time
import uuid

import pytest

import connhelp as ch
import connhooks as wh
from apxtest import assert_problem, describe, postgres_stopped, run_stack_script
from authhelp import bearer
from datahelp import (content_rows, default_workspace, personal_email, tenant_json,
                      tenant_scalar, upload)
from orghelp import org_audit, psql
from test_internal import stored_count


@pytest.fixture(scope="module")
def have_webhooks(stack):
    if not stack.get("PROVIDERS_URL") or not stack.get("WEBHOOK_KEYS"):
        pytest.skip("stack without provider stand-ins or webhook keys")
    if not stack.get("JOBS_PID"):
        pytest.skip("stack without a job runner (JOBS_PID)")
    return True


@pytest.fixture
def shop(http, stack, have_webhooks):
    return wh.shop_org(http, stack)


def actions(http, u, slug):
    return [e["action"] for e in org_audit(http, bearer(u["token"]), slug)]


# ------------------------------------------------------------------ signatures

BAD_SIGNATURES = {
    "missing": None,
    "empty": "",
    "wrong": base64.b64encode(b"\x00" * 32).decode(),
    "truncated": "TRUNCATE",
    "too_long": "SIG+EXTRA",
    "not_base64": "%%%not base64%%%",
    "other_secret": "OTHER",
}


def bad_signature(stack, name, kind, body):
    good = wh.sign(wh.keys(stack)[name]["current"], body)
    return {"missing": None, "empty": "", "wrong": BAD_SIGNATURES["wrong"],
            "truncated": good[:20], "too_long": good + "AAAA",
            "not_base64": BAD_SIGNATURES["not_base64"],
            "other_secret": wh.sign("not-the-key-" + uuid.uuid4().hex, body)}[kind]


def sample_delivery(stack, name, account):
    """(body, headers) of a well-formed delivery of NAME for ACCOUNT."""
    if name == "shopify":
        return (json.dumps(wh.shopify_order(account)).encode(),
                wh.shopify_headers(account, "orders/create"))
    if name == "intuit":
        return (json.dumps({"eventNotifications": [{"realmId": account, "dataChangeEvent": {
            "entities": [{"name": "Invoice", "id": "42", "operation": "Create",
                          "lastUpdated": "2026-12-01T10:00:00.000Z"}]}}]}).encode(), {})
    return (json.dumps({"events": [{
        "resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/" + str(uuid.uuid4()),
        "resourceId": str(uuid.uuid4()), "eventDateUtc": "2026-12-01T10:00:00.000",
        "eventType": "CREATE", "eventCategory": "INVOICE", "tenantId": account,
        "tenantType": "ORGANISATION"}], "firstEventSequence": 1, "lastEventSequence": 1,
        "entropy": uuid.uuid4().hex}).encode(), {})


@pytest.mark.parametrize("kind", sorted(BAD_SIGNATURES))
@pytest.mark.parametrize("name", ch.CONNECTORS)
def test_a_bad_signature_is_401_without_a_body_and_stores_nothing(http, stack, have_webhooks,
                                                                   shop, name, kind):
    u, org, conn = shop
    account = org["shop"] if name == "shopify" else (
        "9130354872341234" if name == "intuit" else str(uuid.uuid4()))
    body, headers = sample_delivery(stack, name, account)
    before = wh.count_events(stack, org)
    jobs_before = wh.jobs(stack, org["id"])
    r = wh.deliver(http, stack, name, body, headers, secret=None,
                   signature=bad_signature(stack, name, kind, body))
    assert r.status_code == 401, describe(r)
    assert r.content == b"", describe(r)
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert wh.count_events(stack, org) == before
    assert wh.jobs(stack, org["id"]) == jobs_before


@pytest.mark.parametrize("name", ch.CONNECTORS)
def test_an_unsigned_or_oversized_delivery_changes_nothing(http, stack, have_webhooks, name):
    r = http.post("/webhooks/" + name, data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and r.content == b"", describe(r)
    big = b"{" + b" " * (int(stack.get("MAX_BODY_BYTES") or 1048576) + 10) + b"}"
    r = wh.deliver(http, stack, name, big)
    assert r.status_code == 413, describe(r)


def test_an_unknown_connector_is_404(http, have_webhooks):
    r = http.post("/webhooks/nope", data=b"{}", headers={"Content-Type": "application/json"})
    assert_problem(r, 404, "connector-not-found")
    r = http.get("/webhooks/shopify")
    assert r.status_code == 405, describe(r)


# ------------------------------------------------------------------ Shopify

def test_a_signed_order_is_stored_answered_then_synced_by_the_job_runner(http, stack, shop):
    u, org, conn = shop
    wh.set_sales(stack, "shopify", org["shop"].split(".")[0], 40)
    body, headers = sample_delivery(stack, "shopify", org["shop"])
    r = wh.deliver(http, stack, "shopify", body, headers)
    assert r.status_code == 200 and r.content == b"", describe(r)
    ev = wh.events(stack, org, conn["id"])
    assert len(ev) == 1 and ev[0]["type"] == "orders/create", ev
    assert ev[0]["account_id"] == org["shop"]
    assert ev[0]["event_id"] == headers["X-Shopify-Event-Id"]
    # the job runner acts after the answer: the order topic queues a sync
    wh.wait_for("the event to be processed",
                lambda: wh.events(stack, org, conn["id"])[0]["processed"])
    assert wh.events(stack, org, conn["id"])[0]["outcome"] == "sync_queued"
    wh.wait_jobs_done(stack, org["id"])
    t = wh.truth(stack, "shopify", org["shop"].split(".")[0])
    got = wh.sales_summary(stack, org, conn["id"])
    assert got["count"] == t["count"] == 40
    assert got["total"] == t["total"] and got["by_day"] == t["by_day"]
    c = wh.connection(http, u, org["slug"], conn["id"])
    assert c["sync"]["state"] == "ok" and c["sync"]["last_success_at"], c
    assert c["sync"]["records"] == 40 and c["sync"]["last_error"] is None, c


def test_a_replayed_delivery_is_stored_once(http, stack, shop):
    u, org, conn = shop
    body, headers = sample_delivery(stack, "shopify", org["shop"])
    for _ in range(3):
        r = wh.deliver(http, stack, "shopify", body, headers)
        assert r.status_code == 200, describe(r)
    # the same event id with another webhook id (Shopify's retry) too
    headers = dict(headers, **{"X-Shopify-Webhook-Id": str(uuid.uuid4())})
    assert wh.deliver(http, stack, "shopify", body, headers).status_code == 200
    assert len(wh.events(stack, org, conn["id"])) == 1
    wh.wait_jobs_done(stack, org["id"])
    # and once processed, a replay queues nothing again
    assert wh.deliver(http, stack, "shopify", body, headers).status_code == 200
    assert wh.jobs(stack, org["id"]) == []
    assert len(wh.events(stack, org, conn["id"])) == 1


def test_the_previous_secret_is_accepted_during_a_rotation(http, stack, shop):
    u, org, conn = shop
    body, headers = sample_delivery(stack, "shopify", org["shop"])
    r = wh.deliver(http, stack, "shopify", body, headers, secret="previous")
    assert r.status_code == 200, describe(r)
    assert len(wh.events(stack, org, conn["id"])) == 1


def test_an_unknown_account_is_logged_and_answered_200(http, stack, have_webhooks):
    shop = wh.unique_shop()
    body, headers = sample_delivery(stack, "shopify", shop)
    r = wh.deliver(http, stack, "shopify", body, headers)
    assert r.status_code == 200 and r.content == b"", describe(r)
    rid = r.headers.get("X-Request-Id")
    with open(stack["ERROR_LOG"], errors="replace") as f:
        lines = [ln for ln in f if rid and rid in ln]
    assert any("no connection reaches the account" in ln for ln in lines), lines


def test_a_webhook_for_org_a_never_lands_in_org_b(http, stack, have_webhooks):
    ua, a, ca = wh.shop_org(http, stack)
    ub, b, cb = wh.shop_org(http, stack)
    body, headers = sample_delivery(stack, "shopify", a["shop"])
    assert wh.deliver(http, stack, "shopify", body, headers).status_code == 200
    assert len(wh.events(stack, a)) == 1
    assert wh.events(stack, b) == []
    # two orgs connected to one shop both get it, each in its own database
    uc, c, cc = wh.shop_org(http, stack, shop=a["shop"])
    body, headers = sample_delivery(stack, "shopify", a["shop"])
    assert wh.deliver(http, stack, "shopify", body, headers).status_code == 200
    assert len(wh.events(stack, a)) == 2 and len(wh.events(stack, c)) == 1
    assert wh.events(stack, b) == []
    assert {e["connection_id"] for e in wh.events(stack, c)} == {cc["id"]}


def test_a_signed_but_unreadable_delivery_is_400(http, stack, shop):
    u, org, conn = shop
    r = wh.deliver(http, stack, "shopify", b"{}", {"X-Shopify-Topic": "orders/create"})
    assert_problem(r, 400, "webhook-invalid")
    assert wh.events(stack, org) == []


def test_customers_data_request_records_the_subjects_data(http, stack, shop):
    u, org, conn = shop
    ws = default_workspace(http, u["token"], org["slug"])["id"]
    email = personal_email("dr")
    upload(http, bearer(u["token"]), org["slug"], ws,
           [["email", "value"], [email, "1"], ["other@example.test", "2"]], personal=["email"])
    body = {"shop_id": 1, "shop_domain": org["shop"], "orders_requested": [1001],
            "customer": {"id": 77, "email": email, "phone": "+15550001"},
            "data_request": {"id": 9}}
    r = wh.deliver(http, stack, "shopify", body,
                   wh.shopify_headers(org["shop"], "customers/data_request"))
    assert r.status_code == 200, describe(r)
    wh.wait_jobs_done(stack, org["id"])
    reqs = tenant_json(stack, org, "SELECT kind, subject, result FROM privacy_requests")
    assert len(reqs) == 1 and reqs[0]["kind"] == "export", reqs
    fields = reqs[0]["result"]["uploads"][0]["fields"]
    assert [f["value"] for f in fields] == [email], fields
    assert "privacy.subject_export" in actions(http, u, org["slug"])
    assert wh.events(stack, org)[0]["outcome"] == "privacy"
    # the org's admins get it with the org's privacy export
    r = http.post("/api/v1/orgs/%s/privacy/export" % org["slug"], headers=bearer(u["token"]))
    assert r.status_code == 200, describe(r)
    got = r.json()["provider_privacy_requests"]
    assert [(q["connector"], q["kind"]) for q in got] == [("shopify", "export")], got
    assert got[0]["result"] == reqs[0]["result"]


def test_customers_redact_erases_the_subject(http, stack, shop):
    u, org, conn = shop
    ws = default_workspace(http, u["token"], org["slug"])["id"]
    email = personal_email("rd")
    up = upload(http, bearer(u["token"]), org["slug"], ws,
                [["email", "value"], [email, "1"], ["keep@example.test", "2"]],
                personal=["email"])
    body = {"shop_id": 1, "shop_domain": org["shop"], "customer": {"id": 78, "email": email},
            "orders_to_redact": [1001]}
    r = wh.deliver(http, stack, "shopify", body,
                   wh.shopify_headers(org["shop"], "customers/redact"))
    assert r.status_code == 200, describe(r)
    wh.wait_jobs_done(stack, org["id"])
    rows = content_rows(http, bearer(u["token"]), org["slug"], ws, up["id"])
    assert email not in json.dumps(rows)
    assert "keep@example.test" in json.dumps(rows)
    reqs = tenant_json(stack, org, "SELECT kind, subject, result FROM privacy_requests")
    assert reqs[0]["kind"] == "erase" and reqs[0]["result"]["fields"] == 1, reqs
    assert email not in json.dumps(reqs)        # what stays does not name the subject
    audit = org_audit(http, bearer(u["token"]), org["slug"])
    erasure = [e for e in audit if e["action"] == "privacy.erasure.subject"]
    assert erasure and email not in json.dumps(audit)


def test_shop_redact_forgets_the_shop(http, stack, shop):
    u, org, conn = shop
    wh.set_sales(stack, "shopify", org["shop"].split(".")[0], 10)
    r = wh.sync_cli(stack, "--connection", str(conn["id"]))
    assert r.returncode == 0, r.stdout + r.stderr
    assert wh.sales_summary(stack, org, conn["id"])["count"] == 10
    body = {"shop_id": 1, "shop_domain": org["shop"]}
    r = wh.deliver(http, stack, "shopify", body, wh.shopify_headers(org["shop"], "shop/redact"))
    assert r.status_code == 200, describe(r)
    wh.wait_for("the connection to go", lambda: http.get(
        "/api/v1/orgs/%s/connections/%d" % (org["slug"], conn["id"]),
        headers=bearer(u["token"])).status_code == 404)
    assert wh.sales(stack, org, conn["id"]) == []
    assert "connector.forget" in actions(http, u, org["slug"])
    reqs = tenant_json(stack, org, "SELECT kind, subject FROM privacy_requests")
    assert reqs == [{"kind": "forget", "subject": {"account": org["shop"]}}], reqs


# ------------------------------------------------------------------ Intuit

def intuit_legacy(*realms):
    return {"eventNotifications": [{"realmId": r, "dataChangeEvent": {"entities": [
        {"name": "Invoice", "id": str(i + 1), "operation": "Update",
         "lastUpdated": "2026-12-01T10:00:0%d.000Z" % i}]}} for i, r in enumerate(realms)]}


def intuit_cloudevents(*realms):
    return [{"specversion": "1.0", "id": str(uuid.uuid4()), "source": "intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",
             "type": "qbo.invoice.updated.v1", "datacontenttype": "application/json",
             "time": "2026-12-01T10:00:00Z", "intuitentityid": "1", "intuitaccountid": r}
            for r in realms]


@pytest.mark.parametrize("shape", ["legacy", "cloudevents"])
def test_intuit_delivery_for_several_realms_reaches_each_org_only(http, stack, have_webhooks,
                                                                  shape):
    ra, rb = wh.new_realm(), wh.new_realm()
    ua, a, ca = wh.intuit_org(http, stack, ra)
    ub, b, cb = wh.intuit_org(http, stack, rb)
    body = intuit_legacy(ra, rb) if shape == "legacy" else intuit_cloudevents(ra, rb)
    r = wh.deliver(http, stack, "intuit", body)
    assert r.status_code == 200, describe(r)
    ea, eb = wh.events(stack, a), wh.events(stack, b)
    assert [e["account_id"] for e in ea] == [ra], ea
    assert [e["account_id"] for e in eb] == [rb], eb
    assert rb not in json.dumps(ea) and ra not in json.dumps(eb)
    # the previous verifier token, during a rotation
    body = intuit_legacy(ra) if shape == "legacy" else intuit_cloudevents(ra)
    if shape == "legacy":
        body["eventNotifications"][0]["dataChangeEvent"]["entities"][0]["id"] = "99"
    assert wh.deliver(http, stack, "intuit", body, secret="previous").status_code == 200
    assert len(wh.events(stack, a)) == 2
    # a repeat of the same delivery is stored once
    assert wh.deliver(http, stack, "intuit", body).status_code == 200
    assert len(wh.events(stack, a)) == 2


# ------------------------------------------------------------------ Xero

def xero_body(*tenants, category="INVOICE"):
    return {"events": [{"resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/x",
                        "resourceId": str(uuid.uuid4()), "eventDateUtc": "2026-12-01T10:00:00.000",
                        "eventType": "UPDATE", "eventCategory": category, "tenantId": t,
                        "tenantType": "ORGANISATION"} for t in tenants],
            "firstEventSequence": 1, "lastEventSequence": len(tenants), "entropy": uuid.uuid4().hex}


def test_xero_intent_to_receive(http, stack, have_webhooks):
    itr = {"events": [], "firstEventSequence": 0, "lastEventSequence": 0,
           "entropy": "S0MEENTR0PY"}
    body = json.dumps(itr).encode()
    r = wh.deliver(http, stack, "xero", body)
    assert r.status_code == 200 and r.content == b"", describe(r)
    r = wh.deliver(http, stack, "xero", body, secret=None, signature=wh.sign("wrong", body))
    assert r.status_code == 401 and r.content == b"", describe(r)
    r = wh.deliver(http, stack, "xero", body, secret=None)
    assert r.status_code == 401 and r.content == b"", describe(r)


def test_xero_delivery_for_several_tenants(http, stack, have_webhooks):
    u, org, conn = wh.xero_org(http, stack)
    tenants = [a["id"] for a in conn["accounts"]]
    assert len(tenants) == 2, conn
    r = wh.deliver(http, stack, "xero", xero_body(*tenants))
    assert r.status_code == 200, describe(r)
    ev = wh.events(stack, org, conn["id"])
    assert sorted(e["account_id"] for e in ev) == sorted(tenants), ev
    # no event id at Xero: the same event again is recognised by its digest
    body = xero_body(tenants[0])
    for _ in range(2):
        assert wh.deliver(http, stack, "xero", body).status_code == 200
    assert len(wh.events(stack, org, conn["id"])) == 3
    assert wh.deliver(http, stack, "xero", xero_body(tenants[0]),
                      secret="previous").status_code == 200
    assert len(wh.events(stack, org, conn["id"])) == 4


# ------------------------------------------------------------------ the job queue

def test_a_job_held_by_a_runner_that_died_is_taken_again(http, stack, shop):
    """SIGSTOP the stack's runner, leave a job leased as by a runner killed
    mid-job, let the lease run out: the runner takes it again."""
    u, org, conn = shop
    pid = int(stack["JOBS_PID"])
    os.kill(pid, signal.SIGSTOP)
    try:
        body, headers = sample_delivery(stack, "shopify", org["shop"])
        assert wh.deliver(http, stack, "shopify", body, headers).status_code == 200
        psql(stack, "UPDATE jobs SET attempts = 1, locked_until = now() + interval '2 seconds' "
             "WHERE org_id = %d" % org["id"])
    finally:
        os.kill(pid, signal.SIGCONT)
    wh.wait_for("the abandoned job to run", lambda: wh.events(stack, org)[0]["processed"])
    assert wh.events(stack, org)[0]["outcome"] == "sync_queued"


def test_metrics_count_deliveries_and_show_the_queue(http, stack, shop):
    """A stored and a refused delivery are counted by outcome, and within
    seconds even with no request after them (the worker flushes while it
    waits); the metrics page shows them beside the queue and the lag."""
    u, org, conn = shop
    stored = 'connector="shopify",outcome="stored"'
    refused = 'connector="shopify",outcome="unauthorized"'

    def count(labels):
        return stored_count(stack, "apx_webhook_deliveries_total", labels)

    before = count(stored), count(refused)
    body, headers = sample_delivery(stack, "shopify", org["shop"])
    assert wh.deliver(http, stack, "shopify", body, headers).status_code == 200
    r = wh.deliver(http, stack, "shopify", body, headers, secret=None,
                   signature=bad_signature(stack, "shopify", "wrong", body))
    assert r.status_code == 401, describe(r)
    wh.wait_for("both deliveries in metric_counters",
                lambda: count(stored) >= before[0] + 1 and count(refused) >= before[1] + 1,
                timeout=15)
    r = http.get("/internal/metrics", headers={"X-Internal-Secret": stack["INTERNAL_SECRET"]})
    assert r.status_code == 200, describe(r)
    text = r.text
    assert 'apx_webhook_deliveries_total{%s}' % stored in text
    assert 'apx_webhook_deliveries_total{%s}' % refused in text
    assert 'apx_job_queue_depth{kind="webhook",state="due"}' in text
    assert 'apx_sync_lag_seconds{connector="shopify"}' in text


# ------------------------------------------------------------------ PostgreSQL down

@pytest.mark.pgstop
@pytest.mark.slow
def test_the_tenant_database_down_is_503_and_the_retry_is_stored(http, stack, shop):
    """The org's region server stops mid-traffic: the delivery is not
    acknowledged (the provider retries), and the retry is stored once."""
    u, org, conn = shop
    body, headers = sample_delivery(stack, "shopify", org["shop"])
    run_stack_script("pg-stop", stack["STACK_DIR"], "--region", org.get("region") or "eu")
    try:
        r = wh.deliver(http, stack, "shopify", body, headers)
        assert r.status_code == 503, describe(r)
        assert r.headers.get("Retry-After"), describe(r)
    finally:
        run_stack_script("pg-start", stack["STACK_DIR"], "--region", org.get("region") or "eu")
    r = wh.wait_for("the region back", lambda: wh.deliver(
        http, stack, "shopify", body, headers).status_code == 200)
    assert len(wh.events(stack, org, conn["id"])) == 1
    wh.wait_for("the event to be processed",
                lambda: wh.events(stack, org, conn["id"])[0]["processed"])


@pytest.mark.pgstop
@pytest.mark.slow
def test_the_job_runner_outlives_the_control_database(http, stack, shop):
    """The control server stops and starts again: the runner is still there
    and takes the next job."""
    u, org, conn = shop
    pid = int(stack["JOBS_PID"])
    with postgres_stopped(stack):
        time.sleep(3)       # the runner meets the outage at least once
    os.kill(pid, 0)         # still running
    body, headers = sample_delivery(stack, "shopify", org["shop"])
    assert wh.deliver(http, stack, "shopify", body, headers).status_code == 200
    wh.wait_for("the event to be processed",
                lambda: wh.events(stack, org, conn["id"])[0]["processed"])
