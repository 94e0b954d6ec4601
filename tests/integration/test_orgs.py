"""Organisations: creation and slug rules, membership and roles, invitations,
cross-org isolation, workspaces, org settings and their audit entries
(docs/api.md)."""

import json
import uuid
from datetime import timedelta

import pytest

from apxtest import assert_problem, config_dict, describe, media_type, problem_shape
from authhelp import COOKIE_CSRF, ORIGIN, bearer, cookie_header, login, login_cookies, new_user
from orghelp import (ACCEPT, MISSING_ID, ORGS, accept, add_member, by_request, cookies_off,
                     cookies_restore, create_api_key, create_org, create_org_raw,
                     create_workspace, default_workspace, fill, invite, members, mentions,
                     new_member, now_utc, org_audit, org_settings, org_url, parse_time,
                     patch_org_settings, psql, route_id, route_table, set_role, superuser,
                     unique_slug,
                     workspace_of, workspaces)


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


@pytest.fixture
def owner(http):
    return new_member(http, "Org Owner")


@pytest.fixture
def org(http, owner):
    """A fresh growth-plan org of `owner`."""
    return create_org(http, owner["token"], plan="growth")


def get_org(http, token, slug):
    return http.get(org_url(slug), headers=bearer(token))


# ==================================================================== creation

def test_create_org_defaults(http, owner):
    slug = unique_slug("c")
    r = create_org_raw(http, owner["token"], slug=slug, name="Acme Analytics")
    assert r.status_code == 201, describe(r)
    assert media_type(r) == "application/json", describe(r)
    o = r.json()["org"]
    assert (o["slug"], o["name"], o["plan"], o["region"]) == (slug, "Acme Analytics", "free", "eu"), o
    assert isinstance(o["id"], int), o
    r = get_org(http, owner["token"], slug)
    assert r.status_code == 200, describe(r)
    got = r.json()["org"]
    assert {"id", "slug", "name", "plan", "region", "role", "created_at"} <= set(got), got
    assert (got["id"], got["role"], got["plan"], got["region"]) == (o["id"], "owner", "free", "eu"), got
    parse_time(got["created_at"])
    # listed for the caller with the role
    r = http.get(ORGS, headers=bearer(owner["token"]))
    assert r.status_code == 200, describe(r)
    mine = [x for x in r.json()["orgs"] if x["slug"] == slug]
    assert len(mine) == 1 and mine[0]["role"] == "owner", r.json()
    assert {"id", "slug", "name", "plan", "region", "role"} <= set(mine[0]), mine
    # a workspace `default`, and the creator is the only member, as owner
    ws = workspaces(http, owner["token"], slug)
    assert [w["name"] for w in ws] == ["default"], ws
    assert {"id", "name", "created_at"} <= set(ws[0]), ws
    m = members(http, owner["token"], slug)
    assert list(m) == [owner["id"]] and m[owner["id"]]["role"] == "owner", m
    assert {"user_id", "email", "name", "role", "joined_at"} <= set(m[owner["id"]]), m


def test_create_org_is_audited(http, owner):
    slug = unique_slug("c")
    r = create_org_raw(http, owner["token"], slug=slug, name="Audited")
    assert r.status_code == 201, describe(r)
    got = by_request(org_audit(http, bearer(owner["token"]), slug, action="org.create"), r)
    assert len(got) == 1, got
    assert got[0]["actor_type"] == "user" and str(got[0]["actor_id"]) == str(owner["id"]), got


@pytest.mark.parametrize("plan", ["free", "growth", "agency"])
def test_create_org_with_plan(http, owner, plan):
    o = create_org(http, owner["token"], plan=plan)
    assert o["plan"] == plan, o


def test_create_org_with_default_region_explicitly(http, owner):
    o = create_org(http, owner["token"], region="eu")
    assert o["region"] == "eu", o


def _configured_regions(stack):
    v = config_dict(stack["APX_CONFIG"]).get("org.regions")
    return v.split() if v else ["eu"]


def test_create_org_with_each_configured_region(http, stack, owner):
    for region in _configured_regions(stack):
        o = create_org(http, owner["token"], region=region)
        assert o["region"] == region, o


