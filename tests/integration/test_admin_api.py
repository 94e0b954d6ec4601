"""The platform console /admin/api/* (superusers only): org and user search,
plan changes, platform settings, impersonation, the platform audit log
(docs/api.md)."""

import json
import uuid
from datetime import timedelta

import pytest

from apxtest import assert_problem, describe, media_type
from authhelp import bearer, jwt_parts, login, new_user, register, strong_password, verify_by_sql
from orghelp import (ADMIN, ENTRY_KEYS, admin_cli, by_request, cookies_off, cookies_restore,
                     create_api_key, create_org, default_workspace, end_impersonation, fill,
                     impersonate, impersonate_raw, mentions, new_member, now_utc, org_audit,
                     org_url, page_all, platform_audit, rfc3339, route_id, route_table,
                     superuser)

SETTINGS = ADMIN + "/settings"
AUDIT = ADMIN + "/audit-log"


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


@pytest.fixture
def su(http, stack):
    return superuser(http, stack)


def console_rows(stack):
    rows = [r for r in route_table(stack) if r["pattern"].startswith(ADMIN + "/")]
    assert rows, "no /admin/api route in the route table"
    return rows


# ==================================================================== who sees the console

def test_console_does_not_exist_for_others(http, stack):
    user = new_member(http)
    org = create_org(http, user["token"], plan="growth")
    _, key = create_api_key(http, user["token"], org["slug"], role="admin")
    bad = []
    for row in console_rows(stack):
        method = str(row["method"]).upper()
        path = fill(row["pattern"], org=org["slug"])
        kw = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        for who, h, want in (("a signed-in user", bearer(user["token"]), (404, "not-found")),
                             ("an API key", bearer(key), (404, "not-found")),
                             ("nobody", {}, (401, "unauthenticated"))):
            r = http.request(method, path, headers=h, **kw)
            if method == "HEAD":
                ok = r.status_code == want[0]
            else:
                try:
                    assert_problem(r, want[0], slug=want[1], stack=stack)
                    ok = True
                except AssertionError:
                    ok = False
            if not ok:
                bad.append("%s as %s: want %d %s, got %d %s" % (route_id(row), who, want[0],
                                                                 want[1], r.status_code,
                                                                 r.text[:200]))
    assert not bad, "\n".join(bad)


def test_console_not_found_looks_like_any_unknown_path(http, stack):
    user = new_member(http)
    a = http.get(ADMIN + "/orgs", headers=bearer(user["token"]))
    b = http.get("/no/such/path/%s" % uuid.uuid4().hex, headers=bearer(user["token"]))
    assert_problem(a, 404, slug="not-found", stack=stack)
    ja, jb = a.json(), b.json()
    for j in (ja, jb):
        j.pop("request_id", None)
    assert ja == jb, (ja, jb)


# ==================================================================== search

def _pages(http, su, path, params, limit):
    return page_all(http, path, bearer(su["token"]), params, limit=limit)


