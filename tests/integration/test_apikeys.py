"""API keys (create, use, role cap, workspace scope, expiry, revoke, rotate
with grace, rotation_due, last_used_at) and workspace IP allowlists with the
client-address rule (docs/api.md)."""

import json
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from apxtest import assert_problem, describe
from authhelp import bearer, log_files
from orghelp import (ALLOWED_ADDR, ALLOWED_NET, API_KEY_FIELDS, KEY_RE, MISSING_ID,
                     ORG_SECRETS, OUTSIDE_ADDR, add_member, by_request, cookies_off,
                     cookies_restore, create_api_key, create_api_key_raw, create_org,
                     create_workspace, default_workspace, from_addr, keep_secret, new_member, now_utc,
                     org_audit, org_url, parse_time, patch_org_settings, psql, rfc3339,
                     set_allowlist, set_role)


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


@pytest.fixture
def owner(http):
    return new_member(http, "Key Owner")


@pytest.fixture
def org(http, owner):
    return create_org(http, owner["token"], plan="growth")


def keys_list(http, token, slug):
    r = http.get(org_url(slug, "api-keys"), headers=bearer(token))
    assert r.status_code == 200, describe(r)
    return r


def key_get(http, token, slug, key_id):
    r = http.get(org_url(slug, "api-keys", key_id), headers=bearer(token))
    assert r.status_code == 200, describe(r)
    return r.json()["api_key"]


def listed(http, token, slug, key_id):
    got = [k for k in keys_list(http, token, slug).json()["api_keys"] if k["id"] == key_id]
    assert len(got) == 1, "key %s listed %d times" % (key_id, len(got))
    return got[0]


def use(http, key, slug, *rest, headers=None):
    """GET an org route with the key."""
    h = bearer(key)
    h.update(headers or {})
    return http.get(org_url(slug, *rest), headers=h)


def secret_part(key):
    return key.rsplit("_", 1)[1]


# ==================================================================== create and use

def test_create_shows_the_key_once(http, owner, org):
    r = create_api_key_raw(http, owner["token"], org["slug"], role="analyst", name="ci pipeline")
    assert r.status_code == 201, describe(r)
    body = r.json()
    key, ak = body["key"], body["api_key"]
    assert re.fullmatch(KEY_RE, key), "key %r is not apx_<12 base32>_<52 base32>" % key
    assert API_KEY_FIELDS <= set(ak), "api_key lacks %r" % (API_KEY_FIELDS - set(ak))
    assert ak["prefix"] == key.split("_")[1], ak
    assert (ak["name"], ak["role"], ak["workspace_id"]) == ("ci pipeline", "analyst", None), ak
    assert str(ak["created_by"]) == str(owner["id"]), ak
    assert ak["revoked_at"] is None and ak["last_used_at"] is None and ak["rotated_at"] is None, ak
    assert ak["expires_at"] is None and ak["previous_valid_until"] is None, ak
    assert ak["rotation_due"] is False, ak
    assert abs((parse_time(ak["created_at"]) - now_utc()).total_seconds()) < 120, ak
    # never again: not in the list, not in the single GET
    lst = keys_list(http, owner["token"], org["slug"])
    one = http.get(org_url(org["slug"], "api-keys", ak["id"]), headers=bearer(owner["token"]))
    assert one.status_code == 200, describe(one)
    for resp in (lst, one):
        assert secret_part(key) not in resp.text, "the key's secret is shown again%s" % describe(resp)
        assert '"key"' not in resp.text, describe(resp)
    assert listed(http, owner["token"], org["slug"], ak["id"])["prefix"] == ak["prefix"]
    # two keys never share a prefix or a secret
    _, key2 = create_api_key(http, owner["token"], org["slug"])
    assert key2.split("_")[1] != key.split("_")[1] and secret_part(key2) != secret_part(key)


def test_key_works_as_bearer(http, owner, org):
    _, key = create_api_key(http, owner["token"], org["slug"], role="viewer")
    r = use(http, key, org["slug"])
    assert r.status_code == 200, describe(r)
    assert r.json()["org"]["slug"] == org["slug"], describe(r)


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/orgs", "/api/v1/me/sessions"])
def test_key_refused_on_user_routes(http, stack, owner, org, path):
    _, key = create_api_key(http, owner["token"], org["slug"], role="admin")
    assert_problem(http.get(path, headers=bearer(key)), 403, slug="api-key-not-allowed", stack=stack)


