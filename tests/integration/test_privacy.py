"""Privacy (GDPR; docs/api.md "Privacy"): the org export, data-subject
erasure, whole-org erasure, the account export and account deletion.  The
database state after each flow is checked with SQL on the control plane and
on the org's tenant database (region cluster)."""

import json
import uuid

import pytest

from apxtest import assert_problem, describe, media_type
from authhelp import ME, bearer, login_raw, me
from datahelp import (audit_verify, content_rows, control_json, data_org, enable_pii, forecast,
                      list_uploads, personal_email, personal_name, region_psql, tenant_db,
                      tenant_json, tenant_scalar, to_csv, upload, uploads_url)
from orghelp import (ORGS, admin_cli, by_request, cookies_off, cookies_restore, create_api_key,
                     create_org_raw, create_workspace, invite, new_member, org_audit, org_url,
                     set_role)

EXPORT_FORMAT = "accupredix-privacy-export/1"


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


def export(http, h, slug):
    return http.post(org_url(slug, "privacy", "export"), headers=h)


def erase(http, h, slug, body):
    return http.post(org_url(slug, "privacy", "erasure"), json=body, headers=h)


def rows_of(subjects):
    """CSV rows day,value,email,name for (email, name) pairs."""
    out = [["day", "value", "email", "name"]]
    for i, (m, n) in enumerate(subjects):
        out.append(["d%d" % (i + 1), str(i + 1), m, n])
    return out


def personal_of(rows):
    """The {row, column, value} fields of rows_of() rows (empty cells hold nothing)."""
    out = []
    for i, r in enumerate(rows[1:], 1):
        for col, v in (("email", r[2]), ("name", r[3])):
            if v:
                out.append({"row": i, "column": col, "value": v})
    return out


class Priv:
    """Org P (growth, pii on half-way) and org X (another org, distinctive values)."""


@pytest.fixture(scope="module")
def priv(http, stack):
    p = Priv()
    d = p.d = data_org(http, plan="growth")
    p.admin = d.add(http, "admin")
    p.analyst = d.add(http, "analyst")
    p.viewer = d.add(http, "analyst")
    r = set_role(http, d.owner["token"], d.slug, p.viewer["id"], "viewer")
    assert r.status_code in (200, 204), describe(r)
    p.invited = "invited-%s@example.test" % uuid.uuid4().hex
    invite(http, d.owner["token"], d.slug, p.invited, "viewer")
    p.ws2 = create_workspace(http, d.owner["token"], d.slug)["id"]
    # subjects: S (twice in u1), T, R (no name), Q (only sealed), all distinctive
    p.S = (personal_email("S"), personal_name("S"))
    p.T = (personal_email("T"), personal_name("T"))
    p.R = (personal_email("R"), "")
    p.Q = (personal_email("Q"), personal_name("Q"))
    p.u1_rows = rows_of([p.S, p.T, p.S, p.R])
    p.u1 = upload(http, d.h, d.slug, d.ws, to_csv(p.u1_rows), personal=["email", "name"])
    p.u3_rows = [["email", "value"], [p.S[0], "5"], [p.T[0], "6"]]
    p.u3 = upload(http, d.h, d.slug, p.ws2, to_csv(p.u3_rows), personal=["email"])
    enable_pii(http, d.h, d.slug)
    p.u2_rows = rows_of([p.Q, p.S, p.T])
    p.u2 = upload(http, d.h, d.slug, d.ws, to_csv(p.u2_rows), personal=["email", "name"])
    forecast(http, d.h, d.slug, d.ws, p.u1["id"])
    forecast(http, d.h, d.slug, d.ws, p.u2["id"])
    # another org with its own people and data
    x = p.x = data_org(http, plan="growth", owner=new_member(http, "Xeno %s" % uuid.uuid4().hex[:10]))
    p.x_member = x.add(http, "analyst")
    p.x_invited = "xinv-%s@example.test" % uuid.uuid4().hex
    invite(http, x.owner["token"], x.slug, p.x_invited, "viewer")
    p.x_values = [personal_email("X"), personal_name("X")]
    enable_pii(http, x.h, x.slug)
    p.x_up = upload(http, x.h, x.slug, x.ws, to_csv(rows_of([tuple(p.x_values)])),
                    name="xeno-upload-%s" % uuid.uuid4().hex[:8], personal=["email", "name"])
    p.x_markers = [x.slug, x.org["name"], x.owner["email"], x.owner["name"],
                   p.x_member["email"], p.x_member["name"], p.x_invited, p.x_up["name"]] + \
        p.x_values
    return p


