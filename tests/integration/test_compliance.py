"""The compliance sheet of the platform console, /admin/api/compliance
(docs/api.md "Platform admin"): the platform's DPAs and subprocessors, kept
by superusers, every field checked, every change in the platform audit log,
overdue reviews first."""

import json
import uuid
from datetime import timedelta

import pytest

from apxtest import assert_no_leak, assert_problem, describe, media_type
from authhelp import bearer
from orghelp import (ADMIN, MISSING_ID, cookies_off, cookies_restore, create_api_key,
                     create_org, end_impersonation, impersonate, new_member, now_utc,
                     platform_audit, psql, rfc3339, superuser)

SHEET = ADMIN + "/compliance"
ITEM_KEYS = {"id", "kind", "name", "purpose", "data_categories", "region", "dpa_signed",
             "review_due", "document_url", "overdue", "created_at", "created_by",
             "updated_at", "updated_by"}


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


@pytest.fixture
def su(http, stack):
    return superuser(http, stack)


def tag():
    return uuid.uuid4().hex[:12]


def body(t, **over):
    """A valid new item whose name carries the tag T."""
    b = {"kind": "subprocessor", "name": "Hosting Ltd %s" % t, "purpose": "Runs the servers",
         "data_categories": ["account data", "forecast data"], "region": "EU (Frankfurt)",
         "dpa_signed": "2024-02-29", "review_due": "2999-06-30",
         "document_url": "https://docs.example.com/dpa/hosting.pdf"}
    b.update(over)
    return {k: v for k, v in b.items() if v is not ...}


def create(http, su, t, **over):
    r = http.post(SHEET, json=body(t, **over), headers=bearer(su["token"]))
    assert r.status_code == 201, describe(r)
    return r