def _slug_cases():
    h = uuid.uuid4().hex
    return [
        ("one-char", "a"),
        ("42-chars", ("z" + h + h)[:42]),
        ("uppercase", "Up" + h[:10]),
        ("leading-underscore", "_" + h[:10]),
        ("hyphen", "a-" + h[:10]),
        ("dot", "a." + h[:10]),
        ("space", "a " + h[:10]),
        ("non-ascii", "\u00e9" + h[:10]),
        ("empty", ""),
        ("trailing-newline", "a" + h[:10] + "\n"),
    ]


@pytest.mark.parametrize("case", _slug_cases(), ids=lambda c: c[0])
def test_create_org_bad_slug_422(http, stack, owner, case):
    r = create_org_raw(http, owner["token"], slug=case[1], name="Bad Slug")
    assert_problem(r, 422, slug="invalid-field", field="slug", stack=stack)


def test_create_org_slug_not_a_string_422(http, stack, owner):
    r = http.post(ORGS, json={"name": "X", "slug": 12345}, headers=bearer(owner["token"]))
    assert_problem(r, 422, field="slug", stack=stack)


@pytest.mark.parametrize("length", [2, 41])
def test_create_org_slug_length_bounds_ok(http, owner, length):
    if length == 2:
        # two characters: a random pair, retried on the rare collision with an earlier run
        for _ in range(20):
            slug = uuid.uuid4().hex[:2]
            r = create_org_raw(http, owner["token"], slug=slug, name="Short")
            if r.status_code != 409:
                break
    else:
        slug = ("l" + uuid.uuid4().hex + uuid.uuid4().hex)[:length]
        r = create_org_raw(http, owner["token"], slug=slug, name="Long")
    assert r.status_code == 201, describe(r)
    assert r.json()["org"]["slug"] == slug


def test_create_org_leading_digit_and_inner_underscore_ok(http, owner):
    slug = "9_" + uuid.uuid4().hex[:10]
    assert create_org(http, owner["token"], slug=slug)["slug"] == slug


def test_create_org_duplicate_slug_409(http, stack, owner):
    o = create_org(http, owner["token"])
    other = new_member(http)
    for tok in (owner["token"], other["token"]):
        r = create_org_raw(http, tok, slug=o["slug"], name="Again")
        assert_problem(r, 409, slug="slug-taken", stack=stack)
    # the refused attempt made nobody a member
    assert list(members(http, owner["token"], o["slug"])) == [owner["id"]]


@pytest.mark.parametrize("plan", ["enterprise", "Free", "", 1])
def test_create_org_bad_plan_422(http, stack, owner, plan):
    r = http.post(ORGS, json={"name": "P", "slug": unique_slug(), "plan": plan},
                  headers=bearer(owner["token"]))
    assert_problem(r, 422, field="plan", stack=stack)


@pytest.mark.parametrize("region", ["mars", "EU", "", 7])
def test_create_org_bad_region_422(http, stack, owner, region):
    r = http.post(ORGS, json={"name": "R", "slug": unique_slug(), "region": region},
                  headers=bearer(owner["token"]))
    assert_problem(r, 422, field="region", stack=stack)


@pytest.mark.parametrize("name", [None, "", 5])
def test_create_org_bad_name_422(http, stack, owner, name):
    body = {"slug": unique_slug()}
    if name is not None:
        body["name"] = name
    r = http.post(ORGS, json=body, headers=bearer(owner["token"]))
    assert_problem(r, 422, field="name", stack=stack)


def test_create_org_needs_a_signed_in_user(http, stack):
    r = http.post(ORGS, json={"name": "N", "slug": unique_slug()})
    assert_problem(r, 401, slug="unauthenticated", stack=stack)


def test_patch_org_name_audited(http, stack, owner, org):
    r = http.patch(org_url(org["slug"]), json={"name": "Renamed Ltd"}, headers=bearer(owner["token"]))
    assert r.status_code == 200, describe(r)
    assert get_org(http, owner["token"], org["slug"]).json()["org"]["name"] == "Renamed Ltd"
    got = by_request(org_audit(http, bearer(owner["token"]), org["slug"], action="org.update"), r)
    assert len(got) == 1, got
    r = http.patch(org_url(org["slug"]), json={"name": ""}, headers=bearer(owner["token"]))
    assert_problem(r, 422, field="name", stack=stack)


# ==================================================================== membership

