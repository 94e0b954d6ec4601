"""Retention (docs/api.md "Retention"): the org policy (GET/PUT
…/retention: plan, roles, validation, audit) and the purge
(`POST /internal/retention/run`, `accupredix-admin retention purge`):
exactly the expired uploads (org window, workspace override) and their
forecasts go, nothing else; counts, audit entries, repeats and overlapping
runs."""

import json
import re
import threading

import pytest

from apxtest import assert_problem, describe, new_session
from authhelp import bearer
from datahelp import (RETENTION_RUN, audit_verify, backdate_upload, control_json, data_org,
                      forecast, internal_post, series_csv, tenant_json, tenant_scalar, tenant_sql,
                      upload)
from orghelp import (admin_cli, by_request, cookies_off, cookies_restore, create_api_key,
                     create_workspace, org_audit, org_url)


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


def put_policy(http, h, slug, body):
    return http.request("PUT", org_url(slug, "retention"), json=body, headers=h)


def get_policy(http, h, slug):
    r = http.get(org_url(slug, "retention"), headers=h)
    assert r.status_code == 200, describe(r)
    return r.json()["retention"]


def run_purge(http, stack):
    r = internal_post(http, stack, RETENTION_RUN)
    assert r.status_code == 200, describe(r)
    b = r.json()
    assert set(b) >= {"orgs", "uploads_deleted", "forecasts_deleted", "failed_orgs"}, b
    return b


def orgs_with_policy(stack):
    return len(control_json(stack, "SELECT DISTINCT org_id FROM retention_policies"))


def drain(http, stack):
    """Purge whatever earlier tests left expired, so that counts are exact."""
    b = run_purge(http, stack)
    assert b["failed_orgs"] == [], b


def ids(stack, d, table="uploads"):
    return {r["id"] for r in tenant_json(stack, d.tenant, "SELECT id FROM %s" % table)}


# ==================================================================== the policy

@pytest.fixture(scope="module")
def pol(http):
    d = data_org(http, plan="growth")
    d.admin = d.add(http, "admin")
    d.analyst = d.add(http, "analyst")
    d.viewer = d.add(http, "viewer")
    d.ws2 = create_workspace(http, d.owner["token"], d.slug)["id"]
    return d


def test_default_policy_is_empty(http, pol):
    assert get_policy(http, pol.h, pol.slug) == {"upload_days": None, "workspaces": []}


def test_free_plan_402(http, stack):
    d = data_org(http, plan="free")
    r = http.get(org_url(d.slug, "retention"), headers=d.h)
    assert_problem(r, 402, slug="plan-required", stack=stack)
    r = put_policy(http, d.h, d.slug, {"upload_days": 30})
    assert_problem(r, 402, slug="plan-required", stack=stack)
    assert control_json(stack, "SELECT 1 FROM retention_policies WHERE org_id = %d"
                        % d.org["id"]) == []


@pytest.mark.parametrize("who", ["viewer", "analyst"])
def test_below_admin_403(http, stack, pol, who):
    h = getattr(pol, who)["h"]
    assert_problem(http.get(org_url(pol.slug, "retention"), headers=h), 403, slug="forbidden",
                   stack=stack)
    assert_problem(put_policy(http, h, pol.slug, {"upload_days": 7}), 403, slug="forbidden",
                   stack=stack)


def test_admin_and_admin_key_may(http, pol):
    r = put_policy(http, pol.admin["h"], pol.slug, {"upload_days": 90})
    assert r.status_code == 200, describe(r)
    assert r.json()["retention"] == {"upload_days": 90, "workspaces": []}, r.json()
    _, key = create_api_key(http, pol.owner["token"], pol.slug, role="admin")
    assert get_policy(http, bearer(key), pol.slug)["upload_days"] == 90
    _, vkey = create_api_key(http, pol.owner["token"], pol.slug, role="analyst")
    r = http.get(org_url(pol.slug, "retention"), headers=bearer(vkey))
    assert r.status_code == 403, describe(r)


def _other_org_ws(http):
    return data_org(http, plan="growth").ws