def listing(http, su, **params):
    r = http.get(SHEET, params=params, headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json", describe(r)
    items = r.json()["items"]
    for i in items:
        assert set(i) == ITEM_KEYS, i
    return items


def tagged(http, su, t, **params):
    return [i for i in listing(http, su, **params) if t in i["name"]]


def rows_named(stack, t):
    return psql(stack, "SELECT count(*) FROM compliance_items WHERE name LIKE '%%%s%%'"
                % t).stdout.strip()


def audit_of(http, su, resp):
    rid = resp.headers["X-Request-Id"]
    since = rfc3339(now_utc() - timedelta(minutes=10))
    return [e for e in platform_audit(http, su["token"], since=since, action="compliance.")
            if e["request_id"] == rid]


# ==================================================================== CRUD

def test_create_read_update_delete(http, stack, su):
    t = tag()
    r = create(http, su, t)
    item = r.json()["item"]
    assert set(item) == ITEM_KEYS, item
    assert item["id"] > 0 and item["kind"] == "subprocessor", item
    assert item["data_categories"] == ["account data", "forecast data"], item
    assert (item["dpa_signed"], item["review_due"]) == ("2024-02-29", "2999-06-30"), item
    assert item["overdue"] is False, item
    assert item["created_by"] == su["id"] and item["updated_by"] == su["id"], item
    assert r.headers["Location"] == "%s/%d" % (SHEET, item["id"]), describe(r)
    assert "no-store" in r.headers.get("Cache-Control", ""), describe(r)

    g = http.get(r.headers["Location"], headers=bearer(su["token"]))
    assert g.status_code == 200, describe(g)
    assert g.json()["item"] == item
    h = http.head(r.headers["Location"], headers=bearer(su["token"]))
    assert h.status_code == 200 and not h.content, describe(h)
    assert [i["id"] for i in tagged(http, su, t)] == [item["id"]]

    # PATCH changes what it names, and only that
    p = http.patch(r.headers["Location"], json={"purpose": "Runs the servers and backups",
                                                "document_url": None},
                   headers=bearer(su["token"]))
    assert p.status_code == 200, describe(p)
    got = p.json()["item"]
    want = dict(item, purpose="Runs the servers and backups", document_url=None)
    for k in ("updated_at", "updated_by"):
        want.pop(k)
        assert k in got
    assert {k: v for k, v in got.items() if k not in ("updated_at", "updated_by")} == want
    assert got["updated_at"] >= item["updated_at"], got
    assert http.get(r.headers["Location"], headers=bearer(su["token"])).json()["item"] == got

    p = http.patch(r.headers["Location"], json={"kind": "dpa", "dpa_signed": None,
                                                "data_categories": ["payroll"]},
                   headers=bearer(su["token"]))
    assert p.status_code == 200, describe(p)
    got = p.json()["item"]
    assert (got["kind"], got["dpa_signed"], got["data_categories"]) == ("dpa", None,
                                                                         ["payroll"]), got
    assert got["purpose"] == "Runs the servers and backups", got

    d = http.delete(r.headers["Location"], headers=bearer(su["token"]))
    assert d.status_code == 204 and not d.content, describe(d)
    for method, kw in (("GET", {}), ("PATCH", {"json": {"name": "x"}}), ("DELETE", {})):
        x = http.request(method, r.headers["Location"], headers=bearer(su["token"]), **kw)
        assert_problem(x, 404, slug="compliance-item-not-found", stack=stack)
    assert tagged(http, su, t) == []


def test_unknown_item_404(http, stack, su):
    for method, kw in (("GET", {}), ("PATCH", {"json": {"name": "x"}}), ("DELETE", {})):
        r = http.request(method, "%s/%d" % (SHEET, MISSING_ID), headers=bearer(su["token"]),
                         **kw)
        assert_problem(r, 404, slug="compliance-item-not-found", stack=stack)
    r = http.get(SHEET + "/abc", headers=bearer(su["token"]))
    assert_problem(r, 404, stack=stack)


def test_optional_fields_may_be_left_out(http, su):
    t = tag()
    r = create(http, su, t, dpa_signed=..., document_url=...)
    item = r.json()["item"]
    assert item["dpa_signed"] is None and item["document_url"] is None, item


# ==================================================================== validation

LONG_URL = "https://docs.example.com/" + "a" * 2030

BAD = [
    ("kind", "vendor"), ("kind", ""), ("kind", 1), ("kind", None), ("kind", ["dpa"]),
    ("name", ""), ("name", "x" * 201), ("name", 5), ("name", None), ("name", "two\nlines"),
    ("purpose", ""), ("purpose", "p" * 1001), ("purpose", {"a": 1}),
    ("data_categories", []), ("data_categories", "account data"),
    ("data_categories", ["c%d" % i for i in range(33)]), ("data_categories", [""]),
    ("data_categories", ["x" * 101]), ("data_categories", [1]), ("data_categories", [None]),
    ("data_categories", ["a", "b", "a"]), ("data_categories", ["tab\there"]),
    ("data_categories", None),
    ("region", ""), ("region", "r" * 101), ("region", None),
    ("dpa_signed", "2023-02-29"), ("dpa_signed", "2024-13-01"), ("dpa_signed", "2024-04-31"),
    ("dpa_signed", "24-01-01"), ("dpa_signed", "2024-1-1"), ("dpa_signed", 20240101),
    ("dpa_signed", "2024-01-01T00:00:00Z"), ("dpa_signed", "1899-12-31"),
    ("dpa_signed", " 2024-01-01"), ("dpa_signed", "2024/01/01"),
    ("review_due", None), ("review_due", "2025-02-30"), ("review_due", "tomorrow"),
    ("review_due", "+2025-01-01"),
    ("document_url", "http://docs.example.com/dpa.pdf"), ("document_url", "https://"),
    ("document_url", "https:///dpa.pdf"), ("document_url", "https://user:pw@example.com/x"),
    ("document_url", "https://exa mple.com/x"), ("document_url", "ftp://example.com/x"),
    ("document_url", "javascript:alert(1)"), ("document_url", "https://example.com/<x>"),
    ("document_url", "https://example.com/\u00e9"), ("document_url", LONG_URL),
    ("document_url", "HTTPS://example.com/x"), ("document_url", "https://example.com:123456/"),
    ("document_url", 7), ("document_url", ""),
]


@pytest.mark.parametrize("field,value", BAD, ids=["%s=%r" % (f, v)[:60] for f, v in BAD])
def test_create_refuses_each_bad_field(http, stack, su, field, value):
    t = tag()
    r = http.post(SHEET, json=body(t, **{field: value}), headers=bearer(su["token"]))
    p = assert_problem(r, 422, slug="invalid-field", field=field, stack=stack)
    assert p["detail"], p
    assert rows_named(stack, t) == "0"
    assert audit_of(http, su, r) == []


@pytest.mark.parametrize("field", ["kind", "name", "purpose", "data_categories", "region",
                                   "review_due"])
def test_create_needs_each_required_field(http, stack, su, field):
    t = tag()
    r = http.post(SHEET, json=body(t, **{field: ...}), headers=bearer(su["token"]))
    assert_problem(r, 422, slug="invalid-field", field=field, stack=stack)
    assert rows_named(stack, t) == "0"


@pytest.mark.parametrize("extra", ["id", "overdue", "created_by", "notes", "Name"])
def test_unknown_fields_422(http, stack, su, extra):
    t = tag()
    r = http.post(SHEET, json=dict(body(t), **{extra: 1}), headers=bearer(su["token"]))
    assert_problem(r, 422, slug="invalid-field", field=extra, stack=stack)
    assert rows_named(stack, t) == "0"
    item = create(http, su, t).json()["item"]
    r = http.patch("%s/%d" % (SHEET, item["id"]), json={"name": "x", extra: 1},
                   headers=bearer(su["token"]))
    assert_problem(r, 422, slug="invalid-field", field=extra, stack=stack)
    assert http.get("%s/%d" % (SHEET, item["id"]),
                    headers=bearer(su["token"])).json()["item"] == item


def test_longest_values_are_taken(http, su):
    t = tag()
    b = body(t, name=("N%s" % t).ljust(200, "\u00e9"), purpose="p" * 1000,
             data_categories=["c%02d" % i + "x" * 97 for i in range(32)], region="r" * 100,
             document_url="https://docs.example.com/" + "a" * (2048 - 25), dpa_signed="2000-02-29")
    r = http.post(SHEET, json=b, headers=bearer(su["token"]))
    assert r.status_code == 201, describe(r)
    item = r.json()["item"]
    for k in ("name", "purpose", "data_categories", "region", "document_url", "dpa_signed"):
        assert item[k] == b[k], k


@pytest.mark.parametrize("patch,field", [
    ({"review_due": "2023-02-29"}, "review_due"), ({"review_due": None}, "review_due"),
    ({"name": None}, "name"), ({"kind": "other"}, "kind"), ({"data_categories": []},
                                                           "data_categories"),
    ({"document_url": "http://example.com/x"}, "document_url"),
    ({"purpose": "ok", "region": ""}, "region"),
])
def test_patch_validation_changes_nothing(http, stack, su, patch, field):
    t = tag()
    item = create(http, su, t).json()["item"]
    url = "%s/%d" % (SHEET, item["id"])
    r = http.patch(url, json=patch, headers=bearer(su["token"]))
    assert_problem(r, 422, slug="invalid-field", field=field, stack=stack)
    assert http.get(url, headers=bearer(su["token"])).json()["item"] == item
    assert audit_of(http, su, r) == []


def test_empty_patch_422(http, stack, su):
    item = create(http, su, tag()).json()["item"]
    r = http.patch("%s/%d" % (SHEET, item["id"]), json={}, headers=bearer(su["token"]))
    assert_problem(r, 422, slug="invalid-field", stack=stack)


@pytest.mark.parametrize("payload,ctype,status", [
    (b"{not json", "application/json", 400), (b"[1, 2]", "application/json", 400),
    (b'{"kind": "dpa"}', "text/plain", 415)])
def test_body_must_be_a_json_object(http, stack, su, payload, ctype, status):
    r = http.post(SHEET, data=payload, headers=dict(bearer(su["token"]),
                                                    **{"Content-Type": ctype}))
    assert_problem(r, status, stack=stack)


# ==================================================================== overdue

def test_overdue_computed_and_listed_first(http, stack, su):
    t = tag()
    made = {}
    for due, kind in (("2999-01-01", "dpa"), ("2010-06-15", "subprocessor"),
                      ("2998-01-01", "subprocessor"), ("2001-01-01", "dpa")):
        made[due] = create(http, su, t, review_due=due, kind=kind,
                           name="Vendor %s %s" % (due, t)).json()["item"]
    assert made["2001-01-01"]["overdue"] is True and made["2010-06-15"]["overdue"] is True
    assert made["2998-01-01"]["overdue"] is False and made["2999-01-01"]["overdue"] is False
    got = tagged(http, su, t)
    assert [i["review_due"] for i in got] == ["2001-01-01", "2010-06-15", "2998-01-01",
                                              "2999-01-01"], got
    assert [i["overdue"] for i in got] == [True, True, False, False], got
    # overdue items of the whole sheet come before every other
    everything = listing(http, su)
    flags = [i["overdue"] for i in everything]
    assert flags == sorted(flags, reverse=True), flags
    for part in (True, False):
        dues = [i["review_due"] for i in everything if i["overdue"] is part]
        assert dues == sorted(dues), dues
    # filters
    assert [i["review_due"] for i in tagged(http, su, t, overdue="true")] == [
        "2001-01-01", "2010-06-15"]
    assert [i["review_due"] for i in tagged(http, su, t, overdue="false")] == [
        "2998-01-01", "2999-01-01"]
    assert [i["review_due"] for i in tagged(http, su, t, kind="dpa")] == [
        "2001-01-01", "2999-01-01"]
    assert [i["review_due"] for i in tagged(http, su, t, kind="subprocessor",
                                            overdue="true")] == ["2010-06-15"]
    assert all(i["overdue"] for i in listing(http, su, overdue="true"))
    # a review moved into the future is no longer overdue
    r = http.patch("%s/%d" % (SHEET, made["2001-01-01"]["id"]),
                   json={"review_due": "2997-01-01"}, headers=bearer(su["token"]))
    assert r.status_code == 200 and r.json()["item"]["overdue"] is False, describe(r)


@pytest.mark.parametrize("params,field", [({"kind": "vendor"}, "kind"), ({"kind": ""}, "kind"),
                                          ({"overdue": "yes"}, "overdue"),
                                          ({"overdue": "1"}, "overdue")])
def test_list_bad_filters_422(http, stack, su, params, field):
    r = http.get(SHEET, params=params, headers=bearer(su["token"]))
    assert_problem(r, 422, slug="invalid-field", field=field, stack=stack)


# ==================================================================== who may

def test_only_superusers_see_the_sheet(http, stack, su):
    t = tag()
    item = create(http, su, t).json()["item"]
    one = "%s/%d" % (SHEET, item["id"])
    user = new_member(http)
    org = create_org(http, user["token"], plan="growth")
    _, key = create_api_key(http, user["token"], org["slug"], role="admin")
    imp = impersonate(http, su["token"], user["id"], "compliance sheet check")
    try:
        calls = [("GET", SHEET, None), ("HEAD", SHEET, None), ("GET", one, None),
                 ("POST", SHEET, body(t, name="Intruder %s" % t)),
                 ("PATCH", one, {"name": "Intruder %s" % t}), ("DELETE", one, None)]
        for method, path, payload in calls:
            kw = {"json": payload} if payload is not None else {}
            for who, h, want in (("a signed-in user", bearer(user["token"]), (404, "not-found")),
                                 ("an API key", bearer(key), (404, "not-found")),
                                 ("nobody", {}, (401, "unauthenticated"))):
                r = http.request(method, path, headers=h, **kw)
                if method == "HEAD":
                    assert r.status_code == want[0], (who, method, path, r.status_code)
                else:
                    assert_problem(r, want[0], slug=want[1], stack=stack)
            r = http.request(method, path, headers=bearer(imp["access_token"]), **kw)
            if method in ("GET", "HEAD"):
                assert r.status_code == 404, describe(r)
                if method == "GET":
                    assert_problem(r, 404, slug="not-found", stack=stack)
            else:
                assert_problem(r, 403, slug="impersonation-read-only", stack=stack)
    finally:
        end_impersonation(http, su["token"], imp["impersonation_id"])
    # nothing changed
    assert http.get(one, headers=bearer(su["token"])).json()["item"] == item
    assert [i["id"] for i in tagged(http, su, t)] == [item["id"]]


# ==================================================================== audit

def test_every_change_is_in_the_platform_log(http, stack, su):
    t = tag()
    secret = "sig%s" % uuid.uuid4().hex
    url = "https://docs.example.com/dpa.pdf?X-Amz-Signature=%s#page=2" % secret
    c = create(http, su, t, document_url=url)
    item = c.json()["item"]
    assert item["document_url"] == url, item
    target = "compliance:%d" % item["id"]
    u = http.patch("%s/%d" % (SHEET, item["id"]), json={"region": "US (Virginia)"},
                   headers=bearer(su["token"]))
    assert u.status_code == 200, describe(u)
    d = http.delete("%s/%d" % (SHEET, item["id"]), headers=bearer(su["token"]))
    assert d.status_code == 204, describe(d)
    for resp, action in ((c, "compliance.created"), (u, "compliance.updated"),
                         (d, "compliance.deleted")):
        got = audit_of(http, su, resp)
        assert len(got) == 1, (action, got)
        e = got[0]
        assert (e["action"], e["target"]) == (action, target), e
        assert str(e["actor_id"]) == str(su["id"]) and e["actor_type"] == "operator", e
        text = json.dumps(e)
        assert secret not in text, "a signed link's query is in the audit log: %s" % text
        assert_no_leak(text, stack)
    created = audit_of(http, su, c)[0]
    assert created["before"] is None and created["after"]["name"] == item["name"], created
    assert created["after"]["id"] == item["id"], created
    assert created["after"]["document_url"].startswith("https://docs.example.com/dpa.pdf?"), created
    updated = audit_of(http, su, u)[0]
    assert updated["before"]["region"] == "EU (Frankfurt)", updated
    assert updated["after"]["region"] == "US (Virginia)", updated
    deleted = audit_of(http, su, d)[0]
    assert deleted["after"] is None and deleted["before"]["id"] == item["id"], deleted


@pytest.mark.parametrize("action", ["compliance.created", "compliance.updated",
                                    "compliance.deleted"])
def test_nothing_changes_when_the_audit_entry_cannot_be_written(http, stack, su, refuse_audit,
                                                                 action):
    t = tag()
    item = create(http, su, t).json()["item"]
    one = "%s/%d" % (SHEET, item["id"])
    refuse_audit(action)
    if action == "compliance.created":
        r = http.post(SHEET, json=body(t, name="Second %s" % t), headers=bearer(su["token"]))
    elif action == "compliance.updated":
        r = http.patch(one, json={"name": "Renamed %s" % t}, headers=bearer(su["token"]))
    else:
        r = http.delete(one, headers=bearer(su["token"]))
    assert r.status_code in (500, 503), describe(r)
    assert media_type(r) == "application/problem+json", describe(r)
    assert "audit store refuses" not in r.text
    assert_no_leak(r.text, stack)
    assert [i["id"] for i in tagged(http, su, t)] == [item["id"]]
    assert http.get(one, headers=bearer(su["token"])).json()["item"] == item
