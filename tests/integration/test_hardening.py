"""Issue 9, the holes an outside review found (points 1, 3 and 4, and the
request id of audit entries); points 2 and 5 have test_audit_guard.py and
test_vault_datakeys.py.

1. Rotating an API key hands its new secret to the rotator: only the key's
   creator or an owner may, and the key then acts as (and depends on) the
   rotator as well as its creator.
3. A retention purge batch is deleted only once its audit entry (with the
   batch's exact ids) is written; a failed tenant delete is finished later.
4. Concurrent removals of owners (role change, removal, account deletion)
   never leave an org without an owner.
"""

import threading
import uuid

import pytest

from apxtest import assert_problem, describe, new_session
from authhelp import bearer
from datahelp import (RETENTION_RUN, audit_verify, backdate_upload, control_json, data_org,
                      internal_post, series_csv, tenant_scalar, tenant_sql, upload)
from orghelp import (cookies_off, cookies_restore, create_api_key, new_member, org_audit,
                     org_url, psql, set_role)

ME = "/api/v1/me"


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


def rotate(http, token, slug, key_id):
    return http.post(org_url(slug, "api-keys", key_id, "rotate"), headers=bearer(token))


def use(http, key, slug, *rest):
    return http.get(org_url(slug, *rest), headers=bearer(key))


# ============================================================ 1. key rotation

def test_admin_cannot_rotate_an_owners_key(http, stack):
    d = data_org(http, plan="growth")
    admin = d.add(http, "admin")
    ak, key = create_api_key(http, d.owner["token"], d.slug, role="admin")
    r = rotate(http, admin["token"], d.slug, ak["id"])
    b = assert_problem(r, 403, slug="forbidden", stack=stack)
    assert "apx_" not in r.text, "a secret was handed out on a refused rotation"
    assert "creator" in b["detail"], b
    # nothing changed: the owner's secret still works, no rotation recorded
    assert use(http, key, d.slug, "settings").status_code == 200
    got = http.get(org_url(d.slug, "api-keys", ak["id"]), headers=d.h).json()["api_key"]
    assert got["rotated_at"] is None and got["rotated_by"] is None, got
    assert org_audit(http, d.h, d.slug, action="api_key.rotate") == []


def test_admin_rotates_own_key_and_owner_any_key(http, stack):
    d = data_org(http, plan="growth")
    admin = d.add(http, "admin")
    other = d.add(http, "admin")
    ak, _ = create_api_key(http, admin["token"], d.slug, role="viewer")
    # another admin may not, the creator may, an owner may
    assert_problem(rotate(http, other["token"], d.slug, ak["id"]), 403, slug="forbidden")
    r = rotate(http, admin["token"], d.slug, ak["id"])
    assert r.status_code == 200, describe(r)
    assert r.json()["api_key"]["rotated_by"] == admin["id"], r.json()
    r = rotate(http, d.owner["token"], d.slug, ak["id"])
    assert r.status_code == 200, describe(r)
    assert r.json()["api_key"]["rotated_by"] == d.owner["id"], r.json()
    # the audit entries name who rotated
    rots = org_audit(http, d.h, d.slug, action="api_key.rotate")
    assert sorted(str(e["actor_id"]) for e in rots) == sorted(
        [str(admin["id"]), str(d.owner["id"])]), rots
    for e in rots:
        assert e["actor_type"] == "user" and e["after"]["rotated_by"] == int(e["actor_id"]), e


def test_rotated_key_dies_when_its_rotator_leaves(http, stack):
    """An owner rotates an admin's key and receives its secret; once that
    owner is no longer a member, the key is dead even though its creator
    still is (the issue: a rotated key kept working after its holder left)."""
    d = data_org(http, plan="growth")
    creator = d.add(http, "admin")
    holder = d.add(http, "owner")
    ak, _ = create_api_key(http, creator["token"], d.slug, role="admin")
    r = rotate(http, holder["token"], d.slug, ak["id"])
    assert r.status_code == 200, describe(r)
    key = r.json()["key"]
    assert use(http, key, d.slug, "settings").status_code == 200
    # uploads made with it are credited to the holder, not the creator
    up = upload(http, bearer(key), d.slug, d.ws, series_csv([1, 2]), name="by-holder")
    assert up["uploaded_by"] == {"type": "api_key", "id": ak["id"], "user_id": holder["id"]}, up
    # the holder demoted to analyst: the key is capped at once
    assert set_role(http, d.owner["token"], d.slug, holder["id"], "analyst").status_code in (200, 204)
    assert_problem(use(http, key, d.slug, "settings"), 403, slug="forbidden", stack=stack)
    assert use(http, key, d.slug, "members").status_code == 200
    # the holder removed: dead, although the creator is still an admin
    r = http.delete(org_url(d.slug, "members", holder["id"]), headers=d.h)
    assert r.status_code == 204, describe(r)
    assert_problem(use(http, key, d.slug), 401, slug="unauthenticated", stack=stack)


