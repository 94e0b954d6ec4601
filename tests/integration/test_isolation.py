"""Tenant isolation (docs/api.md "Forecast data": "nothing here is ever read
before the membership check, and another org's or workspace's ids answer 404
like unknown ones").

Two orgs in two regions -- A in eu, B in us -- each with uploads (personal
columns included) and forecasts: A's data is never visible, countable or
guessable from B on any route (404 like an org that does not exist, never
403, and no tenant database is reached before the membership check: A's
region may even be down). A sealed tenant credential moved into another
org's row does not open.  The route-by-caller authorisation matrix of the
same routes is test_authz_matrix.py.
"""

import re
import time
import uuid

import pytest

from apxtest import assert_no_leak, assert_problem, describe, media_type, problem_shape
from authhelp import bearer
from datahelp import content, forecast, forecasts_url, to_csv, upload, uploads_url
from orghelp import (cookies_off, cookies_restore, create_api_key, create_org, default_workspace,
                     fill, new_member, norm_pattern, org_url, psql, route_id, route_table,
                     unique_slug)
from test_tenants import round_trip, stopped_region

TENANT_SEGMENTS = ("/uploads", "/forecasts", "/retention", "/privacy/")
# docs/api.md: the tenant routes of an org (HEAD rows come with the GET ones)
DOC_TENANT_ROUTES = {
    ("GET", "/workspaces/{ws}/uploads"), ("POST", "/workspaces/{ws}/uploads"),
    ("GET", "/workspaces/{ws}/uploads/{id}"), ("DELETE", "/workspaces/{ws}/uploads/{id}"),
    ("GET", "/workspaces/{ws}/uploads/{id}/content"),
    ("GET", "/workspaces/{ws}/forecasts"), ("POST", "/workspaces/{ws}/forecasts"),
    ("GET", "/workspaces/{ws}/forecasts/{id}"), ("DELETE", "/workspaces/{ws}/forecasts/{id}"),
    ("GET", "/retention"), ("PUT", "/retention"),
    ("POST", "/privacy/export"), ("POST", "/privacy/erasure"),
}


def csv_of(marker, subjects):
    """CSV text (CRLF, as the server writes it back); every row names the marker."""
    rows = [["day", "email", "sales", "note"]]
    for i, s in enumerate(subjects, 1):
        rows.append(["2024-02-%02d" % i, s, str(100 + i), "%s-row%d" % (marker, i)])
    return to_csv(rows)


class Side:
    """One org with its owner, default workspace, uploads and forecasts."""

    def __init__(self, http, region, tag, n_uploads):
        self.owner = new_member(http, "Isolation %s" % tag)
        self.h = bearer(self.owner["token"])
        self.org = create_org(http, self.owner["token"], plan="growth", region=region)
        self.slug = self.org["slug"]
        self.ws = default_workspace(http, self.owner["token"], self.slug)["id"]
        self.marker = "%s%s" % (tag, uuid.uuid4().hex[:12])
        self.subject = "%s-subject@example.test" % self.marker
        self.uploads = {}        # id -> (name, csv text)
        for i in range(n_uploads):
            name = "%s-upload-%d" % (self.marker, i)
            text = csv_of(self.marker, [self.subject, "%s-other%d@example.test" % (self.marker, i),
                                        ""])
            up = upload(http, self.h, self.slug, self.ws, text, name=name, personal=["email"])
            self.uploads[up["id"]] = (name, text)
        first = min(self.uploads)
        self.forecasts = {}      # id -> name
        for i in range(2):
            fc = forecast(http, self.h, self.slug, self.ws, first, method="mean",
                          value_column="sales", name="%s-fc-%d" % (self.marker, i))
            self.forecasts[fc["forecast"]["id"]] = fc["forecast"]["name"]

    def snapshot(self, http):
        """What the org holds, read by its owner: (upload ids+names, forecast ids, contents)."""
        r = http.get(uploads_url(self.slug, self.ws), headers=self.h, params={"limit": 200})
        assert r.status_code == 200, describe(r)
        ups = sorted((u["id"], u["name"]) for u in r.json()["uploads"])
        r = http.get(forecasts_url(self.slug, self.ws), headers=self.h, params={"limit": 200})
        assert r.status_code == 200, describe(r)
        fcs = sorted(f["id"] for f in r.json()["forecasts"])
        contents = {}
        for uid in self.uploads:
            r = content(http, self.h, self.slug, self.ws, uid)
            assert r.status_code == 200, describe(r)
            contents[uid] = r.text
        return ups, fcs, contents