# ==================================================================== org export

def test_export_contents(http, stack, priv):
    d = priv.d
    r = export(http, priv.admin["h"], d.slug)
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json", describe(r)
    assert "attachment" in r.headers.get("Content-Disposition", ""), describe(r)
    assert "no-store" in r.headers.get("Cache-Control", "").lower(), describe(r)
    b = r.json()
    assert b["format"] == EXPORT_FORMAT, b.keys()
    assert b["generated_at"], b
    assert b["org"]["slug"] == d.slug and b["org"]["id"] == d.org["id"], b["org"]
    # every member, with e-mail and name
    people = {u["id"]: u for u in (d.owner, priv.admin, priv.analyst, priv.viewer)}
    got = {m["user_id"]: m for m in b["members"]}
    assert set(got) == set(people), got
    for uid, u in people.items():
        assert (got[uid]["email"], got[uid]["name"]) == (u["email"], u["name"]), got[uid]
        assert got[uid]["joined_at"], got[uid]
    assert got[priv.viewer["id"]]["role"] == "viewer" and got[d.owner["id"]]["role"] == "owner"
    # invitations (the pending one at least)
    inv = [i for i in b["invitations"] if i["email"] == priv.invited]
    assert len(inv) == 1 and inv[0]["role"] == "viewer", b["invitations"]
    # audit entries about members: each member appears as actor or target
    ents = b["audit_entries"]
    for uid in people:
        assert any(str(e.get("actor_id")) == str(uid) or e.get("target") == "user:%d" % uid
                   for e in ents), "no audit entry about member %d in %r" % (uid, ents)
    assert any(e["action"] == "invitation.create" and e["target"] == priv.invited for e in ents)
    assert any(e["action"] == "member.role_change" and e["target"] == "user:%d" % priv.viewer["id"]
               for e in ents), ents
    # every personal field of every upload, sealed ones opened
    ups = {u["id"]: u for u in b["uploads"]}
    assert set(ups) == {priv.u1["id"], priv.u2["id"], priv.u3["id"]}, ups.keys()
    for up, rows in ((priv.u1, priv.u1_rows), (priv.u2, priv.u2_rows)):
        e = ups[up["id"]]
        assert e["personal_columns"] == ["email", "name"], e
        assert e["workspace_id"] == d.ws and e["name"] == up["name"], e
        key = lambda f: (f["row"], f["column"])  # noqa: E731
        assert sorted(e["personal_data"], key=key) == sorted(personal_of(rows), key=key), e
    assert sorted((f["row"], f["value"]) for f in ups[priv.u3["id"]]["personal_data"]) == \
        [(1, priv.S[0]), (2, priv.T[0])], ups[priv.u3["id"]]
    assert ups[priv.u3["id"]]["workspace_id"] == priv.ws2
    # nothing of the other org anywhere
    for marker in priv.x_markers:
        assert marker not in r.text, "the export holds %r of another org" % marker
    # audited
    got = by_request(org_audit(http, d.h, d.slug, action="privacy.export"), r)
    assert len(got) == 1 and str(got[0]["actor_id"]) == str(priv.admin["id"]), got
    for v in priv.S + priv.T:
        if v:
            assert v not in json.dumps(got), got


def test_export_by_owner(http, priv):
    r = export(http, priv.d.h, priv.d.slug)
    assert r.status_code == 200, describe(r)
    assert priv.Q[0] in r.text and priv.Q[1] in r.text


def test_export_other_org_has_only_its_own(http, priv):
    r = export(http, priv.x.h, priv.x.slug)
    assert r.status_code == 200, describe(r)
    for v in (priv.S[0], priv.T[1], priv.Q[0], priv.d.slug, priv.admin["email"], priv.invited):
        assert v not in r.text, v
    assert priv.x_values[0] in r.text


@pytest.mark.parametrize("who", ["analyst", "viewer"])
def test_export_below_admin_403(http, stack, priv, who):
    r = export(http, getattr(priv, who)["h"], priv.d.slug)
    b = assert_problem(r, 403, slug="forbidden", stack=stack)
    assert priv.S[0] not in json.dumps(b)