def test_removed_member_loses_access_at_once(http, stack, owner, org):
    v = add_member(http, owner["token"], org["slug"], "viewer")
    assert get_org(http, v["token"], org["slug"]).status_code == 200
    r = http.delete(org_url(org["slug"], "members", v["id"]), headers=bearer(owner["token"]))
    assert r.status_code == 204, describe(r)
    gone = r
    # the same access token, the next request
    assert_problem(get_org(http, v["token"], org["slug"]), 404, slug="not-found", stack=stack)
    assert_problem(http.get(org_url(org["slug"], "members"), headers=bearer(v["token"])), 404,
                   slug="not-found")
    r = http.get(ORGS, headers=bearer(v["token"]))
    assert org["slug"] not in [o["slug"] for o in r.json()["orgs"]], r.json()
    removed = by_request(org_audit(http, bearer(owner["token"]), org["slug"],
                                   action="member.remove"), gone)
    assert len(removed) == 1 and str(v["id"]) in removed[0]["target"], removed
    # once more: no longer a member
    r = http.delete(org_url(org["slug"], "members", v["id"]), headers=bearer(owner["token"]))
    assert_problem(r, 404, slug="member-not-found")


def test_demotion_applies_to_the_next_request(http, stack, owner, org):
    a = add_member(http, owner["token"], org["slug"], "admin")
    assert http.get(org_url(org["slug"], "settings"), headers=bearer(a["token"])).status_code == 200
    r = set_role(http, owner["token"], org["slug"], a["id"], "viewer")
    assert r.status_code in (200, 204), describe(r)
    assert_problem(http.get(org_url(org["slug"], "settings"), headers=bearer(a["token"])), 403,
                   slug="forbidden", stack=stack)
    assert get_org(http, a["token"], org["slug"]).json()["org"]["role"] == "viewer"


def test_role_change_audited_with_before_and_after(http, owner, org):
    v = add_member(http, owner["token"], org["slug"], "viewer")
    r = set_role(http, owner["token"], org["slug"], v["id"], "analyst")
    assert r.status_code in (200, 204), describe(r)
    assert members(http, owner["token"], org["slug"])[v["id"]]["role"] == "analyst"
    got = by_request(org_audit(http, bearer(owner["token"]), org["slug"],
                               action="member.role_change"), r)
    assert len(got) == 1, got
    e = got[0]
    assert mentions(e["before"], "viewer") and mentions(e["after"], "analyst"), e
    assert str(v["id"]) in e["target"], e
    assert str(e["actor_id"]) == str(owner["id"]) and e["actor_type"] == "user", e


def test_unknown_member_404(http, stack, owner, org):
    r = set_role(http, owner["token"], org["slug"], MISSING_ID, "viewer")
    assert_problem(r, 404, slug="member-not-found", stack=stack)
    r = http.delete(org_url(org["slug"], "members", MISSING_ID), headers=bearer(owner["token"]))
    assert_problem(r, 404, slug="member-not-found", stack=stack)
    # a real user who is not a member is not a member either
    stranger = new_user(http)
    r = set_role(http, owner["token"], org["slug"], stranger["id"], "viewer")
    assert_problem(r, 404, slug="member-not-found", stack=stack)


@pytest.mark.parametrize("role", ["superadmin", "", "Owner", None, 3])
def test_bad_role_value_422(http, stack, owner, org, role):
    v = add_member(http, owner["token"], org["slug"], "viewer")
    r = http.patch(org_url(org["slug"], "members", v["id"]), json={"role": role},
                   headers=bearer(owner["token"]))
    assert_problem(r, 422, field="role", stack=stack)