@pytest.fixture(scope="module")
def world(http, stack):
    if not stack.get("REGION_US_PGHOST") or not stack.get("REGION_EU_PGHOST"):
        pytest.skip("stack.env lacks the data regions eu and us")
    old = cookies_off(http.session)
    try:
        a = Side(http, "eu", "alpha", 3)
        b = Side(http, "us", "bravo", 2)
        _, b_key = create_api_key(http, b.owner["token"], b.slug, role="admin")
        b.key_h = bearer(b_key)
        yield {"a": a, "b": b}
    finally:
        cookies_restore(http.session, old)


def tenant_rows(stack):
    rows = [r for r in route_table(stack) if r.get("scope") == "org" and
            any(s in r["pattern"] for s in TENANT_SEGMENTS)]
    have = {(str(r["method"]).upper(), norm_pattern(r["pattern"])[len("/api/v1/orgs/{org}"):])
            for r in rows}
    missing = DOC_TENANT_ROUTES - have
    assert not missing, "tenant routes of docs/api.md missing from --routes: %s" % sorted(missing)
    return rows


def bodies_for(method, pattern, a):
    """Request bodies that would change A's data if they were let through."""
    if method == "POST" and pattern.endswith("/uploads"):
        return [{"data": csv_of("intruder", ["x@example.test"]).encode(),
                 "headers": {"Content-Type": "text/csv"}, "params": {"name": "intruder"}}]
    if method == "POST" and pattern.endswith("/forecasts"):
        return [{"json": {"name": "intruder", "upload_id": min(a.uploads),
                          "parameters": {"method": "mean", "value_column": "sales",
                                         "horizon": 2}}}]
    if method == "PUT" and pattern.endswith("/retention"):
        return [{"json": {"upload_days": 1}}]
    if pattern.endswith("/privacy/erasure"):
        return [{"json": {"subject": {"column": "email", "value": a.subject}}},
                {"json": {"scope": "org", "confirm": a.slug}}]
    if method in ("POST", "PUT", "PATCH"):
        return [{"json": {}}]
    return [{}]


def send(http, method, path, headers, kw):
    kw = dict(kw)
    h = dict(headers)
    h.update(kw.pop("headers", {}))
    return http.request(method, path, headers=h, **kw)


def same_as_no_org(rx, rg, method):
    if method == "HEAD":
        return rx.status_code == rg.status_code == 404
    return (rx.status_code == rg.status_code == 404 and
            media_type(rx) == media_type(rg) == "application/problem+json" and
            problem_shape(rx) == problem_shape(rg))


# ==================================================================== every tenant route