def test_export_api_key_403(http, stack, priv):
    _, key = create_api_key(http, priv.d.owner["token"], priv.d.slug, role="admin")
    r = export(http, bearer(key), priv.d.slug)
    assert_problem(r, 403, slug="api-key-not-allowed", stack=stack)
    r = erase(http, bearer(key), priv.d.slug, {"subject": {"column": "email", "value": "x"}})
    assert_problem(r, 403, slug="api-key-not-allowed", stack=stack)


def test_export_outsider_404(http, stack, priv):
    r = export(http, priv.x.h, priv.d.slug)
    assert_problem(r, 404, stack=stack)


# ==================================================================== subject erasure

def _fields(stack, d):
    return tenant_json(stack, d.tenant, "SELECT upload_id, row_no, column_name, value,"
                       " encode(sealed, 'hex') AS sealed, encode(blind, 'hex') AS blind"
                       " FROM upload_personal ORDER BY 1, 2, 3")


def _hits(stack, d, value):
    """Rows of the tenant database's data tables whose text holds VALUE."""
    lit = value.replace("'", "''").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    out = {}
    for t in ("upload_personal", "upload_rows", "uploads", "forecasts"):
        n = int(tenant_scalar(stack, d.tenant, "SELECT count(*) FROM %s t WHERE t::text "
                                               "LIKE '%%%s%%'" % (t, lit)))
        if n:
            out[t] = n
    return out


@pytest.mark.parametrize("body", [
    {"subject": {"column": "email"}},
    {"subject": {"value": "x@example.test"}},
    {"subject": {"column": "", "value": "x"}},
    {"subject": {"column": "email", "value": ""}},
    {"subject": "x@example.test"},
    {"subject": {"column": "email", "value": "x"}, "scope": "org"},
    {},
], ids=["no-value", "no-column", "empty-column", "empty-value", "not-object", "both", "empty"])
def test_erasure_bad_body_422(http, stack, priv, body):
    before = _fields(stack, priv.d)
    r = erase(http, priv.d.h, priv.d.slug, body)
    assert_problem(r, 422, stack=stack)
    assert _fields(stack, priv.d) == before


@pytest.mark.parametrize("who", ["analyst", "viewer"])
def test_erasure_below_admin_403(http, stack, priv, who):
    before = _fields(stack, priv.d)
    r = erase(http, getattr(priv, who)["h"], priv.d.slug,
              {"subject": {"column": "email", "value": priv.S[0]}})
    assert_problem(r, 403, slug="forbidden", stack=stack)
    assert _fields(stack, priv.d) == before