def test_only_an_owner_grants_or_touches_owner(http, stack, owner, org):
    a = add_member(http, owner["token"], org["slug"], "admin")
    v = add_member(http, owner["token"], org["slug"], "viewer")
    # an admin may not grant owner ...
    assert_problem(set_role(http, a["token"], org["slug"], v["id"], "owner"), 403,
                   slug="forbidden", stack=stack)
    # ... nor change an owner's role, nor remove an owner
    assert_problem(set_role(http, a["token"], org["slug"], owner["id"], "viewer"), 403,
                   slug="forbidden")
    assert_problem(http.delete(org_url(org["slug"], "members", owner["id"]),
                               headers=bearer(a["token"])), 403, slug="forbidden")
    # ... nor invite an owner
    assert_problem(invite(http, a["token"], org["slug"], "x-%s@example.test" % uuid.uuid4().hex,
                          "owner", expect=None), 403, slug="forbidden")
    m = members(http, owner["token"], org["slug"])
    assert (m[owner["id"]]["role"], m[v["id"]]["role"]) == ("owner", "viewer"), m
    # an admin may manage up to admin
    r = set_role(http, a["token"], org["slug"], v["id"], "admin")
    assert r.status_code in (200, 204), describe(r)
    r = set_role(http, a["token"], org["slug"], v["id"], "analyst")
    assert r.status_code in (200, 204), describe(r)
    # the owner grants owner; the new owner may then demote the first one
    r = set_role(http, owner["token"], org["slug"], a["id"], "owner")
    assert r.status_code in (200, 204), describe(r)
    r = set_role(http, a["token"], org["slug"], owner["id"], "admin")
    assert r.status_code in (200, 204), describe(r)
    # now the demoted first owner (admin) cannot touch the new owner
    assert_problem(set_role(http, owner["token"], org["slug"], a["id"], "admin"), 403,
                   slug="forbidden")


def test_admin_may_invite_up_to_admin(http, stack, owner, org):
    a = add_member(http, owner["token"], org["slug"], "admin")
    u = new_member(http)
    inv = invite(http, a["token"], org["slug"], u["email"], "admin")
    assert accept(http, u["token"], inv["token"]).status_code == 200
    assert members(http, owner["token"], org["slug"])[u["id"]]["role"] == "admin"


def test_last_owner_cannot_leave_be_demoted_or_removed(http, stack, owner, org):
    slug = org["slug"]
    r = http.delete(org_url(slug, "membership"), headers=bearer(owner["token"]))
    assert_problem(r, 409, slug="last-owner", stack=stack)
    assert_problem(set_role(http, owner["token"], slug, owner["id"], "admin"), 409,
                   slug="last-owner")
    assert_problem(http.delete(org_url(slug, "members", owner["id"]),
                               headers=bearer(owner["token"])), 409, slug="last-owner")
    assert members(http, owner["token"], slug)[owner["id"]]["role"] == "owner"
    # with a second owner the first may leave, and then the second is the last
    o2 = add_member(http, owner["token"], slug, "owner")
    r = http.delete(org_url(slug, "membership"), headers=bearer(owner["token"]))
    assert r.status_code == 204, describe(r)
    assert_problem(get_org(http, owner["token"], slug), 404, slug="not-found")
    assert_problem(http.delete(org_url(slug, "membership"), headers=bearer(o2["token"])), 409,
                   slug="last-owner")
    got = org_audit(http, bearer(o2["token"]), slug, action="member.leave")
    assert [str(e["actor_id"]) for e in got] == [str(owner["id"])], got


def test_an_owner_removes_another_owner(http, owner, org):
    o2 = add_member(http, owner["token"], org["slug"], "owner")
    r = http.delete(org_url(org["slug"], "members", o2["id"]), headers=bearer(owner["token"]))
    assert r.status_code == 204, describe(r)
    assert o2["id"] not in members(http, owner["token"], org["slug"])


def test_member_leaves(http, owner, org):
    v = add_member(http, owner["token"], org["slug"], "viewer")
    r = http.delete(org_url(org["slug"], "membership"), headers=bearer(v["token"]))
    assert r.status_code == 204, describe(r)
    assert v["id"] not in members(http, owner["token"], org["slug"])
    assert get_org(http, v["token"], org["slug"]).status_code == 404


# ==================================================================== invitations