def test_key_refused_on_user_only_org_routes(http, stack, owner, org):
    _, key = create_api_key(http, owner["token"], org["slug"], role="admin")
    for rest in (("api-keys",), ("invitations",)):
        assert_problem(use(http, key, org["slug"], *rest), 403, slug="api-key-not-allowed",
                       stack=stack)


def test_role_cap_is_enforced(http, stack, owner, org):
    slug = org["slug"]
    _, viewer = create_api_key(http, owner["token"], slug, role="viewer")
    _, analyst = create_api_key(http, owner["token"], slug, role="analyst")
    _, admin = create_api_key(http, owner["token"], slug, role="admin")
    assert use(http, viewer, slug, "members").status_code == 200
    r = http.patch(org_url(slug), json={"name": "By Viewer Key"}, headers=bearer(viewer))
    assert_problem(r, 403, slug="forbidden", stack=stack)
    assert_problem(use(http, analyst, slug, "settings"), 403, slug="forbidden")
    assert_problem(use(http, analyst, slug, "audit-log"), 403, slug="forbidden")
    assert use(http, admin, slug, "settings").status_code == 200
    assert use(http, admin, slug, "audit-log").status_code == 200
    r = http.patch(org_url(slug), json={"name": "By Admin Key"}, headers=bearer(admin))
    assert r.status_code == 200, describe(r)


@pytest.mark.parametrize("role", ["owner", "boss", "", None, 1])
def test_bad_key_role_422(http, stack, owner, org, role):
    body = {"name": "k"}
    if role is not None:
        body["role"] = role
    r = http.post(org_url(org["slug"], "api-keys"), json=body, headers=bearer(owner["token"]))
    assert_problem(r, 422, slug="invalid-field", field="role", stack=stack)


def test_key_role_not_above_creator(http, stack, owner, org):
    """Only admins and owners create keys and the highest cap is admin, so an
    admin asking for more than admin (owner) is refused, and admin is fine."""
    a = add_member(http, owner["token"], org["slug"], "admin")
    r = create_api_key_raw(http, a["token"], org["slug"], role="owner")
    assert r.status_code in (403, 422), describe(r)
    assert_problem(r, r.status_code, slug="forbidden" if r.status_code == 403 else "invalid-field")
    r = create_api_key_raw(http, a["token"], org["slug"], role="admin")
    assert r.status_code == 201, describe(r)
    # an analyst cannot make keys at all
    an = add_member(http, owner["token"], org["slug"], "analyst")
    assert_problem(create_api_key_raw(http, an["token"], org["slug"], role="viewer"), 403,
                   slug="forbidden", stack=stack)


@pytest.mark.parametrize("name", ["", None, 5])
def test_bad_key_name_422(http, stack, owner, org, name):
    body = {"role": "viewer"}
    if name is not None:
        body["name"] = name
    r = http.post(org_url(org["slug"], "api-keys"), json=body, headers=bearer(owner["token"]))
    assert_problem(r, 422, slug="invalid-field", field="name", stack=stack)


def test_creator_demoted_key_role_drops_at_once(http, stack, owner, org):
    slug = org["slug"]
    a = add_member(http, owner["token"], slug, "admin")
    _, key = create_api_key(http, a["token"], slug, role="admin")
    assert use(http, key, slug, "settings").status_code == 200
    assert set_role(http, owner["token"], slug, a["id"], "analyst").status_code in (200, 204)
    assert_problem(use(http, key, slug, "settings"), 403, slug="forbidden", stack=stack)
    assert use(http, key, slug, "members").status_code == 200
    assert set_role(http, owner["token"], slug, a["id"], "admin").status_code in (200, 204)
    assert use(http, key, slug, "settings").status_code == 200


def test_creator_removed_key_refused(http, stack, owner, org):
    slug = org["slug"]
    a = add_member(http, owner["token"], slug, "admin")
    _, key = create_api_key(http, a["token"], slug, role="viewer")
    assert use(http, key, slug).status_code == 200
    r = http.delete(org_url(slug, "members", a["id"]), headers=bearer(owner["token"]))
    assert r.status_code == 204, describe(r)
    assert_problem(use(http, key, slug), 401, slug="unauthenticated", stack=stack)