def test_subject_erasure(http, stack, priv):
    d = priv.d
    S_email, S_name = priv.S
    before = _fields(stack, d)
    # S's rows: u1 rows 1 and 3, u2 row 2, u3 row 1
    s_rows = {(priv.u1["id"], 1), (priv.u1["id"], 3), (priv.u2["id"], 2), (priv.u3["id"], 1)}
    s_fields = [f for f in before if (f["upload_id"], f["row_no"]) in s_rows]
    assert len(s_fields) == 7, s_fields
    s_blinds = {f["blind"] for f in s_fields if f["blind"]}
    assert len(s_blinds) == 2, "u2's sealed S fields should have blind indexes: %r" % s_fields
    assert _hits(stack, d, S_email) and _hits(stack, d, S_name)
    r = erase(http, priv.admin["h"], d.slug, {"subject": {"column": "email", "value": S_email}})
    assert r.status_code == 200, describe(r)
    assert r.json() == {"erasure": {"scope": "subject",
                                    "erased": {"uploads": 3, "rows": 4, "fields": 7}}}, r.json()
    assert S_email not in r.text
    # nowhere in the tenant database, no blind index of it left
    assert _hits(stack, d, S_email) == {}, _hits(stack, d, S_email)
    assert _hits(stack, d, S_name) == {}, _hits(stack, d, S_name)
    after = _fields(stack, d)
    assert not [f for f in after if f["blind"] in s_blinds], after
    # everybody else untouched, field by field (sealed bytes included)
    assert after == [f for f in before if (f["upload_id"], f["row_no"]) not in s_rows]
    # the files: S's personal cells are empty, the rest as uploaded
    want = [row[:2] + (["", ""] if i in (1, 3) else row[2:])
            for i, row in enumerate(priv.u1_rows)]
    assert content_rows(http, d.h, d.slug, d.ws, priv.u1["id"]) == want
    want = [row[:2] + (["", ""] if i == 2 else row[2:]) for i, row in enumerate(priv.u2_rows)]
    assert content_rows(http, d.h, d.slug, d.ws, priv.u2["id"]) == want
    assert content_rows(http, d.h, d.slug, priv.ws2, priv.u3["id"]) == \
        [["email", "value"], ["", "5"], [priv.T[0], "6"]]
    # not found any more; T still is
    assert list_uploads(http, d.h, d.slug, d.ws, email=S_email)["uploads"] == []
    assert list_uploads(http, d.h, d.slug, d.ws, name=S_name)["uploads"] == []
    assert {u["id"] for u in list_uploads(http, d.h, d.slug, d.ws, email=priv.T[0])["uploads"]} \
        == {priv.u1["id"], priv.u2["id"]}
    # the export no longer has it
    ex = export(http, d.h, d.slug)
    assert ex.status_code == 200 and S_email not in ex.text and S_name not in ex.text
    # a repeat finds nothing
    r2 = erase(http, priv.admin["h"], d.slug, {"subject": {"column": "email", "value": S_email}})
    assert r2.status_code == 200, describe(r2)
    assert r2.json()["erasure"]["erased"] == {"uploads": 0, "rows": 0, "fields": 0}, r2.json()
    # audited with the column and the counts, never the value
    entries = org_audit(http, d.h, d.slug)
    e = by_request(entries, r)
    assert len(e) == 1 and e[0]["action"] == "privacy.erasure.subject", e
    assert e[0]["target"] == "column:email", e
    assert e[0]["after"] == {"uploads": 3, "rows": 4, "fields": 7}, e
    assert str(e[0]["actor_id"]) == str(priv.admin["id"]), e
    assert by_request(entries, r2)[0]["after"] == {"uploads": 0, "rows": 0, "fields": 0}
    text = json.dumps(entries)
    assert S_email not in text and S_name not in text, "the subject is in the audit log"
    audit_verify(stack)


def test_subject_erasure_by_another_column_sealed_only(http, stack, priv):
    d = priv.d
    before = _fields(stack, d)
    r = erase(http, d.h, d.slug, {"subject": {"column": "name", "value": priv.Q[1]}})
    assert r.status_code == 200, describe(r)
    assert r.json()["erasure"]["erased"] == {"uploads": 1, "rows": 1, "fields": 2}, r.json()
    after = _fields(stack, d)
    assert after == [f for f in before if (f["upload_id"], f["row_no"]) != (priv.u2["id"], 1)]
    # the value of one column does not erase another column's
    r = erase(http, d.h, d.slug, {"subject": {"column": "name", "value": priv.T[0]}})
    assert r.json()["erasure"]["erased"]["fields"] == 0, r.json()
    assert _fields(stack, d) == after


def test_subject_erasure_in_org_without_vault_data(http, stack):
    """A free org (no encryption): clear values only."""
    d = data_org(http, plan="free")
    m = personal_email("fr")
    up = upload(http, d.h, d.slug, d.ws, to_csv([["email", "v"], [m, "1"], ["k@x.test", "2"]]),
                personal=["email"])
    r = erase(http, d.h, d.slug, {"subject": {"column": "email", "value": m}})
    assert r.status_code == 200, describe(r)
    assert r.json()["erasure"]["erased"] == {"uploads": 1, "rows": 1, "fields": 1}, r.json()
    assert _hits(stack, d, m) == {}
    assert content_rows(http, d.h, d.slug, d.ws, up["id"])[1:] == [["", "1"], ["k@x.test", "2"]]


# ==================================================================== org erasure

def _tenant_role(stack, region, dbname):
    out = region_psql(stack, region, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE "
                                     "datname = '%s'" % dbname).stdout.strip()
    return out or None


def _region_has(stack, region, dbname, role):
    dbs = region_psql(stack, region, "SELECT count(*) FROM pg_database WHERE datname = '%s'"
                      % dbname).stdout.strip()
    roles = region_psql(stack, region, "SELECT count(*) FROM pg_roles WHERE rolname = '%s'"
                        % role).stdout.strip()
    return int(dbs), int(roles)