def test_invitation_create_list_accept(http, stack, owner, org):
    u = new_member(http)
    r = http.post(org_url(org["slug"], "invitations"), json={"email": u["email"], "role": "analyst"},
                  headers=bearer(owner["token"]))
    assert r.status_code == 201, describe(r)
    body = r.json()
    inv, token = body["invitation"], body["token"]
    assert isinstance(token, str) and len(token) >= 20, body
    assert {"id", "email", "role", "expires_at"} <= set(inv), inv
    assert (inv["email"].lower(), inv["role"]) == (u["email"].lower(), "analyst"), inv
    left = parse_time(inv["expires_at"]) - now_utc()
    assert timedelta(days=6, hours=23) < left <= timedelta(days=7, minutes=5), inv
    # listed, without the token
    r = http.get(org_url(org["slug"], "invitations"), headers=bearer(owner["token"]))
    assert r.status_code == 200, describe(r)
    assert token not in r.text, "the invitation token is shown again in the list"
    listed = [i for i in r.json()["invitations"] if i["id"] == inv["id"]]
    assert len(listed) == 1, r.json()
    # accepted: member with the invited role
    r = accept(http, u["token"], token)
    assert r.status_code == 200, describe(r)
    assert r.json()["org"]["slug"] == org["slug"], describe(r)
    assert members(http, owner["token"], org["slug"])[u["id"]]["role"] == "analyst"
    assert get_org(http, u["token"], org["slug"]).json()["org"]["role"] == "analyst"
    got = by_request(org_audit(http, bearer(owner["token"]), org["slug"], action="member.join"), r)
    assert len(got) == 1 and str(got[0]["actor_id"]) == str(u["id"]), got
    # single use
    assert_problem(accept(http, u["token"], token), 404, slug="invitation-not-found", stack=stack)


def test_invitation_email_matches_case_insensitively(http, owner, org):
    u = new_member(http)
    inv = invite(http, owner["token"], org["slug"], u["email"].upper(), "viewer")
    r = accept(http, u["token"], inv["token"])
    assert r.status_code == 200, describe(r)
    assert members(http, owner["token"], org["slug"])[u["id"]]["role"] == "viewer"


def test_invitation_for_another_email_404(http, stack, owner, org):
    invited, intruder = new_member(http), new_member(http)
    inv = invite(http, owner["token"], org["slug"], invited["email"], "admin")
    assert_problem(accept(http, intruder["token"], inv["token"]), 404, slug="invitation-not-found",
                   stack=stack)
    assert intruder["id"] not in members(http, owner["token"], org["slug"])
    # still good for the invited person
    assert accept(http, invited["token"], inv["token"]).status_code == 200


def test_invitation_revoked_404(http, stack, owner, org):
    u = new_member(http)
    inv = invite(http, owner["token"], org["slug"], u["email"], "viewer")
    r = http.delete(org_url(org["slug"], "invitations", inv["invitation"]["id"]),
                    headers=bearer(owner["token"]))
    assert r.status_code == 204, describe(r)
    assert_problem(accept(http, u["token"], inv["token"]), 404, slug="invitation-not-found",
                   stack=stack)
    assert u["id"] not in members(http, owner["token"], org["slug"])
    got = by_request(org_audit(http, bearer(owner["token"]), org["slug"],
                               action="invitation.revoke"), r)
    assert len(got) == 1, got


def test_invitation_expired_404(http, stack, owner, org):
    u = new_member(http)
    inv = invite(http, owner["token"], org["slug"], u["email"], "viewer")
    psql(stack, "UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE id = %d"
         % int(inv["invitation"]["id"]))
    assert_problem(accept(http, u["token"], inv["token"]), 404, slug="invitation-not-found")


@pytest.mark.parametrize("token", ["nonsense", "", "a" * 43, "x" * 5000],
                         ids=["word", "empty", "43-chars", "5000-chars"])
def test_invitation_unknown_token_404(http, stack, owner, token):
    r = accept(http, owner["token"], token)
    if token in ("", "x" * 5000) and r.status_code == 422:
        # no token at all / far too long to be one: a field error is fine too
        assert_problem(r, 422, slug="invalid-field", field="token", stack=stack)
        return
    assert_problem(r, 404, slug="invitation-not-found", stack=stack)


def test_revoke_unknown_invitation_404(http, stack, owner, org):
    r = http.delete(org_url(org["slug"], "invitations", MISSING_ID), headers=bearer(owner["token"]))
    assert_problem(r, 404, slug="invitation-not-found", stack=stack)
    # another org's invitation is unknown here
    other = create_org(http, owner["token"])
    inv = invite(http, owner["token"], other["slug"], "y-%s@example.test" % uuid.uuid4().hex, "viewer")
    r = http.delete(org_url(org["slug"], "invitations", inv["invitation"]["id"]),
                    headers=bearer(owner["token"]))
    assert_problem(r, 404, slug="invitation-not-found")