def test_workspace_scoped_key(http, stack, owner, org):
    slug = org["slug"]
    w1 = create_workspace(http, owner["token"], slug)["id"]
    w2 = create_workspace(http, owner["token"], slug)["id"]
    ak, key = create_api_key(http, owner["token"], slug, role="admin", workspace_id=w1)
    assert ak["workspace_id"] == w1, ak
    assert use(http, key, slug, "workspaces", w1).status_code == 200
    r = http.patch(org_url(slug, "workspaces", w1), json={"name": "renamed-by-key"},
                   headers=bearer(key))
    assert r.status_code == 200, describe(r)
    for rest in (("workspaces", w2), ("workspaces", w2, "ip-allowlist"), (), ("members",),
                 ("workspaces",), ("settings",), ("audit-log",)):
        assert_problem(use(http, key, slug, *rest), 404, slug="not-found", stack=stack)


# ==================================================================== expiry and revocation

@pytest.mark.parametrize("expires_at", ["2000-01-01T00:00:00Z", "tomorrow", "2030-13-01T00:00:00Z",
                                        "", 1700000000])
def test_bad_expires_at_422(http, stack, owner, org, expires_at):
    r = create_api_key_raw(http, owner["token"], org["slug"], expires_at=expires_at)
    assert_problem(r, 422, slug="invalid-field", field="expires_at", stack=stack)


def test_expires_at_just_past_is_refused(http, stack, owner, org):
    past = rfc3339(now_utc() - timedelta(seconds=30))
    r = create_api_key_raw(http, owner["token"], org["slug"], expires_at=past)
    assert_problem(r, 422, slug="invalid-field", field="expires_at", stack=stack)