def _control_counts(stack, org_id):
    q = ("SELECT (SELECT count(*) FROM memberships WHERE org_id = {0}) AS memberships,"
         " (SELECT count(*) FROM api_keys WHERE org_id = {0}) AS api_keys,"
         " (SELECT count(*) FROM workspaces WHERE org_id = {0}) AS workspaces,"
         " (SELECT count(*) FROM invitations WHERE org_id = {0}) AS invitations,"
         " (SELECT count(*) FROM retention_policies WHERE org_id = {0}) AS retention,"
         " (SELECT count(*) FROM vault_data_keys WHERE owner = 'org:{0}') AS vault_keys"
         ).format(int(org_id))
    return control_json(stack, q)[0]


def _org_log(stack, org_id):
    return control_json(stack, "SELECT seq, action, actor_type, actor_id, target, client_addr,"
                               " before, after FROM audit_log WHERE log = 'org:%d' ORDER BY seq"
                        % int(org_id))


class Doomed:
    pass


def _doomed(http, stack, region):
    z = Doomed()
    z.d = d = data_org(http, plan="growth", region=region)
    assert d.region == region, d.org
    z.admin = d.add(http, "admin")
    z.analyst = d.add(http, "analyst")
    z.ws2 = create_workspace(http, d.owner["token"], d.slug)["id"]
    z.key_obj, key = create_api_key(http, d.owner["token"], d.slug, role="admin")
    z.key = bearer(key)
    z.invited = "doomed-%s@example.test" % uuid.uuid4().hex
    invite(http, d.owner["token"], d.slug, z.invited, "viewer")
    r = http.request("PUT", org_url(d.slug, "retention"), json={"upload_days": 30}, headers=d.h)
    assert r.status_code == 200, describe(r)
    enable_pii(http, d.h, d.slug)
    z.mail = personal_email("doom")
    z.up = upload(http, d.h, d.slug, d.ws, to_csv([["email", "v"], [z.mail, "1"]]),
                  personal=["email"])
    # a neighbour in the same region that must not be touched
    z.n = data_org(http, plan="growth", region=region)
    z.n_up = upload(http, z.n.h, z.n.slug, z.n.ws, to_csv([["email", "v"], ["nb@x.test", "1"]]),
                    personal=["email"])
    return z


def test_org_erasure_refused_to_admin_and_without_confirm(http, stack):
    z = _doomed(http, stack, "eu")
    d = z.d
    before = _control_counts(stack, d.org["id"])
    r = erase(http, z.admin["h"], d.slug, {"scope": "org", "confirm": d.slug})
    assert_problem(r, 403, slug="forbidden", stack=stack)
    for bad in ({"scope": "org", "confirm": d.slug + "x"}, {"scope": "org", "confirm": ""},
                {"scope": "org"}, {"scope": "org", "confirm": d.slug.upper()},
                {"scope": "workspace", "confirm": d.slug}):
        r = erase(http, d.h, d.slug, bad)
        assert_problem(r, 422, stack=stack)
    r = erase(http, z.key, d.slug, {"scope": "org", "confirm": d.slug})
    assert_problem(r, 403, slug="api-key-not-allowed", stack=stack)
    assert http.get(org_url(d.slug), headers=d.h).status_code == 200
    assert _control_counts(stack, d.org["id"]) == before
    assert _region_has(stack, d.region, tenant_db(d.slug),
                       _tenant_role(stack, d.region, tenant_db(d.slug))) == (1, 1)