def test_search_orgs_by_slug_and_name_with_cursor(http, su):
    owner = new_member(http)
    tag = uuid.uuid4().hex[:10]
    slugs = set()
    for i in range(3):
        slugs.add(create_org(http, owner["token"], slug="s%s%d" % (tag, i))["slug"])
    by_name = create_org(http, owner["token"], name="Named %s Ltd" % tag.upper())
    create_org(http, owner["token"])   # not matching
    r = http.get(ADMIN + "/orgs", params={"q": tag, "limit": 2}, headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert len(body["orgs"]) == 2 and body.get("next_cursor"), describe(r)
    seen, pages = [], 0
    params = {"q": tag, "limit": 2}
    while True:
        r = http.get(ADMIN + "/orgs", params=params, headers=bearer(su["token"]))
        assert r.status_code == 200, describe(r)
        body = r.json()
        assert len(body["orgs"]) <= 2, describe(r)
        seen.extend(o["slug"] for o in body["orgs"])
        pages += 1
        if not body.get("next_cursor"):
            break
        assert pages < 10
        params["cursor"] = body["next_cursor"]
    want = slugs | {by_name["slug"]}
    # the name match depends on case-insensitive "contains"; the slug matches must be there
    assert slugs <= set(seen), (seen, slugs)
    assert len(seen) == len(set(seen)), "an org was listed twice across pages: %r" % seen
    assert set(seen) <= want, "orgs not matching q were listed: %r" % (set(seen) - want)
    r = http.get(ADMIN + "/orgs", params={"q": by_name["name"]}, headers=bearer(su["token"]))
    assert [o["slug"] for o in r.json()["orgs"]] == [by_name["slug"]], describe(r)


def test_get_org_for_operator(http, su):
    owner = new_member(http)
    org = create_org(http, owner["token"], plan="growth")
    r = http.get("%s/orgs/%s" % (ADMIN, org["slug"]), headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    got = r.json()["org"]
    assert (got["slug"], got["plan"], got["id"]) == (org["slug"], "growth", org["id"]), got


def test_search_users_with_cursor(http, su):
    tag = uuid.uuid4().hex[:10]
    ids = set()
    for i in range(3):
        email = "adm-%s-%d@example.test" % (tag, i)
        register(http, email, strong_password(), "Search %d" % i)
        ids.add(verify_by_sql(email))
    new_user(http)   # not matching
    seen, pages = [], 0
    params = {"q": tag, "limit": 2}
    while True:
        r = http.get(ADMIN + "/users", params=params, headers=bearer(su["token"]))
        assert r.status_code == 200, describe(r)
        body = r.json()
        assert len(body["users"]) <= 2, describe(r)
        for u in body["users"]:
            assert {"id", "email", "name", "is_superuser", "created_at"} <= set(u), u
            assert not any("password" in k or "hash" in k for k in u), u
            assert u["is_superuser"] is False, u
        seen.extend(u["id"] for u in body["users"])
        pages += 1
        if not body.get("next_cursor"):
            break
        assert pages < 10
        params["cursor"] = body["next_cursor"]
    assert sorted(seen) == sorted(ids), (seen, ids)
    assert pages == 2, pages


def test_search_users_finds_the_operator(http, stack, su):
    r = http.get(ADMIN + "/users", params={"q": stack["ADMIN_EMAIL"]}, headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    got = [u for u in r.json()["users"] if u["id"] == su["id"]]
    assert got and got[0]["is_superuser"] is True, describe(r)


# ==================================================================== plan change

def test_plan_change_audited_in_both_logs(http, stack, su):
    owner = new_member(http)
    org = create_org(http, owner["token"], plan="free")
    r = http.post(org_url(org["slug"], "workspaces"), json={"name": "x"}, headers=bearer(owner["token"]))
    assert_problem(r, 402, slug="plan-required")
    r = http.patch("%s/orgs/%s" % (ADMIN, org["slug"]), json={"plan": "growth"},
                   headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    got = http.get(org_url(org["slug"]), headers=bearer(owner["token"])).json()["org"]
    assert got["plan"] == "growth", got
    # the plan applies at once
    w = http.post(org_url(org["slug"], "workspaces"), json={"name": "x"}, headers=bearer(owner["token"]))
    assert w.status_code == 201, describe(w)
    # the org's log
    e = by_request(org_audit(http, bearer(owner["token"]), org["slug"], action="org.plan_change"), r)
    assert len(e) == 1, e
    assert mentions(e[0]["before"], "free") and mentions(e[0]["after"], "growth"), e
    assert str(e[0]["actor_id"]) == str(su["id"]), e
    # the platform log
    p = by_request(platform_audit(http, su["token"], since=rfc3339(now_utc() - timedelta(minutes=5))), r)
    assert len(p) == 1, p
    assert str(p[0]["actor_id"]) == str(su["id"]), p
    assert org["slug"] in json.dumps(p[0]) or str(org["id"]) in p[0]["target"], p


@pytest.mark.parametrize("plan", ["platinum", "", None, 3])
def test_plan_change_validation(http, stack, su, plan):
    owner = new_member(http)
    org = create_org(http, owner["token"])
    r = http.patch("%s/orgs/%s" % (ADMIN, org["slug"]), json={"plan": plan},
                   headers=bearer(su["token"]))
    assert_problem(r, 422, slug="invalid-field", field="plan", stack=stack)
    assert http.get(org_url(org["slug"]), headers=bearer(owner["token"])).json()["org"]["plan"] == "free"


# ==================================================================== settings

def admin_settings(http, su):
    r = http.get(SETTINGS, headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    return r.json()["settings"]


@pytest.fixture
def original(http, stack, su):
    """The platform settings before the test; put back afterwards."""
    before = admin_settings(http, su)
    yield before
    back = {k: before[k] for k in ("access_token_lifetime", "password_t", "password_m_kib")}
    r = http.patch(SETTINGS, json=back, headers=bearer(superuser(http, stack)["token"]))
    assert r.status_code == 200, "could not restore the settings%s" % describe(r)


def test_settings_read(http, su):
    s = admin_settings(http, su)
    for k in ("access_token_lifetime", "password_t", "password_m_kib"):
        assert isinstance(s.get(k), int) and not isinstance(s[k], bool), s


def test_access_token_lifetime_applies_to_the_next_token(http, stack, su, original):
    new = 601 if original["access_token_lifetime"] != 601 else 602
    r = http.patch(SETTINGS, json={"access_token_lifetime": new}, headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    assert r.json()["settings"]["access_token_lifetime"] == new, describe(r)
    user = new_user(http)
    body = login(http, user)
    c = jwt_parts(body["access_token"])[1]
    assert c["exp"] - c["iat"] == new and body["expires_in"] == new, c
    got = by_request(platform_audit(http, su["token"], action="settings.update",
                                    since=rfc3339(now_utc() - timedelta(minutes=5))), r)
    assert len(got) == 1, got
    assert got[0]["before"]["access_token_lifetime"] == original["access_token_lifetime"], got
    assert got[0]["after"]["access_token_lifetime"] == new, got
    assert str(got[0]["actor_id"]) == str(su["id"]), got


def test_password_cost_change_audited(http, su, original):
    new = original["password_t"] + 1 if original["password_t"] < 10 else 9
    r = http.patch(SETTINGS, json={"password_t": new}, headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    assert admin_settings(http, su)["password_t"] == new
    got = by_request(platform_audit(http, su["token"], action="settings.update",
                                    since=rfc3339(now_utc() - timedelta(minutes=5))), r)
    assert len(got) == 1 and got[0]["after"]["password_t"] == new, got


@pytest.mark.parametrize("field,value", [
    ("password_t", 1), ("password_t", 11), ("password_t", "3"),
    ("password_m_kib", 19455), ("password_m_kib", 1048577), ("password_m_kib", 2.5),
    ("access_token_lifetime", 59), ("access_token_lifetime", 86401), ("access_token_lifetime", True),
])
def test_settings_bounds_422(http, stack, internal, su, original, field, value):
    """Refused, with the same answer /internal/settings gives (the same checks)."""
    r = http.patch(SETTINGS, json={field: value}, headers=bearer(su["token"]))
    body = assert_problem(r, 422, field=field, stack=stack)
    assert admin_settings(http, su) == original
    ri = http.patch("/internal/settings", json={field: value}, headers=internal)
    bi = assert_problem(ri, 422, field=field)
    assert (body["type"], body["field"]) == (bi["type"], bi["field"]), (body, bi)
    assert admin_settings(http, su) == original


@pytest.mark.parametrize("field,value", [("password_t", 2), ("password_t", 10),
                                         ("password_m_kib", 19456), ("password_m_kib", 1048576)])
def test_settings_bounds_ok(http, su, original, field, value):
    r = http.patch(SETTINGS, json={field: value}, headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    assert r.json()["settings"][field] == value, describe(r)


# ==================================================================== impersonation

@pytest.fixture
def target(http):
    """A user owning a growth org: dict(user..., org)."""
    u = new_member(http, "Impersonated Person")
    u["org"] = create_org(http, u["token"], plan="growth")
    return u


def test_impersonation_token(http, stack, su, target):
    r = impersonate_raw(http, su["token"], target["id"], "support ticket 42")
    assert r.status_code == 201, describe(r)
    body = r.json()
    assert {"impersonation_id", "access_token", "expires_in"} <= set(body), body
    assert isinstance(body["expires_in"], int) and 0 < body["expires_in"] <= 600, body
    assert "no-store" in r.headers.get("Cache-Control", "").lower(), describe(r)
    c = jwt_parts(body["access_token"])[1]
    assert c["sub"] == str(target["id"]), c
    assert isinstance(c.get("act"), dict) and str(c["act"].get("sub")) == str(su["id"]), c
    assert 0 < c["exp"] - c["iat"] <= 600, c
    tok = body["access_token"]
    # reads as the user
    r = http.get("/api/v1/me", headers=bearer(tok))
    assert r.status_code == 200, describe(r)
    assert r.json()["user"]["id"] == target["id"], describe(r)
    r = http.get("/api/v1/orgs", headers=bearer(tok))
    assert target["org"]["slug"] in [o["slug"] for o in r.json()["orgs"]], describe(r)
    r = http.get(org_url(target["org"]["slug"], "members"), headers=bearer(tok))
    assert r.status_code == 200, describe(r)
    r = http.head(org_url(target["org"]["slug"]), headers=bearer(tok))
    assert r.status_code == 200, r.status_code
    # the console stays closed to it
    assert_problem(http.get(ADMIN + "/orgs", headers=bearer(tok)), 404, slug="not-found")
    end_impersonation(http, su["token"], body["impersonation_id"])


def test_impersonation_is_read_only_everywhere(http, stack, su, target):
    body = impersonate(http, su["token"], target["id"], "read-only check")
    tok = body["access_token"]
    slug = target["org"]["slug"]
    ws = default_workspace(http, target["token"], slug)["id"]
    bad, checked = [], 0
    for row in route_table(stack):
        method = str(row["method"]).upper()
        if method in ("GET", "HEAD", "OPTIONS") or row.get("scope") in ("public", "internal"):
            continue
        path = fill(row["pattern"], org=slug, ws=ws, user=target["id"])
        r = http.request(method, path, json={}, headers=bearer(tok))
        checked += 1
        try:
            assert_problem(r, 403, slug="impersonation-read-only", stack=stack)
        except AssertionError:
            bad.append("%s -> %d %s" % (route_id(row), r.status_code, r.text[:200]))
    assert checked, "no write route in the route table"
    assert not bad, "\n".join(bad)
    # nothing changed: the user is still the owner, the org still there
    r = http.get(org_url(slug), headers=bearer(target["token"]))
    assert r.status_code == 200 and r.json()["org"]["role"] == "owner", describe(r)
    end_impersonation(http, su["token"], body["impersonation_id"])


def test_superusers_cannot_be_impersonated(http, stack, su):
    r = impersonate_raw(http, su["token"], su["id"], "no")
    assert_problem(r, 422, stack=stack)


@pytest.mark.parametrize("body", [{}, {"reason": "x"}, {"user_id": "abc", "reason": "x"}])
def test_impersonation_bad_request_422(http, stack, su, body):
    r = http.post(ADMIN + "/impersonate", json=body, headers=bearer(su["token"]))
    assert_problem(r, 422, stack=stack)


def test_impersonation_without_reason_422(http, stack, su, target):
    r = http.post(ADMIN + "/impersonate", json={"user_id": target["id"]}, headers=bearer(su["token"]))
    assert_problem(r, 422, stack=stack)


def test_impersonation_end_and_audit(http, stack, su, target):
    since = rfc3339(now_utc() - timedelta(seconds=5))
    slug = target["org"]["slug"]
    second = create_org(http, target["token"])     # the user's other org
    r_start = impersonate_raw(http, su["token"], target["id"], "audit check")
    assert r_start.status_code == 201, describe(r_start)
    body = r_start.json()
    tok = body["access_token"]
    r_use_org = http.get(org_url(slug), headers=bearer(tok))
    assert r_use_org.status_code == 200, describe(r_use_org)
    r_use_me = http.get("/api/v1/me", headers=bearer(tok))
    assert r_use_me.status_code == 200, describe(r_use_me)
    r_end = end_impersonation(http, su["token"], body["impersonation_id"])
    assert r_end.status_code == 204, describe(r_end)
    # the token stops at once
    assert_problem(http.get("/api/v1/me", headers=bearer(tok)), 401, slug="unauthenticated",
                   stack=stack)
    assert_problem(http.get(org_url(slug), headers=bearer(tok)), 401, slug="unauthenticated")
    # the platform log: start, each use, end
    plat = platform_audit(http, su["token"], since=since, action="impersonation.")
    for resp, action in ((r_start, "impersonation.start"), (r_use_org, "impersonation.use"),
                         (r_use_me, "impersonation.use"), (r_end, "impersonation.end")):
        got = by_request(plat, resp)
        assert [e["action"] for e in got] == [action], (action, got)
        assert str(got[0]["actor_id"]) == str(su["id"]), got
    start = by_request(plat, r_start)[0]
    assert str(target["id"]) in json.dumps(start), start
    # the org's log: start, the use that touched the org, end
    org = org_audit(http, bearer(target["token"]), slug, action="impersonation.")
    for resp, action in ((r_start, "impersonation.start"), (r_use_org, "impersonation.use"),
                         (r_end, "impersonation.end")):
        got = by_request(org, resp)
        assert [e["action"] for e in got] == [action], (action, org)
    assert by_request(org, r_use_me) == [], "a use that touched no org is in the org's log"
    # every org of the user has the start and the end, and only the uses that touched it
    other = org_audit(http, bearer(target["token"]), second["slug"], action="impersonation.")
    for resp, action in ((r_start, "impersonation.start"), (r_end, "impersonation.end")):
        assert [e["action"] for e in by_request(other, resp)] == [action], (action, other)
    assert by_request(other, r_use_org) == [] and by_request(other, r_use_me) == [], other


def test_impersonation_end_unknown_404(http, stack, su):
    r = http.delete("%s/impersonate/%d" % (ADMIN, 987654321012), headers=bearer(su["token"]))
    assert_problem(r, 404, stack=stack)


# ==================================================================== platform audit log

def test_platform_log_filters_pagination_and_export(http, stack, su):
    since = rfc3339(now_utc() - timedelta(seconds=2))
    people = [new_member(http) for _ in range(3)]
    mine = set()
    for p in people:
        r = impersonate_raw(http, su["token"], p["id"], "log listing")
        assert r.status_code == 201, describe(r)
        mine.add(r.headers["X-Request-Id"])
        assert end_impersonation(http, su["token"], r.json()["impersonation_id"]).status_code == 204
    h = bearer(su["token"])
    params = {"since": since, "action": "impersonation."}
    full = page_all(http, AUDIT, h, params, limit=500)[0]
    assert len(full) >= 6, full
    for e in full:
        assert ENTRY_KEYS <= set(e), e
        assert e["action"].startswith("impersonation."), e
    seqs = [e["seq"] for e in full]
    assert seqs == sorted(seqs, reverse=True), "not newest first: %r" % seqs
    paged, pages = page_all(http, AUDIT, h, params, limit=1)
    assert [e["seq"] for e in paged] == seqs, (pages, seqs)
    # (a last full page may still carry a cursor to an empty one)
    assert pages in (len(seqs), len(seqs) + 1), (pages, seqs)
    # exact action and actor
    starts = page_all(http, AUDIT, h, {"since": since, "action": "impersonation.start",
                                       "actor": su["id"]}, limit=500)[0]
    assert all(e["action"] == "impersonation.start" and str(e["actor_id"]) == str(su["id"])
               for e in starts), starts
    # (since is whole seconds: earlier tests' entries of the same seconds may be there too)
    assert mine <= {e["request_id"] for e in starts}, (mine, starts)
    assert page_all(http, AUDIT, h, {"since": since, "action": "impersonation.start",
                                     "actor": people[0]["id"]}, limit=500)[0] == []
    # until before anything of this test
    assert page_all(http, AUDIT, h, dict(params, until="2000-01-01T00:00:00Z"), limit=500)[0] == []
    # JSON Lines export, same filters
    for kw in ({"params": dict(params, format="jsonl")},
               {"params": params, "headers": {"Accept": "application/x-ndjson"}}):
        hh = dict(h)
        hh.update(kw.get("headers", {}))
        r = http.get(AUDIT, params=kw["params"], headers=hh)
        assert r.status_code == 200, describe(r)
        assert media_type(r) == "application/x-ndjson", describe(r)
        assert "attachment" in r.headers.get("Content-Disposition", "").lower(), describe(r)
        lines = [json.loads(l) for l in r.text.splitlines() if l.strip()]
        assert [e["seq"] for e in lines] == seqs, (lines, seqs)


@pytest.mark.parametrize("params,field", [({"limit": 0}, "limit"), ({"limit": 501}, "limit"),
                                          ({"limit": "x"}, "limit"), ({"since": "yesterday"}, "since"),
                                          ({"until": "2020-02-30T00:00:00Z"}, "until")])
def test_platform_log_bad_params_422(http, stack, su, params, field):
    r = http.get(AUDIT, params=params, headers=bearer(su["token"]))
    assert_problem(r, 422, field=field, stack=stack)


def test_audit_chains_verify_after_everything(stack):
    r = admin_cli(stack, "audit", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "intact" in r.stdout, r.stdout