def test_rotated_key_dies_when_its_creator_leaves(http, stack):
    d = data_org(http, plan="growth")
    creator = d.add(http, "admin")
    ak, _ = create_api_key(http, creator["token"], d.slug, role="admin")
    r = rotate(http, d.owner["token"], d.slug, ak["id"])
    assert r.status_code == 200, describe(r)
    key = r.json()["key"]
    assert use(http, key, d.slug, "settings").status_code == 200
    # the creator demoted below the key's role: capped, as for unrotated keys
    assert set_role(http, d.owner["token"], d.slug, creator["id"], "viewer").status_code in (200, 204)
    assert_problem(use(http, key, d.slug, "settings"), 403, slug="forbidden", stack=stack)
    r = http.delete(org_url(d.slug, "members", creator["id"]), headers=d.h)
    assert r.status_code == 204, describe(r)
    assert_problem(use(http, key, d.slug), 401, slug="unauthenticated", stack=stack)


def test_refused_rotation_leaves_the_old_holder(http, stack):
    """A removed admin's own rotation attempt is refused (not a member)."""
    d = data_org(http, plan="growth")
    admin = d.add(http, "admin")
    ak, key = create_api_key(http, admin["token"], d.slug, role="viewer")
    assert http.delete(org_url(d.slug, "members", admin["id"]), headers=d.h).status_code == 204
    r = rotate(http, admin["token"], d.slug, ak["id"])
    assert r.status_code == 404, describe(r)
    assert_problem(use(http, key, d.slug), 401, slug="unauthenticated", stack=stack)


# ============================================================ request ids

def test_audit_entry_takes_the_server_request_id(http, stack):
    d = data_org(http, plan="growth")
    forged = "forged-" + uuid.uuid4().hex
    h = dict(d.h, **{"X-Request-Id": forged})
    r = http.post(org_url(d.slug, "workspaces"), json={"name": "rid-ws"}, headers=h)
    assert r.status_code == 201, describe(r)
    rid = r.headers["X-Request-Id"]
    assert rid != forged
    rows = control_json(stack, "SELECT request_id FROM audit_log WHERE request_id IN ('%s', '%s')"
                        % (forged, rid))
    assert rows == [{"request_id": rid}], rows


# ============================================================ 3. retention purge

def _purge(http, stack):
    r = internal_post(http, stack, RETENTION_RUN)
    assert r.status_code == 200, describe(r)
    return r.json()


def _expired_org(http, stack, n_old=3):
    d = data_org(http, plan="growth")
    r = http.request("PUT", org_url(d.slug, "retention"), json={"upload_days": 10}, headers=d.h)
    assert r.status_code == 200, describe(r)
    old = []
    for i in range(n_old):
        u = upload(http, d.h, d.slug, d.ws, series_csv([1, 2, 3]), name="old-%d" % i)
        backdate_upload(stack, d.tenant, u["id"], 20)
        old.append(u["id"])
    fresh = upload(http, d.h, d.slug, d.ws, series_csv([4, 5]), name="fresh")["id"]
    return d, set(old), fresh


def _uploads(stack, d):
    return int(tenant_scalar(stack, d.tenant, "SELECT count(*) FROM uploads"))


def test_purge_deletes_nothing_when_its_audit_entry_fails(http, stack, refuse_audit):
    _purge(http, stack)                      # earlier tests' leftovers
    d, old, fresh = _expired_org(http, stack)
    refuse_audit("retention.purge")
    res = _purge(http, stack)
    assert d.slug in res["failed_orgs"], res
    assert _uploads(stack, d) == len(old) + 1, "uploads went without their audit entry"
    assert org_audit(http, d.h, d.slug, action="retention.purge") == []
    assert control_json(stack, "SELECT id FROM retention_batches WHERE org_id = %d"
                        % d.org["id"]) == []


def test_purge_after_the_audit_store_recovers(http, stack):
    _purge(http, stack)
    d, old, fresh = _expired_org(http, stack)
    res = _purge(http, stack)
    assert d.slug not in res["failed_orgs"], res
    assert _uploads(stack, d) == 1
    purges = org_audit(http, d.h, d.slug, action="retention.purge")
    assert len(purges) == 1 and set(purges[0]["after"]["upload_ids"]) == old, purges