@pytest.mark.parametrize("region", ["eu", "us"])
def test_org_erasure(http, stack, region):
    z = _doomed(http, stack, region)
    d = z.d
    dbname = tenant_db(d.slug)
    role = _tenant_role(stack, region, dbname)
    assert role, "no tenant database %s in region %s" % (dbname, region)
    before = _control_counts(stack, d.org["id"])
    assert before["vault_keys"] >= 1 and before["memberships"] == 3 and before["api_keys"] == 1, \
        before
    log_before = _org_log(stack, d.org["id"])
    r = erase(http, d.h, d.slug, {"scope": "org", "confirm": d.slug})
    assert r.status_code == 200, describe(r)
    assert r.json() == {"erasure": {"scope": "org", "status": "erased"}}, r.json()
    # the org is gone for everyone who knew it
    for h in (d.h, z.admin["h"], z.analyst["h"]):
        assert_problem(http.get(org_url(d.slug), headers=h), 404, stack=stack)
        assert_problem(http.get(uploads_url(d.slug, d.ws, z.up["id"], "content"), headers=h), 404)
    mine = http.get(ORGS, headers=d.h).json()["orgs"]
    assert d.slug not in [o["slug"] for o in mine], mine
    r_key = http.get(org_url(d.slug), headers=z.key)
    assert r_key.status_code in (401, 404), describe(r_key)
    # the database and its role are dropped, the keys destroyed, the rest deleted
    assert _region_has(stack, region, dbname, role) == (0, 0)
    assert _control_counts(stack, d.org["id"]) == {
        "memberships": 0, "api_keys": 0, "workspaces": 0, "invitations": 0, "retention": 0,
        "vault_keys": 0}
    org_row = control_json(stack, "SELECT slug, name, status, settings, tenant_secret FROM orgs"
                                  " WHERE id = %d" % d.org["id"])
    assert org_row == [{"slug": d.slug, "name": "[erased]", "status": "erased", "settings": {},
                        "tenant_secret": None}], org_row
    # the log stays, its personal fields erased, the chain intact
    log_after = _org_log(stack, d.org["id"])
    assert len(log_after) == len(log_before) + 1, (log_before, log_after)
    assert [e["action"] for e in log_after[:-1]] == [e["action"] for e in log_before]
    for e in log_after[:-1]:
        assert e["target"] == "[erased]" and e["client_addr"] == "[erased]", e
        assert e["before"] in (None, "[erased]") and e["after"] in (None, "[erased]"), e
    assert log_after[-1]["action"] == "privacy.erasure.org", log_after[-1]
    text = json.dumps(log_after)
    for v in (d.owner["email"], z.admin["email"], z.invited, d.org["name"], "127.0.0.1"):
        assert v not in text, "%r survives in the erased org's log" % v
    audit_verify(stack)
    # a repeat is a 404; the slug stays taken
    assert_problem(erase(http, d.h, d.slug, {"scope": "org", "confirm": d.slug}), 404,
                   stack=stack)
    r = create_org_raw(http, d.owner["token"], slug=d.slug)
    assert r.status_code == 409, describe(r)
    # the neighbour is untouched
    assert content_rows(http, z.n.h, z.n.slug, z.n.ws, z.n_up["id"])[1] == ["nb@x.test", "1"]
    # its last owner is no longer the last owner of anything
    r = http.request("DELETE", ME, json={"password": d.owner["password"]}, headers=d.h)
    assert r.status_code == 204, describe(r)


@pytest.mark.parametrize("stage", ["marked", "database-dropped"])
def test_interrupted_org_erasure_is_finished_by_repeating(http, stack, stage):
    """A run that died after step 1 (org marked `erasing`) or after step 2 (its
    database dropped too): the org is already 404 for everything else, and
    repeating the request finishes the erasure."""
    from orghelp import psql
    z = _doomed(http, stack, "eu")
    d = z.d
    dbname = tenant_db(d.slug)
    role = _tenant_role(stack, "eu", dbname)
    psql(stack, "UPDATE orgs SET status = 'erasing' WHERE id = %d" % d.org["id"])
    if stage == "database-dropped":
        region_psql(stack, "eu", 'DROP DATABASE "%s" WITH (FORCE)' % dbname)
    for h in (d.h, z.admin["h"]):
        assert_problem(http.get(org_url(d.slug), headers=h), 404, stack=stack)
        assert_problem(http.get(uploads_url(d.slug, d.ws), headers=h), 404, stack=stack)
    r = erase(http, z.admin["h"], d.slug, {"scope": "org", "confirm": d.slug})
    assert_problem(r, 403, slug="forbidden", stack=stack)
    r = erase(http, d.h, d.slug, {"scope": "org", "confirm": d.slug})
    assert r.status_code == 200, describe(r)
    assert r.json() == {"erasure": {"scope": "org", "status": "erased"}}, r.json()
    assert _region_has(stack, "eu", dbname, role) == (0, 0)
    assert _control_counts(stack, d.org["id"]) == {
        "memberships": 0, "api_keys": 0, "workspaces": 0, "invitations": 0, "retention": 0,
        "vault_keys": 0}
    log = _org_log(stack, d.org["id"])
    assert [e["action"] for e in log].count("privacy.erasure.org") == 1, log
    assert all(e["target"] == "[erased]" for e in log[:-1]), log
    audit_verify(stack)