@pytest.mark.parametrize("case", [
    ("days-0", {"upload_days": 0}, "upload_days"),
    ("days-3651", {"upload_days": 3651}, "upload_days"),
    ("days-float", {"upload_days": 1.5}, "upload_days"),
    ("days-string", {"upload_days": "30"}, "upload_days"),
    ("days-bool", {"upload_days": True}, "upload_days"),
    ("unknown-field", {"upload_days": 30, "keep": 1}, "keep"),
    ("ws-not-list", {"workspaces": {"1": 3}}, "workspaces"),
    ("ws-days-0", {"workspaces": [{"workspace_id": "WS", "upload_days": 0}]}, "workspaces"),
    ("ws-days-3651", {"workspaces": [{"workspace_id": "WS", "upload_days": 3651}]}, "workspaces"),
    ("ws-no-days", {"workspaces": [{"workspace_id": "WS"}]}, "workspaces"),
    ("ws-extra-key", {"workspaces": [{"workspace_id": "WS", "upload_days": 3, "x": 1}]},
     "workspaces"),
    ("ws-duplicate", {"workspaces": [{"workspace_id": "WS", "upload_days": 3},
                                     {"workspace_id": "WS", "upload_days": 4}]}, "workspaces"),
    ("ws-unknown", {"workspaces": [{"workspace_id": 987654321, "upload_days": 3}]}, "workspaces"),
    ("ws-other-org", {"workspaces": [{"workspace_id": "OTHER", "upload_days": 3}]}, "workspaces"),
], ids=lambda c: c[0])
def test_validation_422(http, stack, pol, case):
    _, body, field = case
    text = json.dumps(body).replace('"WS"', str(pol.ws))
    if '"OTHER"' in text:
        text = text.replace('"OTHER"', str(_other_org_ws(http)))
    before = get_policy(http, pol.h, pol.slug)
    rows = control_json(stack, "SELECT workspace_id, upload_days FROM retention_policies WHERE "
                               "org_id = %d ORDER BY 1" % pol.org["id"])
    r = put_policy(http, pol.h, pol.slug, json.loads(text))
    assert_problem(r, 422, field=field, stack=stack)
    assert get_policy(http, pol.h, pol.slug) == before
    assert control_json(stack, "SELECT workspace_id, upload_days FROM retention_policies WHERE "
                               "org_id = %d ORDER BY 1" % pol.org["id"]) == rows


def test_not_an_object_422(http, stack, pol):
    r = http.request("PUT", org_url(pol.slug, "retention"), data=b"[]",
                     headers=dict(pol.h, **{"Content-Type": "application/json"}))
    assert 400 <= r.status_code < 500, describe(r)


def test_put_replaces_and_is_audited(http, stack, pol):
    first = {"upload_days": 30, "workspaces": [{"workspace_id": pol.ws, "upload_days": 7},
                                               {"workspace_id": pol.ws2, "upload_days": 400}]}
    r1 = put_policy(http, pol.h, pol.slug, first)
    assert r1.status_code == 200, describe(r1)
    want1 = {"upload_days": 30, "workspaces": sorted(first["workspaces"],
                                                     key=lambda w: w["workspace_id"])}
    assert r1.json()["retention"] == want1, r1.json()
    assert get_policy(http, pol.h, pol.slug) == want1
    second = {"upload_days": None, "workspaces": [{"workspace_id": pol.ws2, "upload_days": 3}]}
    r2 = put_policy(http, pol.h, pol.slug, second)
    assert r2.status_code == 200, describe(r2)
    assert r2.json()["retention"] == second, r2.json()
    rows = control_json(stack, "SELECT workspace_id, upload_days FROM retention_policies WHERE "
                               "org_id = %d ORDER BY 1" % pol.org["id"])
    assert rows == [{"workspace_id": pol.ws2, "upload_days": 3}], rows
    # omitted fields are cleared too
    r3 = put_policy(http, pol.h, pol.slug, {"upload_days": 12})
    assert r3.status_code == 200, describe(r3)
    assert r3.json()["retention"] == {"upload_days": 12, "workspaces": []}, r3.json()
    r4 = put_policy(http, pol.h, pol.slug, {})
    assert r4.json()["retention"] == {"upload_days": None, "workspaces": []}, r4.json()
    assert control_json(stack, "SELECT 1 FROM retention_policies WHERE org_id = %d"
                        % pol.org["id"]) == []
    entries = org_audit(http, pol.h, pol.slug, action="retention.update")
    e1, e2 = by_request(entries, r1), by_request(entries, r2)
    assert len(e1) == 1 and len(e2) == 1, entries
    e1, e2 = e1[0], e2[0]
    assert e1["actor_type"] == "user" and str(e1["actor_id"]) == str(pol.owner["id"]), e1
    assert e1["after"] == want1, e1
    assert e2["before"] == want1 and e2["after"] == second, e2
    assert by_request(entries, r4)[0]["after"] == {"upload_days": None, "workspaces": []}