@pytest.mark.parametrize("body,field", [
    ({"email": "not-an-email", "role": "viewer"}, "email"),
    ({"role": "viewer"}, "email"),
    ({"email": "a@example.test", "role": "boss"}, "role"),
    ({"email": "a@example.test"}, "role"),
])
def test_invitation_bad_input_422(http, stack, owner, org, body, field):
    r = http.post(org_url(org["slug"], "invitations"), json=body, headers=bearer(owner["token"]))
    assert_problem(r, 422, slug="invalid-field", field=field, stack=stack)


def test_invitation_create_audited(http, owner, org):
    email = "inv-%s@example.test" % uuid.uuid4().hex
    r = invite(http, owner["token"], org["slug"], email, "analyst", expect=None)
    assert r.status_code == 201, describe(r)
    got = by_request(org_audit(http, bearer(owner["token"]), org["slug"],
                               action="invitation.create"), r)
    assert len(got) == 1, got
    assert r.json()["token"] not in json.dumps(got), "the invitation token is in the audit log"


def test_accept_needs_a_user_not_an_api_key(http, stack, owner, org):
    _, key = create_api_key(http, owner["token"], org["slug"], role="admin")
    r = http.post(ACCEPT, json={"token": "whatever"}, headers=bearer(key))
    assert_problem(r, 403, slug="api-key-not-allowed", stack=stack)


# ==================================================================== cross-org isolation

def test_other_orgs_routes_look_like_no_org_at_all(http, stack, owner, org):
    """Every org route of org B, called by a member (owner) of org A, by an
    API key of A or by the platform superuser, answers exactly what it answers
    for a slug that does not exist (request id aside)."""
    b_owner = new_member(http)
    b = create_org(http, b_owner["token"], plan="growth")
    b_ws = default_workspace(http, b_owner["token"], b["slug"])["id"]
    b_inv = invite(http, b_owner["token"], b["slug"], "b-%s@example.test" % uuid.uuid4().hex,
                   "viewer")["invitation"]["id"]
    b_key, _ = create_api_key(http, b_owner["token"], b["slug"], role="viewer")
    _, a_key = create_api_key(http, owner["token"], org["slug"], role="admin")
    ghost = unique_slug("ghost")
    callers = [("A's owner", bearer(owner["token"])), ("A's API key", bearer(a_key))]
    try:
        callers.append(("the platform superuser", bearer(superuser(http, stack)["token"])))
    except pytest.skip.Exception:
        pass
    mismatches, checked = [], 0
    for row in route_table(stack):
        if row.get("scope") != "org":
            continue
        method = str(row["method"]).upper()
        pat = row["pattern"]
        sub = b_inv if "/invitations/" in pat else b_key["id"]
        values = {"ws": b_ws, "user": b_owner["id"], "id": sub}
        kw = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        for who, h in callers:
            rb = http.request(method, fill(pat, org=b["slug"], **values), headers=h, **kw)
            rg = http.request(method, fill(pat, org=ghost, **values), headers=h, **kw)
            checked += 1
            if method == "HEAD":
                same = rb.status_code == rg.status_code == 404
            else:
                same = (rb.status_code == rg.status_code == 404 and
                        media_type(rb) == media_type(rg) == "application/problem+json" and
                        problem_shape(rb) == problem_shape(rg))
            if not same:
                mismatches.append("%s as %s: org B -> %d %r; no such org -> %d %r"
                                  % (route_id(row), who, rb.status_code, rb.text[:200],
                                     rg.status_code, rg.text[:200]))
    assert checked, "no org route in the route table"
    assert not mismatches, "\n".join(mismatches)
    # and nothing of B changed
    assert list(members(http, b_owner["token"], b["slug"])) == [b_owner["id"]]


def test_workspace_of_another_org_is_not_found(http, stack, owner, org):
    other = create_org(http, owner["token"], plan="growth")
    foreign = default_workspace(http, owner["token"], other["slug"])["id"]
    for rest in ("", "/ip-allowlist"):
        r = http.get(org_url(org["slug"], "workspaces", str(foreign) + rest),
                     headers=bearer(owner["token"]))
        missing = http.get(org_url(org["slug"], "workspaces", str(MISSING_ID) + rest),
                           headers=bearer(owner["token"]))
        assert_problem(r, 404, slug="not-found", stack=stack)
        assert problem_shape(r) == problem_shape(missing), describe(r) + describe(missing)