def test_erased_org_stays_erased_after_migrate(http, stack):
    """`accupredix-admin migrate` creates the tenant database of orgs that have
    none: an erased org must not get one (nor new data keys) again."""
    z = _doomed(http, stack, "eu")
    d = z.d
    dbname = tenant_db(d.slug)
    role = _tenant_role(stack, "eu", dbname)
    r = erase(http, d.h, d.slug, {"scope": "org", "confirm": d.slug})
    assert r.status_code == 200, describe(r)
    p = admin_cli(stack, "migrate")
    problems = []
    if p.returncode != 0:
        problems.append("migrate exited %d: %s%s" % (p.returncode, p.stdout, p.stderr))
    dbs, roles = _region_has(stack, "eu", dbname, role)
    if dbs:
        problems.append("the erased org's tenant database %s exists again" % dbname)
    keys = _control_counts(stack, d.org["id"])["vault_keys"]
    if keys:
        problems.append("the erased org has %d vault data keys again" % keys)
    state = control_json(stack, "SELECT status, tenant_secret IS NULL AS no_secret FROM orgs "
                                "WHERE id = %d" % d.org["id"])
    if state != [{"status": "erased", "no_secret": True}]:
        problems.append("orgs row after migrate: %r" % state)
    # (a re-created database is left as migrate made it: dropping it would make
    # every later `migrate` fail on this org)
    assert not problems, "\n".join(problems) + "\nmigrate stdout/stderr: %s%s" % (p.stdout,
                                                                                   p.stderr)


# ==================================================================== account export

def test_me_export(http, stack):
    u = new_member(http, "Exporter %s" % uuid.uuid4().hex[:8])
    other = new_member(http, "Other %s" % uuid.uuid4().hex[:8])
    d = data_org(http, plan="growth", owner=u)
    key_obj, _ = create_api_key(http, u["token"], d.slug, role="viewer")
    o = data_org(http, plan="growth", owner=other)
    okey, _ = create_api_key(http, other["token"], o.slug, role="viewer")
    r = http.get(ME + "/export", headers=bearer(u["token"]))
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json", describe(r)
    assert "attachment" in r.headers.get("Content-Disposition", ""), describe(r)
    b = r.json()
    assert b["format"] == EXPORT_FORMAT, b
    for k in ("generated_at", "account", "sessions", "identities", "memberships", "api_keys",
              "audit_entries"):
        assert k in b, (k, list(b))
    a = b["account"]
    assert (a["id"], a["email"], a["name"]) == (u["id"], u["email"], u["name"]), a
    assert "password_hash" not in json.dumps(b) and "$argon2" not in r.text
    assert len(b["sessions"]) >= 1, b["sessions"]
    assert [(m["org"], m["role"]) for m in b["memberships"]] == [(d.slug, "owner")], b
    assert [k["prefix"] for k in b["api_keys"]] == [key_obj["prefix"]], b["api_keys"]
    acts = {(e["entry"]["action"] if "entry" in e else e["action"]) for e in b["audit_entries"]}
    assert {"org.create", "api_key.create"} <= acts, acts
    for marker in (other["email"], other["name"], o.slug, okey["prefix"]):
        assert marker not in r.text, "another account's %r in the export" % marker
    got = control_json(stack, "SELECT actor_id, target FROM audit_log WHERE log = 'platform' AND "
                              "action = 'account.export' AND request_id = '%s'"
                       % r.headers["X-Request-Id"])
    assert len(got) == 1 and got[0]["actor_id"] == str(u["id"]), got


def test_me_export_refuses_api_keys(http, stack):
    d = data_org(http, plan="growth")
    _, key = create_api_key(http, d.owner["token"], d.slug, role="admin")
    r = http.get(ME + "/export", headers=bearer(key))
    assert_problem(r, 403, slug="api-key-not-allowed", stack=stack)
    assert_problem(http.get(ME + "/export"), 401, stack=stack)


# ==================================================================== account deletion