def test_deleted_workspace_leaves_the_policy(http, stack, pol):
    ws3 = create_workspace(http, pol.owner["token"], pol.slug)["id"]
    r = put_policy(http, pol.h, pol.slug, {"workspaces": [{"workspace_id": ws3,
                                                           "upload_days": 5}]})
    assert r.status_code == 200, describe(r)
    r = http.delete(org_url(pol.slug, "workspaces", ws3), headers=pol.h)
    assert r.status_code == 204, describe(r)
    assert get_policy(http, pol.h, pol.slug)["workspaces"] == []


# ==================================================================== the purge

class World:
    """Orgs A (org window 30 days, ws2 override 5, ws3 override 400), B (only a
    workspace override of 10 days) and C (no policy), with backdated uploads."""


def _up(http, stack, d, ws, age_days, hours=1, forecasts=0, tag=""):
    """An upload made `age_days` (+ hours) ago with FORECASTS forecasts."""
    u = upload(http, d.h, d.slug, ws, series_csv([1, 2, 3]), name="age%s-%s" % (age_days, tag))
    for _ in range(forecasts):
        forecast(http, d.h, d.slug, ws, u["id"])
    backdate_upload(stack, d.tenant, u["id"], age_days, hours)
    return u["id"]


@pytest.fixture(scope="module")
def world(http, stack):
    w = World()
    drain(http, stack)
    a = w.a = data_org(http, plan="growth")
    a.ws2 = create_workspace(http, a.owner["token"], a.slug)["id"]
    a.ws3 = create_workspace(http, a.owner["token"], a.slug)["id"]
    r = put_policy(http, a.h, a.slug, {"upload_days": 30, "workspaces": [
        {"workspace_id": a.ws2, "upload_days": 5}, {"workspace_id": a.ws3, "upload_days": 400}]})
    assert r.status_code == 200, describe(r)
    b = w.b = data_org(http, plan="agency")
    b.ws2 = create_workspace(http, b.owner["token"], b.slug)["id"]
    r = put_policy(http, b.h, b.slug, {"workspaces": [{"workspace_id": b.ws2,
                                                       "upload_days": 10}]})
    assert r.status_code == 200, describe(r)
    c = w.c = data_org(http, plan="growth")
    w.expired = {"a": {_up(http, stack, a, a.ws, 31, forecasts=2),
                       _up(http, stack, a, a.ws, 100, forecasts=1),
                       _up(http, stack, a, a.ws, 30, hours=1),         # 30 days and an hour
                       _up(http, stack, a, a.ws2, 5, hours=1, forecasts=1),
                       _up(http, stack, a, a.ws3, 401, forecasts=3)},
                 "b": {_up(http, stack, b, b.ws2, 11, forecasts=2)},
                 "c": set()}
    w.kept = {"a": {_up(http, stack, a, a.ws, 29, hours=23, forecasts=1),
                    _up(http, stack, a, a.ws, 0, hours=0),
                    _up(http, stack, a, a.ws2, 4, hours=22, forecasts=1),
                    _up(http, stack, a, a.ws3, 100, forecasts=1),
                    _up(http, stack, a, a.ws3, 399)},
              "b": {_up(http, stack, b, b.ws, 3000, forecasts=1),   # no org window
                    _up(http, stack, b, b.ws2, 9, forecasts=1)},
              "c": {_up(http, stack, c, c.ws, 3650, forecasts=1),
                    _up(http, stack, c, c.ws, 5000)}}
    w.fc_expired = {"a": 2 + 1 + 1 + 3, "b": 2, "c": 0}
    return w


def _forecasts_of(stack, d, upload_ids):
    if not upload_ids:
        return set()
    return {r["id"] for r in tenant_json(stack, d.tenant, "SELECT id FROM forecasts WHERE "
                                         "upload_id IN (%s)" % ",".join(map(str, upload_ids)))}