@pytest.mark.parametrize("ws", ["abc", "0", "-1", "1.5", "99999999999999999999999"])
def test_bad_workspace_id_404(http, stack, owner, org, ws):
    r = http.get(org_url(org["slug"], "workspaces", ws), headers=bearer(owner["token"]))
    assert_problem(r, 404, slug="not-found", stack=stack)


# ==================================================================== workspaces

def test_workspace_crud(http, stack, owner, org):
    slug, h = org["slug"], bearer(owner["token"])
    name = "Marketing " + uuid.uuid4().hex[:6]
    r = http.post(org_url(slug, "workspaces"), json={"name": name}, headers=h)
    assert r.status_code == 201, describe(r)
    ws = workspace_of(r.json())
    assert ws["name"] == name and isinstance(ws["id"], int), ws
    parse_time(ws["created_at"])
    created = r
    r = http.get(org_url(slug, "workspaces", ws["id"]), headers=h)
    assert r.status_code == 200, describe(r)
    assert workspace_of(r.json())["name"] == name
    assert name in [w["name"] for w in workspaces(http, owner["token"], slug)]
    r = http.patch(org_url(slug, "workspaces", ws["id"]), json={"name": name + " 2"}, headers=h)
    assert r.status_code == 200, describe(r)
    updated = r
    assert workspace_of(http.get(org_url(slug, "workspaces", ws["id"]), headers=h).json())["name"] \
        == name + " 2"
    r = http.delete(org_url(slug, "workspaces", ws["id"]), headers=h)
    assert r.status_code == 204, describe(r)
    deleted = r
    assert_problem(http.get(org_url(slug, "workspaces", ws["id"]), headers=h), 404,
                   slug="not-found", stack=stack)
    assert ws["id"] not in [w["id"] for w in workspaces(http, owner["token"], slug)]
    log = org_audit(http, h, slug, action="workspace.")
    for resp, action in ((created, "workspace.create"), (updated, "workspace.update"),
                         (deleted, "workspace.delete")):
        got = by_request(log, resp)
        assert [e["action"] for e in got] == [action], (action, got)


def test_workspace_duplicate_name_409(http, stack, owner, org):
    slug, h = org["slug"], bearer(owner["token"])
    a = create_workspace(http, owner["token"], slug, "dup-" + uuid.uuid4().hex[:8])
    r = http.post(org_url(slug, "workspaces"), json={"name": a["name"]}, headers=h)
    assert_problem(r, 409, slug="workspace-exists", stack=stack)
    r = http.post(org_url(slug, "workspaces"), json={"name": "default"}, headers=h)
    assert_problem(r, 409, slug="workspace-exists")
    b = create_workspace(http, owner["token"], slug)
    r = http.patch(org_url(slug, "workspaces", b["id"]), json={"name": a["name"]}, headers=h)
    assert_problem(r, 409, slug="workspace-exists")
    # the same name in another org is fine
    other = create_org(http, owner["token"], plan="growth")
    create_workspace(http, owner["token"], other["slug"], a["name"])


@pytest.mark.parametrize("name,ok", [("", False), ("x" * 101, False), (None, False), (7, False),
                                     ("x" * 100, True), ("y", True)])
def test_workspace_name_bounds(http, stack, owner, org, name, ok):
    body = {} if name is None else {"name": name}
    r = http.post(org_url(org["slug"], "workspaces"), json=body, headers=bearer(owner["token"]))
    if ok:
        assert r.status_code == 201, describe(r)
    else:
        assert_problem(r, 422, slug="invalid-field", field="name", stack=stack)


@pytest.mark.parametrize("n,ok", [(100, True), (101, False)])
def test_workspace_name_counts_characters_not_bytes(http, stack, owner, org, n, ok):
    """1-100 characters: 100 two-byte characters are a valid name."""
    r = http.post(org_url(org["slug"], "workspaces"), json={"name": "\u00e9" * n},
                  headers=bearer(owner["token"]))
    if ok:
        assert r.status_code == 201, describe(r)
        assert workspace_of(r.json())["name"] == "\u00e9" * n
    else:
        assert_problem(r, 422, slug="invalid-field", field="name", stack=stack)