def test_delete_account(http, stack):
    boss = new_member(http, "Boss")
    g = data_org(http, plan="growth", owner=boss)          # the user is admin there
    u = g.add(http, "admin")
    h = data_org(http, plan="growth", owner=u)              # the user owns it, with a co-owner
    co = h.add(http, "owner")
    solo = data_org(http, plan="free", owner=u)             # the user is its only owner
    key_obj, key = create_api_key(http, u["token"], h.slug, role="analyst")
    k = data_org(http, plan="free")                        # u's e-mail is invited there
    invite(http, k.owner["token"], k.slug, u["email"], "viewer")
    hdr = dict(bearer(u["token"]), **{"X-Forwarded-For": "198.51.100.201"})
    r = http.patch(org_url(g.slug), json={"name": "Renamed %s" % uuid.uuid4().hex[:6]},
                   headers=hdr)
    assert r.status_code == 200, describe(r)
    # wrong password
    r = http.request("DELETE", ME, json={"password": u["password"] + "x"}, headers=bearer(u["token"]))
    assert_problem(r, 422, stack=stack)
    assert me(http, u["token"]).status_code == 200
    # the last owner of `solo`
    r = http.request("DELETE", ME, json={"password": u["password"]}, headers=bearer(u["token"]))
    b = assert_problem(r, 409, slug="last-owner", stack=stack)
    assert solo.slug in b["detail"], b
    assert me(http, u["token"]).status_code == 200
    # hand `solo` over, then it works
    solo_owner = solo.add(http, "owner")
    rid = "del-" + uuid.uuid4().hex
    r = http.request("DELETE", ME, json={"password": u["password"]},
                     headers=dict(bearer(u["token"]), **{"X-Request-Id": rid}))
    assert r.status_code == 204, describe(r)
    rid = r.headers["X-Request-Id"]         # ours: the audit log never takes the client's
    # signed out everywhere, cannot sign in, the key is gone
    assert me(http, u["token"]).status_code == 401
    assert login_raw(http, u["email"], u["password"]).status_code == 401
    assert http.get(org_url(h.slug), headers=bearer(key)).status_code == 401
    left = control_json(stack, "SELECT (SELECT count(*) FROM users WHERE id = {0}) AS users,"
                               " (SELECT count(*) FROM memberships WHERE user_id = {0}) AS m,"
                               " (SELECT count(*) FROM sessions WHERE user_id = {0}) AS s,"
                               " (SELECT count(*) FROM api_keys WHERE created_by = {0}) AS k"
                        .format(u["id"]))[0]
    assert left == {"users": 0, "m": 0, "s": 0, "k": 0}, left
    # its audit entries keep the id, lose the address; nothing mentions its e-mail
    mine = control_json(stack, "SELECT log, action, client_addr, hash_version FROM audit_log "
                               "WHERE actor_type = 'user' AND actor_id = '%d'" % u["id"])
    assert len(mine) >= 5, mine
    for e in mine:
        if e["action"] in ("account.delete", "member.account_deleted"):
            assert e["client_addr"] in ("", "[erased]"), e
        else:
            assert e["client_addr"] == "[erased]", e
    assert "198.51.100.201" not in json.dumps(mine)
    left = control_json(stack, "SELECT log, action, target FROM audit_log WHERE target = '%s' "
                               "OR strpos(coalesce(before::text, '') || coalesce(after::text, ''),"
                               " '%s') > 0" % (u["email"], u["email"]))
    assert left == [], "entries still mention the deleted account's e-mail: %r" % left
    # each org of the account learns it left; the platform log has the deletion
    for o, oh in ((g, g.h), (h, co["h"]), (solo, solo_owner["h"])):
        got = org_audit(http, oh, o.slug, action="member.account_deleted")
        assert len(got) == 1 and str(got[0]["actor_id"]) == str(u["id"]), (o.slug, got)
    assert org_audit(http, k.h, k.slug, action="member.account_deleted") == []
    plat = control_json(stack, "SELECT actor_id FROM audit_log WHERE log = 'platform' AND "
                               "action = 'account.delete' AND request_id = '%s'" % rid)
    assert plat == [{"actor_id": str(u["id"])}], plat
    # the orgs carry on
    assert http.get(org_url(h.slug), headers=co["h"]).status_code == 200
    audit_verify(stack)


def test_delete_account_needs_password_and_no_key(http, stack):
    d = data_org(http, plan="growth")
    _, key = create_api_key(http, d.owner["token"], d.slug, role="admin")
    r = http.request("DELETE", ME, json={"password": d.owner["password"]}, headers=bearer(key))
    assert_problem(r, 403, slug="api-key-not-allowed", stack=stack)
    r = http.request("DELETE", ME, json={}, headers=d.h)
    assert_problem(r, 422, stack=stack)
    assert me(http, d.owner["token"]).status_code == 200