def test_purge_deletes_exactly_the_expired(http, stack, world):
    w = world
    orgs = {"a": w.a, "b": w.b, "c": w.c}
    before_up = {k: ids(stack, d) for k, d in orgs.items()}
    before_fc = {k: ids(stack, d, "forecasts") for k, d in orgs.items()}
    for k in orgs:
        assert before_up[k] == w.expired[k] | w.kept[k], (k, before_up[k])
    kept_fc = {k: _forecasts_of(stack, d, w.kept[k]) for k, d in orgs.items()}
    seq_before = {k: max([e["seq"] for e in org_audit(http, d.h, d.slug)] or [0])
                  for k, d in orgs.items()}
    res = run_purge(http, stack)
    assert res["failed_orgs"] == [], res
    assert res["orgs"] == orgs_with_policy(stack), res
    assert res["uploads_deleted"] == len(w.expired["a"]) + len(w.expired["b"]), res
    assert res["forecasts_deleted"] == w.fc_expired["a"] + w.fc_expired["b"], res
    for k, d in orgs.items():
        assert ids(stack, d) == w.kept[k], "org %s: uploads left %r, want %r" % (
            k, ids(stack, d), w.kept[k])
        assert ids(stack, d, "forecasts") == kept_fc[k], k
        assert before_fc[k] - ids(stack, d, "forecasts") == before_fc[k] - kept_fc[k]
        left_rows = int(tenant_scalar(stack, d.tenant, "SELECT count(*) FROM upload_rows WHERE "
                                      "upload_id NOT IN (SELECT id FROM uploads)"))
        assert left_rows == 0, k
        # the API agrees
        for uid in w.expired[k]:
            r = http.get(org_url(d.slug, "workspaces", d.ws, "uploads", uid), headers=d.h)
            assert r.status_code == 404, describe(r)
    # one retention.purge entry per org that lost something, with the counts
    for k, d in orgs.items():
        new = [e for e in org_audit(http, d.h, d.slug) if e["seq"] > seq_before[k]]
        purge = [e for e in new if e["action"] == "retention.purge"]
        if k == "c":
            assert purge == [], new
            continue
        assert len(purge) == 1, new
        e = purge[0]
        assert e["actor_type"] == "system", e
        assert e["after"]["uploads_deleted"] == len(w.expired[k]), e
        assert e["after"]["forecasts_deleted"] == w.fc_expired[k], e
        assert set(e["after"]["upload_ids"]) == w.expired[k], e     # the batch's exact ids
    # a repeat deletes nothing and writes nothing
    again = run_purge(http, stack)
    assert (again["uploads_deleted"], again["forecasts_deleted"], again["failed_orgs"]) == \
        (0, 0, []), again
    for k, d in orgs.items():
        assert ids(stack, d) == w.kept[k]
        n = len([e for e in org_audit(http, d.h, d.slug, action="retention.purge")])
        assert n == (0 if k == "c" else 1), (k, n)
    audit_verify(stack)


def test_purge_needs_the_secret(http):
    assert http.post(RETENTION_RUN).status_code == 404
    assert http.post(RETENTION_RUN, headers={"X-Internal-Secret": "x"}).status_code == 404


def _bulk(stack, d, n, age_days, tag):
    """N uploads (and one forecast each) inserted by SQL, AGE_DAYS old."""
    tenant_sql(stack, d.tenant,
               "INSERT INTO uploads (workspace_id, name, size_bytes, row_count, columns, "
               "created_at) SELECT %d, '%s-' || g, 0, 0, '[]', now() - interval '%d days' "
               "FROM generate_series(1, %d) g" % (d.ws, tag, age_days, n))
    tenant_sql(stack, d.tenant,
               "INSERT INTO forecasts (workspace_id, upload_id, name, parameters, result) "
               "SELECT workspace_id, id, 'f', '{}', '{}' FROM uploads WHERE name LIKE '%s-%%'"
               % tag)