def test_other_orgs_tenant_routes_answer_like_no_org(http, stack, world):
    """Every tenant route of A (its workspace, its real upload and forecast
    ids; also B's workspace id in A's path), asked by B's owner and by B's
    API key, answers exactly what a slug that does not exist answers; and A's
    data is unchanged afterwards."""
    a, b = world["a"], world["b"]
    before = a.snapshot(http)
    ghost = unique_slug("ghost")
    callers = [("B's owner", b.h), ("B's API key", b.key_h)]
    mismatches, checked = [], 0
    for row in tenant_rows(stack):
        method = str(row["method"]).upper()
        pat = row["pattern"]
        ids = sorted(a.forecasts) if "/forecasts/" in pat else sorted(a.uploads)
        norm = norm_pattern(pat)
        for ws in ((a.ws, b.ws) if "{ws}" in norm else (a.ws,)):
            for oid in (ids[:2] if "{id}" in norm else ids[:1]):
                for kw in bodies_for(method, pat, a):
                    for who, h in callers:
                        rx = send(http, method, fill(pat, org=a.slug, ws=ws, id=oid), h, kw)
                        rg = send(http, method, fill(pat, org=ghost, ws=ws, id=oid), h, kw)
                        checked += 1
                        if rx.status_code == 403 or not same_as_no_org(rx, rg, method):
                            mismatches.append("%s (ws %s, id %s) as %s: org A -> %d %r; no such "
                                              "org -> %d %r" % (route_id(row), ws, oid, who,
                                                                rx.status_code, rx.text[:300],
                                                                rg.status_code, rg.text[:200]))
                        if a.marker in rx.text:
                            mismatches.append("%s as %s: A's data in the answer: %r"
                                              % (route_id(row), who, rx.text[:300]))
    assert checked >= 2 * 2 * len(DOC_TENANT_ROUTES), checked
    assert not mismatches, "\n".join(mismatches)
    assert a.snapshot(http) == before, "A's data changed"
    r = http.get(org_url(a.slug, "retention"), headers=a.h)
    assert r.status_code == 200 and r.json()["retention"].get("upload_days") is None, describe(r)


def test_a_members_api_key_and_membership_do_not_reach_across(http, stack, world):
    """A's owner (member of A only) on B's tenant routes: 404 not-found too."""
    a, b = world["a"], world["b"]
    for path in (uploads_url(b.slug, b.ws), uploads_url(b.slug, b.ws, min(b.uploads), "content"),
                 forecasts_url(b.slug, b.ws, min(b.forecasts)), org_url(b.slug, "retention")):
        r = http.get(path, headers=a.h)
        assert_problem(r, 404, slug="not-found", stack=stack)
        assert b.marker not in r.text


# ==================================================================== ids

