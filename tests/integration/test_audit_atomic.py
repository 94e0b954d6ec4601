"""Nothing unaudited happens: when the audit entry of an organisation action
cannot be written, the action does not happen either (the entry is written in
the action's own transaction). A trigger installed for one test refuses the
audit row of one chosen action; the action must then fail cleanly and leave no
trace, and work again once the trigger is gone."""

import uuid

from apxtest import assert_no_leak, describe
from authhelp import bearer
from orghelp import add_member, create_api_key, create_org, new_member, org_url, psql


def _failed_cleanly(r, stack):
    assert r.status_code in (500, 503), describe(r)
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), describe(r)
    assert_no_leak(r.text, stack)
    assert "audit store refuses" not in r.text


def test_workspace_create_is_undone_when_its_audit_fails(http, stack, refuse_audit):
    owner = new_member(http, "Atomic Owner")
    org = create_org(http, owner["token"], plan="growth")
    name = "ws-" + uuid.uuid4().hex[:8]
    refuse_audit("workspace.create")
    r = http.post(org_url(org["slug"], "workspaces"), json={"name": name},
                  headers=bearer(owner["token"]))
    _failed_cleanly(r, stack)
    assert psql(stack, "SELECT count(*) FROM workspaces WHERE name = '%s'" % name
                ).stdout.strip() == "0"


def test_api_key_create_is_undone_when_its_audit_fails(http, stack, refuse_audit):
    owner = new_member(http, "Atomic Owner")
    org = create_org(http, owner["token"], plan="growth")
    keyname = "k-" + uuid.uuid4().hex[:8]
    refuse_audit("api_key.create")
    r = http.post(org_url(org["slug"], "api-keys"), json={"name": keyname, "role": "viewer"},
                  headers=bearer(owner["token"]))
    _failed_cleanly(r, stack)
    assert "apx_" not in r.text, "a key was shown for an action that did not happen"
    assert psql(stack, "SELECT count(*) FROM api_keys WHERE name = '%s'" % keyname
                ).stdout.strip() == "0"


def test_role_change_is_undone_when_its_audit_fails(http, stack, refuse_audit):
    owner = new_member(http, "Atomic Owner")
    org = create_org(http, owner["token"], plan="growth")
    member = add_member(http, owner["token"], org["slug"], "viewer")
    refuse_audit("member.role_change")
    r = http.patch(org_url(org["slug"], "members", member["id"]), json={"role": "admin"},
                   headers=bearer(owner["token"]))
    _failed_cleanly(r, stack)
    role = psql(stack, "SELECT role FROM memberships WHERE org_id = %d AND user_id = %d"
                % (org["id"], member["id"])).stdout.strip()
    assert role == "viewer", role


def test_key_revoke_is_undone_and_key_keeps_working(http, stack, refuse_audit):
    owner = new_member(http, "Atomic Owner")
    org = create_org(http, owner["token"], plan="growth")
    body, key = create_api_key(http, owner["token"], org["slug"], role="viewer")
    refuse_audit("api_key.revoke")
    r = http.delete(org_url(org["slug"], "api-keys", body["id"]), headers=bearer(owner["token"]))
    _failed_cleanly(r, stack)
    r = http.get(org_url(org["slug"]), headers=bearer(key))
    assert r.status_code == 200, describe(r)


def test_org_create_is_undone_when_its_audit_fails(http, stack, refuse_audit):
    owner = new_member(http, "Atomic Owner")
    slug = "atomic_" + uuid.uuid4().hex[:10]
    refuse_audit("org.create")
    r = http.post("/api/v1/orgs", json={"name": "Atomic", "slug": slug},
                  headers=bearer(owner["token"]))
    _failed_cleanly(r, stack)
    assert psql(stack, "SELECT count(*) FROM orgs WHERE slug = '%s'" % slug).stdout.strip() == "0"