def test_overlapping_runs_delete_each_upload_once(http, stack):
    d = data_org(http, plan="growth")
    r = put_policy(http, d.h, d.slug, {"upload_days": 30})
    assert r.status_code == 200, describe(r)
    drain(http, stack)
    n = 950       # several batches
    _bulk(stack, d, n, 31, "old")
    _bulk(stack, d, 7, 29, "new")
    results, errors = [], []
    barrier = threading.Barrier(3)

    def worker():
        s = new_session()
        try:
            barrier.wait(10)
            resp = s.post(stack["BASE_URL"] + RETENTION_RUN,
                          headers={"X-Internal-Secret": stack["INTERNAL_SECRET"]}, timeout=120)
            results.append((resp.status_code, resp.text))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            s.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert not errors, errors
    assert [s for s, _ in results] == [200, 200, 200], results
    bodies = [json.loads(t) for _, t in results]
    assert all(b["failed_orgs"] == [] for b in bodies), bodies
    assert sum(b["uploads_deleted"] for b in bodies) == n, bodies
    assert sum(b["forecasts_deleted"] for b in bodies) == n, bodies
    assert int(tenant_scalar(stack, d.tenant, "SELECT count(*) FROM uploads")) == 7
    assert int(tenant_scalar(stack, d.tenant, "SELECT count(*) FROM forecasts")) == 7
    # one entry per batch, naming its uploads: every old upload in exactly one
    purges = org_audit(http, d.h, d.slug, action="retention.purge")
    assert len(purges) >= -(-n // 200), purges
    named = [i for e in purges for i in e["after"]["upload_ids"]]
    assert len(named) == len(set(named)) == n, purges
    assert sum(e["after"]["uploads_deleted"] for e in purges) == n, purges
    assert sum(e["after"]["forecasts_deleted"] for e in purges) == n, purges
    assert control_json(stack, "SELECT id FROM retention_batches WHERE org_id = %d"
                        % d.org["id"]) == []
    audit_verify(stack)


def test_admin_cli_retention_purge(http, stack):
    d = data_org(http, plan="growth")
    r = put_policy(http, d.h, d.slug, {"upload_days": 1})
    assert r.status_code == 200, describe(r)
    drain(http, stack)
    old = _up(http, stack, d, d.ws, 1, hours=2, forecasts=1)
    fresh = _up(http, stack, d, d.ws, 0, hours=0, forecasts=1)
    p = admin_cli(stack, "retention", "purge")
    assert p.returncode == 0, p.stdout + p.stderr
    m = re.search(r"(\d+) orgs with a policy, (\d+) uploads and (\d+) forecasts deleted",
                  p.stdout)
    assert m and "failed" not in p.stdout + p.stderr, p.stdout + p.stderr
    assert int(m.group(1)) == orgs_with_policy(stack), p.stdout
    assert (int(m.group(2)), int(m.group(3))) == (1, 1), p.stdout
    assert ids(stack, d) == {fresh}
    assert old not in ids(stack, d)
    purges = org_audit(http, d.h, d.slug, action="retention.purge")
    assert len(purges) == 1 and purges[0]["actor_type"] == "system", purges
    assert purges[0]["after"] == {"uploads_deleted": 1, "forecasts_deleted": 1,
                                  "upload_ids": [old]}, purges
    p = admin_cli(stack, "retention", "purge")
    assert p.returncode == 0 and " 0 uploads and 0 forecasts deleted" in p.stdout, p.stdout
    audit_verify(stack)


def test_policy_removed_stops_the_purge(http, stack):
    d = data_org(http, plan="growth")
    r = put_policy(http, d.h, d.slug, {"upload_days": 10})
    assert r.status_code == 200, describe(r)
    old = _up(http, stack, d, d.ws, 20)
    r = put_policy(http, d.h, d.slug, {"upload_days": None})
    assert r.status_code == 200, describe(r)
    res = run_purge(http, stack)
    assert res["failed_orgs"] == [], res
    assert old in ids(stack, d)


@pytest.mark.pgstop
def test_unreachable_region_is_reported_and_the_rest_purged(http, stack):
    """A region whose server is down: its orgs are listed in failed_orgs, the
    others are purged; once it is back the next run finishes the job."""
    from apxtest import run_stack_script
    drain(http, stack)
    eu = data_org(http, plan="growth", region="eu")
    us = data_org(http, plan="growth", region="us")
    for d in (eu, us):
        r = put_policy(http, d.h, d.slug, {"upload_days": 3})
        assert r.status_code == 200, describe(r)
    old_eu = _up(http, stack, eu, eu.ws, 4, forecasts=1)
    old_us = _up(http, stack, us, us.ws, 4, forecasts=1)
    fresh_us = _up(http, stack, us, us.ws, 0, hours=0)
    us_with_policy = {r["slug"] for r in control_json(
        stack, "SELECT DISTINCT o.slug FROM orgs o JOIN retention_policies p ON p.org_id = o.id"
               " WHERE o.region = 'us'")}
    run_stack_script("pg-stop", stack["STACK_DIR"], "--region", "us")
    try:
        r = internal_post(http, stack, RETENTION_RUN)
    finally:
        run_stack_script("pg-start", stack["STACK_DIR"], "--region", "us")
    assert r.status_code == 200, describe(r)
    res = r.json()
    assert us.slug in res["failed_orgs"], res
    assert set(res["failed_orgs"]) <= us_with_policy, res
    assert (res["uploads_deleted"], res["forecasts_deleted"]) == (1, 1), res
    assert old_eu not in ids(stack, eu)
    assert ids(stack, us) == {old_us, fresh_us}
    # back up: the next run (same workers, stale connections) finishes the job
    res = run_purge(http, stack)
    assert res["failed_orgs"] == [], res
    assert (res["uploads_deleted"], res["forecasts_deleted"]) == (1, 1), res
    assert ids(stack, us) == {fresh_us}
    assert len(org_audit(http, us.h, us.slug, action="retention.purge")) == 1