def test_same_ids_in_two_orgs_are_each_orgs_own_data(http, stack, world):
    """Ids are per tenant database: A and B both have upload 1. Under B's path
    every id is B's upload or upload-not-found, never A's; the same for
    forecasts; listing and searching by A's data subject count nothing of A."""
    a, b = world["a"], world["b"]
    common = set(a.uploads) & set(b.uploads)
    assert common, "A's and B's upload ids do not overlap (%s / %s): nothing to test" % (
        sorted(a.uploads), sorted(b.uploads))
    for uid in sorted(set(a.uploads) | set(b.uploads) | {max(a.uploads) + 1}):
        for who, h in (("B's owner", b.h), ("B's API key", b.key_h)):
            r = content(http, h, b.slug, b.ws, uid)
            assert a.marker not in r.text, "A's data under B's path as %s: %s" % (who, describe(r))
            rm = http.get(uploads_url(b.slug, b.ws, uid), headers=h)
            if uid in b.uploads:
                assert r.status_code == 200 and r.text == b.uploads[uid][1], describe(r)
                assert rm.status_code == 200 and rm.json()["upload"]["name"] == b.uploads[uid][0], \
                    describe(rm)
            else:
                assert_problem(r, 404, slug="upload-not-found", stack=stack)
                assert_problem(rm, 404, slug="upload-not-found", stack=stack)
        # and the reverse: A's own id 1 is A's data
        if uid in a.uploads:
            r = content(http, a.h, a.slug, a.ws, uid)
            assert r.status_code == 200 and r.text == a.uploads[uid][1], describe(r)
            if uid in b.uploads:
                assert r.text != b.uploads[uid][1]
    for fid in sorted(set(a.forecasts) | set(b.forecasts)):
        r = http.get(forecasts_url(b.slug, b.ws, fid), headers=b.h)
        assert a.marker not in r.text, describe(r)
        if fid in b.forecasts:
            assert r.status_code == 200 and r.json()["forecast"]["name"] == b.forecasts[fid], \
                describe(r)
        else:
            assert_problem(r, 404, slug="forecast-not-found", stack=stack)
    # A's workspace id in B's path is no workspace of B
    for path in (uploads_url(b.slug, a.ws), uploads_url(b.slug, a.ws, min(a.uploads), "content"),
                 forecasts_url(b.slug, a.ws)):
        r = http.get(path, headers=b.h)
        rg = http.get(path.replace("/workspaces/%d/" % a.ws, "/workspaces/987654321012/"),
                      headers=b.h)
        assert_problem(r, 404, slug="not-found", stack=stack)
        assert problem_shape(r) == problem_shape(rg), describe(r) + describe(rg)
    # not countable: B's lists hold B's objects only; searching B for A's subject finds none
    r = http.get(uploads_url(b.slug, b.ws), headers=b.h, params={"limit": 200})
    assert sorted(u["id"] for u in r.json()["uploads"]) == sorted(b.uploads), describe(r)
    r = http.get(uploads_url(b.slug, b.ws), headers=b.h, params={"email": a.subject})
    assert r.status_code == 200 and r.json()["uploads"] == [], describe(r)
    r = http.get(uploads_url(b.slug, b.ws), headers=b.h, params={"email": b.subject})
    assert r.status_code == 200 and len(r.json()["uploads"]) == len(b.uploads), describe(r)
    r = http.get(forecasts_url(b.slug, b.ws), headers=b.h, params={"limit": 200})
    assert sorted(f["id"] for f in r.json()["forecasts"]) == sorted(b.forecasts), describe(r)
    # B's privacy export carries B's personal data and nothing of A
    r = http.post(org_url(b.slug, "privacy", "export"), headers=b.h)
    assert r.status_code == 200, describe(r)
    assert b.subject in r.text and a.marker not in r.text, describe(r)
    # a forecast in B cannot be made from A's upload id that B lacks
    missing = max(a.uploads)
    assert missing not in b.uploads
    r = http.post(forecasts_url(b.slug, b.ws), headers=b.h,
                  json={"name": "x", "upload_id": missing,
                        "parameters": {"method": "naive", "value_column": "sales", "horizon": 1}})
    assert_problem(r, 422, field="upload_id", stack=stack)


# ==================================================================== no tenant query first

TENANT_GETS = ("workspaces/{ws}/uploads", "workspaces/{ws}/uploads/{id}",
               "workspaces/{ws}/uploads/{id}/content", "workspaces/{ws}/forecasts",
               "workspaces/{ws}/forecasts/{fid}")


def tenant_paths(side):
    out = []
    for p in TENANT_GETS:
        out.append(org_url(side.slug, p.format(ws=side.ws, id=min(side.uploads),
                                               fid=min(side.forecasts))))
    return out


def wait_right_answers(http, side, streak=12, timeout=40):
    """After the restart: `streak` consecutive right answers (every worker)."""
    uid = min(side.uploads)
    want = side.uploads[uid][1]
    deadline = time.monotonic() + timeout
    good, history = 0, []
    while time.monotonic() < deadline:
        r = content(http, side.h, side.slug, side.ws, uid)
        history.append(r.status_code)
        good = good + 1 if (r.status_code == 200 and r.text == want) else 0
        if good >= streak:
            return
        time.sleep(0.1)
    raise AssertionError("A's tenant routes did not recover within %ss after its region came "
                         "back; statuses: %r" % (timeout, history[-40:]))