def test_failed_tenant_delete_is_finished_by_the_next_purge(http, stack):
    _purge(http, stack)
    d, old, fresh = _expired_org(http, stack)
    fn = "apx_test_refuse_delete_%s" % uuid.uuid4().hex[:10]
    # the tenant database refuses the delete (as its superuser, for this test)
    tenant_sql(stack, d.tenant, """
        CREATE FUNCTION %(n)s() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'tenant refuses (test)'; END $$;
        CREATE TRIGGER %(n)s BEFORE DELETE ON uploads
            FOR EACH ROW EXECUTE FUNCTION %(n)s();""" % {"n": fn})
    try:
        res = _purge(http, stack)
        assert d.slug in res["failed_orgs"], res
        assert _uploads(stack, d) == len(old) + 1
        # on record: the audit entry and the pending batch
        purges = org_audit(http, d.h, d.slug, action="retention.purge")
        assert len(purges) == 1 and set(purges[0]["after"]["upload_ids"]) == old, purges
        pending = control_json(stack, "SELECT upload_ids FROM retention_batches WHERE "
                                      "org_id = %d" % d.org["id"])
        assert [set(p["upload_ids"]) for p in pending] == [old], pending
    finally:
        tenant_sql(stack, d.tenant, "DROP TRIGGER %s ON uploads; DROP FUNCTION %s();" % (fn, fn))
    res = _purge(http, stack)
    assert d.slug not in res["failed_orgs"], res
    assert _uploads(stack, d) == 1
    assert control_json(stack, "SELECT id FROM retention_batches WHERE org_id = %d"
                        % d.org["id"]) == []
    # finishing it wrote no second entry, and nothing else expired meanwhile
    assert len(org_audit(http, d.h, d.slug, action="retention.purge")) == 1
    audit_verify(stack)


# ============================================================ 4. the last owner

def _concurrently(*calls):
    """Run each call (a function of a fresh requests session) at once."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i, f):
        s = new_session()
        try:
            barrier.wait(10)
            out[i] = f(s)
        except Exception as e:  # noqa: BLE001
            out[i] = e
        finally:
            s.close()

    ts = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(calls)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return out


def _owners(stack, org_id):
    return int(control_json(stack, "SELECT count(*) AS n FROM memberships WHERE org_id = %d "
                                   "AND role = 'owner'" % org_id)[0]["n"])


def _delete_me(base, user):
    return lambda s: s.request("DELETE", base + ME, json={"password": user["password"]},
                               headers=bearer(user["token"]), timeout=30).status_code


def _demote(base, slug, actor, target):
    return lambda s: s.patch(base + org_url(slug, "members", target["id"]),
                             json={"role": "admin"}, headers=bearer(actor["token"]),
                             timeout=30).status_code


def _remove(base, slug, actor, target):
    return lambda s: s.delete(base + org_url(slug, "members", target["id"]),
                              headers=bearer(actor["token"]), timeout=30).status_code


@pytest.fixture
def slow_membership_changes(stack):
    """slow(org_id): every change of a membership row of that org takes
    0.4 s more inside its transaction, so that two concurrent removals
    overlap for certain: without the owner rows locked before counting,
    both pass (the issue's race), with them the second waits and counts
    again."""
    name = "apx_test_slow_%s" % uuid.uuid4().hex[:12]
    made = []

    def slow(org_id):
        if not made:
            psql(stack, """
                CREATE TABLE %(n)s (org_id bigint PRIMARY KEY);
                CREATE FUNCTION %(n)s() RETURNS trigger LANGUAGE plpgsql
                    SECURITY DEFINER SET search_path = public AS $$
                BEGIN
                    IF EXISTS (SELECT 1 FROM %(n)s WHERE org_id = OLD.org_id) THEN
                        PERFORM pg_sleep(0.4);
                    END IF;
                    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
                END $$;
                CREATE TRIGGER %(n)s BEFORE UPDATE OR DELETE ON memberships
                    FOR EACH ROW EXECUTE FUNCTION %(n)s();""" % {"n": name})
            made.append(name)
        psql(stack, "INSERT INTO %s VALUES (%d)" % (name, org_id))

    yield slow
    for n in made:
        psql(stack, "DROP TRIGGER IF EXISTS %s ON memberships; DROP FUNCTION IF EXISTS %s();"
             " DROP TABLE IF EXISTS %s;" % (n, n, n))


@pytest.mark.parametrize("race", ["delete+delete", "delete+demote", "delete+leave",
                                  "demote+demote", "remove+remove"])
def test_concurrent_owner_removals_leave_an_owner(http, stack, race, slow_membership_changes):
    base = stack["BASE_URL"]
    for _ in range(2):
        a = new_member(http, "Owner A")
        d = data_org(http, plan="free", owner=a)
        b = d.add(http, "owner")
        slow_membership_changes(d.org["id"])
        if race == "delete+delete":
            calls = (_delete_me(base, a), _delete_me(base, b))
        elif race == "delete+demote":      # b demotes themself while a deletes their account
            calls = (_delete_me(base, a), _demote(base, d.slug, b, b))
        elif race == "delete+leave":
            calls = (_delete_me(base, a), _remove(base, d.slug, b, b))
        elif race == "demote+demote":      # each demotes the other
            calls = (_demote(base, d.slug, a, b), _demote(base, d.slug, b, a))
        else:                              # each removes the other
            calls = (_remove(base, d.slug, a, b), _remove(base, d.slug, b, a))
        got = _concurrently(*calls)
        assert all(isinstance(g, int) for g in got), got
        assert sorted(g // 100 for g in got) == [2, 4], (race, got)   # one wins, one refused
        # the loser: last owner (409), no longer a member (404), or no
        # longer an owner, so not allowed to touch one (403)
        assert {409, 404, 403} & set(got), (race, got)
        assert _owners(stack, d.org["id"]) == 1, (race, got)