def test_workspace_write_needs_growth_plan(http, stack, owner):
    free = create_org(http, owner["token"], plan="free")
    r = http.post(org_url(free["slug"], "workspaces"), json={"name": "x"},
                  headers=bearer(owner["token"]))
    assert_problem(r, 402, slug="plan-required", stack=stack)
    # reading is free
    assert len(workspaces(http, owner["token"], free["slug"])) == 1


# ==================================================================== cookies

def test_cookie_session_writes_need_csrf_and_origin(http, stack, owner, org):
    body = login(http, owner)
    ck = login_cookies(body)
    h = {"Cookie": cookie_header(ck)}
    url = org_url(org["slug"])
    assert http.get(url, headers=h).status_code == 200
    r = http.patch(url, json={"name": "Cookie Co"}, headers=h)
    assert_problem(r, 403, slug="csrf-failed", stack=stack)
    r = http.patch(url, json={"name": "Cookie Co"},
                   headers=dict(h, Origin=ORIGIN, **{"X-CSRF-Token": ck[COOKIE_CSRF]}))
    assert r.status_code == 200, describe(r)
    assert get_org(http, owner["token"], org["slug"]).json()["org"]["name"] == "Cookie Co"


# ==================================================================== settings

def test_settings_defaults(http, owner, org):
    s = org_settings(http, owner["token"], org["slug"])
    assert s["api_key_max_age_days"] == 90 and s["api_key_rotation_grace_seconds"] == 86400, s


def test_settings_change_audited_with_before_and_after(http, owner, org):
    h = bearer(owner["token"])
    r = patch_org_settings(http, owner["token"], org["slug"], api_key_max_age_days=30,
                           api_key_rotation_grace_seconds=3600)
    assert r.status_code == 200, describe(r)
    assert r.json()["settings"] == {"api_key_max_age_days": 30,
                                    "api_key_rotation_grace_seconds": 3600,
                                    "pii_encryption": 0, "require_mfa": 0}, describe(r)
    assert org_settings(http, owner["token"], org["slug"]) == r.json()["settings"]
    got = by_request(org_audit(http, h, org["slug"], action="settings.update"), r)
    assert len(got) == 1, got
    e = got[0]
    assert e["before"]["api_key_max_age_days"] == 90 and e["after"]["api_key_max_age_days"] == 30, e
    assert e["before"]["api_key_rotation_grace_seconds"] == 86400, e
    assert e["after"]["api_key_rotation_grace_seconds"] == 3600, e
    # a partial change keeps the other value
    r = patch_org_settings(http, owner["token"], org["slug"], api_key_max_age_days=31)
    assert r.status_code == 200, describe(r)
    assert org_settings(http, owner["token"], org["slug"]) == {
        "api_key_max_age_days": 31, "api_key_rotation_grace_seconds": 3600,
        "pii_encryption": 0, "require_mfa": 0}


@pytest.mark.parametrize("field,value,ok", [
    ("api_key_max_age_days", 0, False), ("api_key_max_age_days", 1, True),
    ("api_key_max_age_days", 3650, True), ("api_key_max_age_days", 3651, False),
    ("api_key_max_age_days", "30", False), ("api_key_max_age_days", True, False),
    ("api_key_max_age_days", 1.5, False),
    ("api_key_rotation_grace_seconds", -1, False), ("api_key_rotation_grace_seconds", 0, True),
    ("api_key_rotation_grace_seconds", 604800, True),
    ("api_key_rotation_grace_seconds", 604801, False),
    ("api_key_rotation_grace_seconds", "1", False),
])
def test_settings_validation(http, stack, owner, org, field, value, ok):
    before = org_settings(http, owner["token"], org["slug"])
    r = http.patch(org_url(org["slug"], "settings"), json={field: value},
                   headers=bearer(owner["token"]))
    if ok:
        assert r.status_code == 200, describe(r)
        assert org_settings(http, owner["token"], org["slug"])[field] == value
    else:
        assert_problem(r, 422, slug="invalid-field", field=field, stack=stack)
        assert org_settings(http, owner["token"], org["slug"]) == before


def test_refused_settings_change_writes_no_entry(http, owner, org):
    h = bearer(owner["token"])
    before = len(org_audit(http, h, org["slug"], action="settings.update"))
    r = patch_org_settings(http, owner["token"], org["slug"], api_key_max_age_days=0)
    assert r.status_code == 422, describe(r)
    assert len(org_audit(http, h, org["slug"], action="settings.update")) == before