@pytest.mark.pgstop
def test_membership_is_checked_before_any_tenant_database(http, stack, world):
    """A's region (eu) down: B's member and key still get 404 at once for A's
    tenant routes (nothing of A's database was asked), A's own owner gets 503
    database-unavailable, B (us) keeps working; after the restart A works again."""
    a, b = world["a"], world["b"]
    ghost = unique_slug("ghost")
    # warm: A's workers hold connections to A's database
    for _ in range(4):
        assert content(http, a.h, a.slug, a.ws, min(a.uploads)).status_code == 200
    with stopped_region(stack, "eu"):
        slow = []
        for path in tenant_paths(a) + [org_url(a.slug, "retention")]:
            for who, h in (("B's owner", b.h), ("B's API key", b.key_h)):
                t0 = time.monotonic()
                r = http.get(path, headers=h)
                took = time.monotonic() - t0
                rg = http.get(path.replace(a.slug, ghost, 1), headers=h)
                assert same_as_no_org(r, rg, "GET"), "%s as %s while A's region is down:%s%s" % (
                    path, who, describe(r), describe(rg))
                if took > 1.0:
                    slow.append("%s as %s: %.2fs" % (path, who, took))
            r = http.post(org_url(a.slug, "privacy", "export"), headers=b.h)
            assert_problem(r, 404, slug="not-found", stack=stack)
        assert not slow, "404s for a non-member were slow (a tenant database was tried?): %s" % slow
        # A's own owner: the database is unavailable, the control plane is not
        for path in tenant_paths(a):
            r = http.get(path, headers=a.h)
            assert_problem(r, 503, slug="database-unavailable", stack=stack)
        r = http.get(org_url(a.slug), headers=a.h)
        assert r.status_code == 200, describe(r)
        # B, in the other region, is untouched
        uid = min(b.uploads)
        r = content(http, b.h, b.slug, b.ws, uid)
        assert r.status_code == 200 and r.text == b.uploads[uid][1], describe(r)
    wait_right_answers(http, a)


# ==================================================================== sealed credentials

def test_a_sealed_credential_moved_into_another_orgs_row_does_not_open(http, stack, world):
    """A's sealed tenant password copied (SQL) into the row of a fresh org C
    (whose tenant connection no worker has opened yet): C's tenant routes
    answer a clean 5xx problem, never A's data; with C's own value back, C
    works."""
    a = world["a"]
    c_owner = new_member(http, "Isolation C")
    c = create_org(http, c_owner["token"], plan="growth")         # eu, like A
    ch = bearer(c_owner["token"])
    c_ws = default_workspace(http, c_owner["token"], c["slug"])["id"]
    saved = psql(stack, "SELECT encode(tenant_secret, 'hex') FROM orgs WHERE id = %d"
                 % c["id"]).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64,}", saved), "C has no sealed tenant secret"
    psql(stack, "UPDATE orgs SET tenant_secret = (SELECT tenant_secret FROM orgs WHERE id = %d) "
         "WHERE id = %d" % (a.org["id"], c["id"]))
    try:
        paths = [uploads_url(c["slug"], c_ws), uploads_url(c["slug"], c_ws, min(a.uploads)),
                 uploads_url(c["slug"], c_ws, min(a.uploads), "content"),
                 forecasts_url(c["slug"], c_ws)]
        for _ in range(3):                 # several workers
            for path in paths:
                r = http.get(path, headers=ch)
                assert r.status_code in (500, 503), describe(r)
                assert media_type(r) == "application/problem+json", describe(r)
                assert_problem(r, r.status_code, stack=stack)
                assert a.marker not in r.text and "alpha" not in r.text, describe(r)
        r = http.post(uploads_url(c["slug"], c_ws), params={"name": "x"},
                      data=b"a,b\n1,2\n", headers=dict(ch, **{"Content-Type": "text/csv"}))
        assert r.status_code in (500, 503), describe(r)
        assert_no_leak(r.text, stack)
    finally:
        psql(stack, "UPDATE orgs SET tenant_secret = decode('%s', 'hex') WHERE id = %d"
             % (saved, c["id"]))
    round_trip(http, c_owner["token"], c["slug"])
    # and A is A
    uid = min(a.uploads)
    r = content(http, a.h, a.slug, a.ws, uid)
    assert r.status_code == 200 and r.text == a.uploads[uid][1], describe(r)