@pytest.mark.parametrize("form", ["fraction", "offset", "lowercase"])
def test_expires_at_takes_any_rfc3339_form(http, owner, org, form):
    """docs/api.md says RFC 3339: fractions of a second, numeric offsets and
    lower-case t/z are all part of it."""
    when = (now_utc() + timedelta(days=2)).replace(microsecond=0)
    text = {"fraction": rfc3339(when, frac=True),
            "offset": (when + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
            "lowercase": rfc3339(when).replace("T", "t").replace("Z", "z")}[form]
    r = create_api_key_raw(http, owner["token"], org["slug"], expires_at=text)
    assert r.status_code == 201, describe(r)
    assert abs((parse_time(r.json()["api_key"]["expires_at"]) - when).total_seconds()) < 1.5


def test_key_stops_working_when_it_expires(http, stack, owner, org):
    when = now_utc() + timedelta(days=3)
    ak, key = create_api_key(http, owner["token"], org["slug"], expires_at=rfc3339(when))
    assert abs((parse_time(ak["expires_at"]) - when).total_seconds()) < 1.5, ak
    assert use(http, key, org["slug"]).status_code == 200
    psql(stack, "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = %d"
         % int(ak["id"]))
    assert_problem(use(http, key, org["slug"]), 401, slug="unauthenticated", stack=stack)


def test_revoke_at_once(http, stack, owner, org):
    ak, key = create_api_key(http, owner["token"], org["slug"], role="admin")
    assert use(http, key, org["slug"]).status_code == 200
    r = http.delete(org_url(org["slug"], "api-keys", ak["id"]), headers=bearer(owner["token"]))
    assert r.status_code == 204, describe(r)
    assert_problem(use(http, key, org["slug"]), 401, slug="unauthenticated", stack=stack)
    assert key_get(http, owner["token"], org["slug"], ak["id"])["revoked_at"] is not None
    assert listed(http, owner["token"], org["slug"], ak["id"])["revoked_at"] is not None


@pytest.mark.parametrize("method,rest", [("GET", ()), ("DELETE", ()), ("POST", ("rotate",))])
def test_unknown_key_404(http, stack, owner, org, method, rest):
    r = http.request(method, org_url(org["slug"], "api-keys", MISSING_ID, *rest),
                     headers=bearer(owner["token"]))
    assert_problem(r, 404, slug="api-key-not-found", stack=stack)
    # a key of another org is just as unknown here
    other = create_org(http, owner["token"], plan="growth")
    ak, _ = create_api_key(http, owner["token"], other["slug"])
    r = http.request(method, org_url(org["slug"], "api-keys", ak["id"], *rest),
                     headers=bearer(owner["token"]))
    assert_problem(r, 404, slug="api-key-not-found")
    assert listed(http, owner["token"], other["slug"], ak["id"])["revoked_at"] is None


# ==================================================================== rotation

def rotate(http, token, slug, key_id):
    r = http.post(org_url(slug, "api-keys", key_id, "rotate"), headers=bearer(token))
    assert r.status_code == 200, describe(r)
    body = r.json()
    keep_secret(body.get("key"))
    return r, body["api_key"], body["key"]


def test_rotate_keeps_the_old_secret_during_the_grace(http, stack, owner, org):
    slug = org["slug"]
    ak, old = create_api_key(http, owner["token"], slug, role="analyst", name="rotating")
    before = now_utc()
    _, ak2, new = rotate(http, owner["token"], slug, ak["id"])
    assert re.fullmatch(KEY_RE, new) and new != old, new
    assert secret_part(new) != secret_part(old)
    assert new.split("_")[1] == old.split("_")[1] == ak2["prefix"], (old, new, ak2)
    assert (ak2["id"], ak2["name"], ak2["role"], ak2["workspace_id"]) == \
        (ak["id"], "rotating", "analyst", None), ak2
    assert ak2["rotated_at"] is not None, ak2
    pvu = parse_time(ak2["previous_valid_until"]) - before
    assert timedelta(seconds=86400 - 120) < pvu < timedelta(seconds=86400 + 120), ak2
    assert use(http, new, slug).status_code == 200
    assert use(http, old, slug).status_code == 200
    # the grace ends: the old secret is refused, the new one still works.
    # Ended here behind the app's back (in SQL): the workers' authentication
    # caches learn it from PostgreSQL's NOTIFY, within a second (README
    # "The authentication cache"); a grace that runs out is judged against
    # the clock at each use.
    psql(stack, "UPDATE api_keys SET previous_valid_until = now() - interval '1 second' "
         "WHERE id = %d" % int(ak["id"]))
    deadline = time.monotonic() + 1.5
    r = use(http, old, slug)
    while r.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
        r = use(http, old, slug)
    assert_problem(r, 401, slug="unauthenticated", stack=stack)
    assert use(http, new, slug).status_code == 200


def test_rotate_with_zero_grace_refuses_the_old_secret_at_once(http, stack, owner, org):
    slug = org["slug"]
    r = patch_org_settings(http, owner["token"], slug, api_key_rotation_grace_seconds=0)
    assert r.status_code == 200, describe(r)
    ak, old = create_api_key(http, owner["token"], slug)
    _, ak2, new = rotate(http, owner["token"], slug, ak["id"])
    assert_problem(use(http, old, slug), 401, slug="unauthenticated", stack=stack)
    assert use(http, new, slug).status_code == 200


def test_rotate_twice_only_the_last_two_secrets(http, stack, owner, org):
    slug = org["slug"]
    ak, k1 = create_api_key(http, owner["token"], slug)
    _, _, k2 = rotate(http, owner["token"], slug, ak["id"])
    _, _, k3 = rotate(http, owner["token"], slug, ak["id"])
    assert use(http, k3, slug).status_code == 200
    assert use(http, k2, slug).status_code == 200
    assert_problem(use(http, k1, slug), 401, slug="unauthenticated", stack=stack)


def test_rotate_is_not_for_revoked_keys(http, stack, owner, org):
    ak, key = create_api_key(http, owner["token"], org["slug"])
    assert http.delete(org_url(org["slug"], "api-keys", ak["id"]),
                       headers=bearer(owner["token"])).status_code == 204
    r = http.post(org_url(org["slug"], "api-keys", ak["id"], "rotate"), headers=bearer(owner["token"]))
    assert r.status_code in (404, 409, 422), describe(r)
    assert_problem(use(http, key, org["slug"]), 401, slug="unauthenticated")


def test_rotation_due(http, stack, owner, org):
    slug = org["slug"]
    ak, key = create_api_key(http, owner["token"], slug)
    assert listed(http, owner["token"], slug, ak["id"])["rotation_due"] is False
    psql(stack, "UPDATE api_keys SET created_at = now() - interval '91 days' WHERE id = %d"
         % int(ak["id"]))
    assert listed(http, owner["token"], slug, ak["id"])["rotation_due"] is True
    assert key_get(http, owner["token"], slug, ak["id"])["rotation_due"] is True
    # the org's max age decides
    assert patch_org_settings(http, owner["token"], slug, api_key_max_age_days=100).status_code == 200
    assert listed(http, owner["token"], slug, ak["id"])["rotation_due"] is False
    assert patch_org_settings(http, owner["token"], slug, api_key_max_age_days=90).status_code == 200
    # a rotation makes the secret new ...
    _, ak2, _ = rotate(http, owner["token"], slug, ak["id"])
    assert ak2["rotation_due"] is False, ak2
    assert listed(http, owner["token"], slug, ak["id"])["rotation_due"] is False
    # ... until the rotated secret is old in its turn
    psql(stack, "UPDATE api_keys SET rotated_at = now() - interval '91 days', "
         "previous_valid_until = now() - interval '90 days' WHERE id = %d" % int(ak["id"]))
    assert listed(http, owner["token"], slug, ak["id"])["rotation_due"] is True


def test_last_used_at_set_after_use(http, owner, org):
    ak, key = create_api_key(http, owner["token"], org["slug"])
    assert listed(http, owner["token"], org["slug"], ak["id"])["last_used_at"] is None
    t0 = now_utc()
    assert use(http, key, org["slug"]).status_code == 200
    # written after the answer (the request itself waits for no write)
    got = None
    for _ in range(100):
        got = listed(http, owner["token"], org["slug"], ak["id"])["last_used_at"]
        if got is not None:
            break
        time.sleep(0.05)
    assert got is not None, "last_used_at not set after a request with the key"
    assert abs((parse_time(got) - t0).total_seconds()) < 120, got


def _malformed(key):
    pre, sec = key.split("_")[1], secret_part(key)
    flip = "b" if sec[5] != "b" else "c"
    return [
        ("bare-prefix", "apx_"),
        ("garbage", "apx_" + "!@#$%^&*()" * 3),
        ("short", "apx_abc"),
        ("no-secret", "apx_%s_" % pre),
        ("unknown-prefix", "apx_%s_%s" % ("a" * 12, "a" * 52)),
        ("wrong-secret", "apx_%s_%s" % (pre, "a" * 52)),
        ("one-char-changed", "apx_%s_%s" % (pre, sec[:5] + flip + sec[6:])),
        ("too-long", key + "a"),
        ("truncated", key[:-1]),
        ("uppercased", key.upper()),
        ("other-scheme", "apy_%s_%s" % (pre, sec)),
        ("space-inside", "apx_%s_ %s" % (pre, sec)),
    ]


def test_malformed_and_wrong_keys_401(http, stack, owner, org):
    _, key = create_api_key(http, owner["token"], org["slug"], role="admin")
    bad = []
    for name, k in _malformed(key):
        r = use(http, k, org["slug"])
        if r.status_code != 401:
            bad.append("%s: %d %s" % (name, r.status_code, r.text[:200]))
        else:
            assert_problem(r, 401, slug="unauthenticated", stack=stack, )
    assert not bad, "\n".join(bad)
    assert use(http, key, org["slug"]).status_code == 200


# ==================================================================== IP allowlists

def allowlist(http, token, slug, ws):
    r = http.get(org_url(slug, "workspaces", ws, "ip-allowlist"), headers=bearer(token))
    assert r.status_code == 200, describe(r)
    return r.json()["cidrs"]


def test_allowlist_canonical_form(http, owner, org):
    slug = org["slug"]
    ws = create_workspace(http, owner["token"], slug)["id"]
    assert allowlist(http, owner["token"], slug, ws) == []
    r = set_allowlist(http, owner["token"], slug, ws,
                      ["203.0.113.0/24", "2001:DB8:0:0::/32", "10.1.0.0/16", "2001:0db8:0001::/48",
                       "192.0.2.7/32", "2001:db8:0:0:1:0:0:0/80"])
    want = {"203.0.113.0/24", "2001:db8::/32", "10.1.0.0/16", "2001:db8:1::/48", "192.0.2.7/32",
            "2001:db8:0:0:1::/80"}
    assert set(r.json()["cidrs"]) == want, describe(r)
    assert set(allowlist(http, owner["token"], slug, ws)) == want
    got = by_request(org_audit(http, bearer(owner["token"]), slug, action="ip_allowlist.update"), r)
    assert len(got) == 1, got


@pytest.mark.parametrize("cidrs,want", [
    (["::1/128"], {"::1/128"}),
    (["::/0"], {"::/0"}),
    (["0.0.0.0/0"], {"0.0.0.0/0"}),
    (["2001:db8:0:0:0:0:0:1/128"], {"2001:db8::1/128"}),
])
def test_allowlist_short_and_whole_space_cidrs(http, owner, org, cidrs, want):
    ws = create_workspace(http, owner["token"], org["slug"])["id"]
    r = set_allowlist(http, owner["token"], org["slug"], ws, cidrs)
    assert set(r.json()["cidrs"]) == want, describe(r)
    assert set(allowlist(http, owner["token"], org["slug"], ws)) == want


@pytest.mark.parametrize("cidr", ["203.0.113.1/24", "2001:db8::1/32", "10.0.0.1/8", "::1/64"])
def test_allowlist_host_bits_422(http, stack, owner, org, cidr):
    ws = create_workspace(http, owner["token"], org["slug"])["id"]
    r = set_allowlist(http, owner["token"], org["slug"], ws, ["192.0.2.0/24", cidr], expect=None)
    assert_problem(r, 422, slug="invalid-field", field="cidrs", stack=stack)
    assert allowlist(http, owner["token"], org["slug"], ws) == []


@pytest.mark.parametrize("cidr", ["not-a-cidr", "300.1.2.0/24", "10.0.0.0/33", "2001:db8::/129",
                                  "", "10.0.0.0/-1", "10.0.0.0/", "1.2.3/24", 42])
def test_allowlist_garbage_422(http, stack, owner, org, cidr):
    ws = create_workspace(http, owner["token"], org["slug"])["id"]
    r = set_allowlist(http, owner["token"], org["slug"], ws, [cidr], expect=None)
    assert_problem(r, 422, slug="invalid-field", field="cidrs", stack=stack)


@pytest.mark.parametrize("body", [{}, {"cidrs": "10.0.0.0/8"}, {"cidrs": None}])
def test_allowlist_not_a_list_422(http, stack, owner, org, body):
    ws = create_workspace(http, owner["token"], org["slug"])["id"]
    r = http.request("PUT", org_url(org["slug"], "workspaces", ws, "ip-allowlist"), json=body,
                     headers=bearer(owner["token"]))
    assert_problem(r, 422, field="cidrs", stack=stack)


def test_allowlist_at_most_100(http, stack, owner, org):
    ws = create_workspace(http, owner["token"], org["slug"])["id"]
    hundred = ["10.0.%d.%d/32" % (i // 200, i % 200) for i in range(100)]
    r = set_allowlist(http, owner["token"], org["slug"], ws, hundred)
    assert len(allowlist(http, owner["token"], org["slug"], ws)) == 100, describe(r)
    r = set_allowlist(http, owner["token"], org["slug"], ws, hundred + ["10.9.9.9/32"], expect=None)
    assert_problem(r, 422, slug="invalid-field", field="cidrs", stack=stack)
    assert len(allowlist(http, owner["token"], org["slug"], ws)) == 100


@pytest.fixture
def fenced(http, owner, org):
    """A workspace with the allowlist 203.0.113.0/24 2001:db8::/32 and an
    unscoped viewer key: (slug, ws id, key)."""
    ws = create_workspace(http, owner["token"], org["slug"])["id"]
    set_allowlist(http, owner["token"], org["slug"], ws, [ALLOWED_NET, "2001:db8::/32"])
    _, key = create_api_key(http, owner["token"], org["slug"], role="viewer")
    return org["slug"], ws, key


@pytest.mark.parametrize("xff,ok", [
    (ALLOWED_ADDR, True),
    ("203.0.113.255", True),
    ("2001:db8::5", True),
    (OUTSIDE_ADDR, False),
    ("203.0.114.1", False),
    ("2001:db9::5", False),
    (None, False),                                   # 127.0.0.1 itself
    # right-most entry that is not a trusted proxy
    ("%s, %s" % (ALLOWED_ADDR, OUTSIDE_ADDR), False),
    ("%s, %s" % (OUTSIDE_ADDR, ALLOWED_ADDR), True),
    ("%s, 127.0.0.1" % ALLOWED_ADDR, True),
    ("%s, ::1, 127.0.0.1" % ALLOWED_ADDR, True),
    ("%s, 127.0.0.1" % OUTSIDE_ADDR, False),
])
def test_allowlist_client_address(http, stack, fenced, xff, ok):
    slug, ws, key = fenced
    headers = from_addr(xff) if xff else {}
    for rest in (("workspaces", ws), ("workspaces", ws, "ip-allowlist")):
        r = use(http, key, slug, *rest, headers=headers)
        if rest[-1] == "ip-allowlist":
            # user-only route: refused either way, but the address comes first
            want = "api-key-not-allowed" if ok else "address-not-allowed"
            assert_problem(r, 403, slug=want, stack=stack)
        elif ok:
            assert r.status_code == 200, describe(r)
        else:
            assert_problem(r, 403, slug="address-not-allowed", stack=stack)


@pytest.mark.standalone
def test_forwarded_for_counts_only_from_a_trusted_proxy(http, stack, standalone, fenced):
    """The app driven straight over FastCGI (same config, same database) with a
    REMOTE_ADDR of the test's choosing: X-Forwarded-For is believed only when
    REMOTE_ADDR is one of http.trusted_proxies."""
    import fcgi_client
    slug, ws, key = fenced
    app = standalone(workers=1)

    def get(remote, xff=None):
        headers = {"Authorization": "Bearer " + key}
        if xff:
            headers["X-Forwarded-For"] = xff
        return fcgi_client.request(app.address, "GET", org_url(slug, "workspaces", ws),
                                   headers=headers, extra_params={"REMOTE_ADDR": remote})

    cases = [("198.51.100.9", ALLOWED_ADDR, 403),    # spoof from an untrusted peer
             ("198.51.100.9", None, 403),
             (ALLOWED_ADDR, OUTSIDE_ADDR, 200),      # the peer itself is the client
             ("127.0.0.1", ALLOWED_ADDR, 200),       # a trusted proxy vouches
             ("127.0.0.1", OUTSIDE_ADDR, 403),
             ("::1", "2001:db8::77", 200)]
    bad = []
    for remote, xff, want in cases:
        r = get(remote, xff)
        if r.status != want:
            bad.append("REMOTE_ADDR=%s X-Forwarded-For=%s: want %d, got %r" % (remote, xff, want, r))
        elif want == 403:
            assert r.json().get("type", "").endswith("/address-not-allowed"), r
    assert not bad, "\n".join(bad)


def test_client_address_in_access_log(http, stack, owner, org):
    from test_logs import access_lines, line_fields
    rid = "xff-" + uuid.uuid4().hex
    h = bearer(owner["token"])
    h.update(from_addr("%s, 192.0.2.77" % OUTSIDE_ADDR))
    h["X-Request-Id"] = rid
    assert http.get(org_url(org["slug"]), headers=h).status_code == 200
    lines = access_lines(stack, rid)
    assert len(lines) == 1, lines
    assert line_fields(lines[0]).get("client") == "192.0.2.77", lines[0]


def test_allowlist_only_concerns_api_keys_on_that_workspace(http, stack, owner, fenced):
    slug, ws, key = fenced
    out = from_addr(OUTSIDE_ADDR)
    # the key on routes of no workspace, and on a workspace without a list
    assert use(http, key, slug, headers=out).status_code == 200
    other = default_workspace(http, owner["token"], slug)["id"]
    assert use(http, key, slug, "workspaces", other, headers=out).status_code == 200
    # a signed-in member from outside
    h = bearer(owner["token"])
    h.update(out)
    assert http.get(org_url(slug, "workspaces", ws), headers=h).status_code == 200


def test_allowlist_empty_lifts_the_restriction(http, stack, owner, fenced):
    slug, ws, key = fenced
    out = from_addr(OUTSIDE_ADDR)
    assert_problem(use(http, key, slug, "workspaces", ws, headers=out), 403,
                   slug="address-not-allowed")
    set_allowlist(http, owner["token"], slug, ws, [])
    assert allowlist(http, owner["token"], slug, ws) == []
    assert use(http, key, slug, "workspaces", ws, headers=out).status_code == 200


def test_allowlist_needs_growth_plan(http, stack, owner):
    free = create_org(http, owner["token"], plan="free")
    ws = default_workspace(http, owner["token"], free["slug"])["id"]
    r = set_allowlist(http, owner["token"], free["slug"], ws, [ALLOWED_NET], expect=None)
    assert_problem(r, 402, slug="plan-required", stack=stack)


# ==================================================================== audit and logs

def test_key_lifecycle_audited(http, stack, owner, org):
    slug, h = org["slug"], bearer(owner["token"])
    r = create_api_key_raw(http, owner["token"], slug, role="viewer")
    assert r.status_code == 201, describe(r)
    ak, key = r.json()["api_key"], r.json()["key"]
    r_rot, _, new = rotate(http, owner["token"], slug, ak["id"])
    r_rev = http.delete(org_url(slug, "api-keys", ak["id"]), headers=h)
    assert r_rev.status_code == 204, describe(r_rev)
    log = org_audit(http, h, slug, action="api_key.")
    for resp, action in ((r, "api_key.create"), (r_rot, "api_key.rotate"),
                         (r_rev, "api_key.revoke")):
        got = by_request(log, resp)
        assert [e["action"] for e in got] == [action], (action, got)
        assert got[0]["actor_type"] == "user" and str(got[0]["actor_id"]) == str(owner["id"]), got
        assert str(ak["id"]) in got[0]["target"] or ak["prefix"] in got[0]["target"], got
    text = json.dumps(log)
    for k in (key, new):
        assert secret_part(k) not in text, "a key's secret is in the org audit log"
    rows = psql(stack, "SELECT count(*) FROM audit_log WHERE position('%s' in concat_ws(' ', "
                "target, before::text, after::text, actor_id)) > 0 OR position('%s' in concat_ws("
                "' ', target, before::text, after::text, actor_id)) > 0"
                % (secret_part(key), secret_part(new))).stdout.strip()
    assert rows == "0", "a key's secret is in audit_log"


def test_key_use_is_attributed_to_the_key(http, stack, owner, org):
    _, key = create_api_key(http, owner["token"], org["slug"], role="admin")
    r = http.patch(org_url(org["slug"], "settings"), json={"api_key_max_age_days": 45},
                   headers=bearer(key))
    assert r.status_code == 200, describe(r)
    got = by_request(org_audit(http, bearer(owner["token"]), org["slug"], action="settings.update"), r)
    assert len(got) == 1 and got[0]["actor_type"] == "api_key", got


@pytest.mark.run_last
def test_no_api_key_or_org_token_in_any_log(http, stack):
    time.sleep(1)
    used = [s for s in ORG_SECRETS if len(s) >= 16]
    if not used:
        pytest.skip("no org test ran before this one")
    needles = set(used)
    needles.update(secret_part(k) for k in used if re.fullmatch(KEY_RE, k))
    files = log_files(stack)
    assert Path(stack["ERROR_LOG"]).resolve() in files, files
    leaks = []
    for f in files:
        data = f.read_bytes()
        for s in needles:
            idx = data.find(s.encode())
            if idx >= 0:
                ls = data.rfind(b"\n", 0, idx) + 1
                le = data.find(b"\n", idx)
                line = data[ls:le if le >= 0 else None]
                leaks.append("%s: %s" % (f, line.replace(s.encode(), b"<SECRET>")
                                         .decode(errors="replace")[:300]))
    assert not leaks, "API keys / invitation / impersonation tokens found in logs (%d checked):\n%s" \
        % (len(needles), "\n".join(leaks))
