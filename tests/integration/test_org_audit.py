"""The org audit log: who reads it, what an entry carries, filters, cursor
pagination, JSON Lines export, and `accupredix-admin audit verify` finding a
changed org-log row (docs/api.md)."""

import json
import uuid
from datetime import timedelta

import pytest

from apxtest import assert_problem, describe, media_type
from authhelp import bearer
from orghelp import (ENTRY_KEYS, ORG_ACTIONS, add_member, admin_cli, by_request, cookies_off,
                     cookies_restore, create_api_key, create_org, from_addr, invite, mentions,
                     new_member, now_utc, org_audit, org_url, page_all, parse_time, psql,
                     respace_log, rfc3339, set_role)


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


class Journal:
    """owner, admin, analyst (now viewer), org, slug, h (owner's headers), all
    (every entry, newest first) and the responses of the recorded actions."""


@pytest.fixture(scope="module")
def journal(http):
    """An org with a known history.  Tests only read it."""
    j = Journal()
    j.owner = new_member(http, "Audit Owner")
    tok = j.owner["token"]
    j.org = create_org(http, tok, plan="growth")
    slug = j.slug = j.org["slug"]
    j.invites = [invite(http, tok, slug, "aud-%s@example.test" % uuid.uuid4().hex, "viewer")
                 for _ in range(3)]
    j.admin = add_member(http, tok, slug, "admin")
    j.analyst = add_member(http, tok, slug, "analyst")
    r = http.post(org_url(slug, "workspaces"), json={"name": "audited-ws"},
                  headers=bearer(j.admin["token"]))
    assert r.status_code == 201, describe(r)
    j.ws_resp = r
    r = set_role(http, tok, slug, j.analyst["id"], "viewer")
    assert r.status_code in (200, 204), describe(r)
    j.role_resp = r
    j.analyst["role"] = "viewer"
    r = http.delete(org_url(slug, "invitations", j.invites[0]["invitation"]["id"]),
                    headers=bearer(tok))
    assert r.status_code == 204, describe(r)
    j.revoke_resp = r
    j.rid = "aud-" + uuid.uuid4().hex
    h = bearer(tok)
    h.update(from_addr("192.0.2.44"))
    h["X-Request-Id"] = j.rid
    r = http.patch(org_url(slug, "settings"), json={"api_key_max_age_days": 60}, headers=h)
    assert r.status_code == 200, describe(r)
    j.settings_resp = r
    j.h = bearer(tok)
    j.all = org_audit(http, j.h, slug)
    return j


def log_url(j):
    return org_url(j.slug, "audit-log")


# ==================================================================== who may read

def test_admins_and_owners_read_others_do_not(http, stack):
    owner = new_member(http)
    org = create_org(http, owner["token"], plan="growth")
    url = org_url(org["slug"], "audit-log")
    admin = add_member(http, owner["token"], org["slug"], "admin")
    analyst = add_member(http, owner["token"], org["slug"], "analyst")
    viewer = add_member(http, owner["token"], org["slug"], "viewer")
    assert http.get(url, headers=bearer(owner["token"])).status_code == 200
    assert http.get(url, headers=bearer(admin["token"])).status_code == 200
    assert_problem(http.get(url, headers=bearer(analyst["token"])), 403, slug="forbidden",
                   stack=stack)
    assert_problem(http.get(url, headers=bearer(viewer["token"])), 403, slug="forbidden")
    _, akey = create_api_key(http, owner["token"], org["slug"], role="admin")
    _, nkey = create_api_key(http, owner["token"], org["slug"], role="analyst")
    assert http.get(url, headers=bearer(akey)).status_code == 200
    assert_problem(http.get(url, headers=bearer(nkey)), 403, slug="forbidden")
    # the export is the same permission
    assert_problem(http.get(url, params={"format": "jsonl"}, headers=bearer(analyst["token"])),
                   403, slug="forbidden")
    r = http.get(url, params={"format": "jsonl"}, headers=bearer(admin["token"]))
    assert r.status_code == 200, describe(r)


# ==================================================================== entries

def test_entries_shape_and_order(journal):
    j = journal
    assert j.all, "the journal org has no audit entry"
    for e in j.all:
        assert ENTRY_KEYS <= set(e), "entry lacks %r: %r" % (ENTRY_KEYS - set(e), e)
        assert e["actor_type"] in ("user", "api_key", "operator", "system"), e
        assert e["action"] in ORG_ACTIONS, "action %r is not in docs/api.md" % e["action"]
        assert isinstance(e["seq"], int), e
        parse_time(e["at"])
    seqs = [e["seq"] for e in j.all]
    assert seqs == sorted(seqs, reverse=True), "not newest first: %r" % seqs
    assert len(set(seqs)) == len(seqs), seqs
    assert seqs[-1] == 1 and seqs == list(range(len(seqs), 0, -1)), \
        "an org's log is its own chain, numbered from 1: %r" % seqs
    times = [parse_time(e["at"]) for e in j.all]
    assert times == sorted(times, reverse=True), times
    assert j.all[-1]["action"] == "org.create", j.all[-1]
    want = {"org.create": 1, "invitation.create": 5, "member.join": 2, "workspace.create": 1,
            "member.role_change": 1, "invitation.revoke": 1, "settings.update": 1}
    got = {}
    for e in j.all:
        got[e["action"]] = got.get(e["action"], 0) + 1
    assert got == want, got


def test_entry_carries_actor_address_and_request_id(journal):
    j = journal
    # the client's X-Request-Id is never what the audit log records: the
    # entry carries the id the server made and answered with
    assert by_request(j.all, j.rid) == [], j.all
    rid = j.settings_resp.headers["X-Request-Id"]
    assert rid != j.rid
    e = by_request(j.all, rid)
    assert len(e) == 1, "no entry with the answer's X-Request-Id %s: %r" % (rid, j.all)
    e = e[0]
    assert e["action"] == "settings.update", e
    assert (e["actor_type"], str(e["actor_id"])) == ("user", str(j.owner["id"])), e
    assert e["client_addr"] == "192.0.2.44", e
    assert e["before"]["api_key_max_age_days"] == 90 and e["after"]["api_key_max_age_days"] == 60, e
    # without X-Forwarded-For the client is the loopback address, and a
    # generated request id is recorded just the same
    w = by_request(j.all, j.ws_resp)
    assert len(w) == 1 and w[0]["client_addr"] == "127.0.0.1", w
    assert str(w[0]["actor_id"]) == str(j.admin["id"]), w


def test_role_change_has_before_and_after(journal):
    e = by_request(journal.all, journal.role_resp)
    assert len(e) == 1 and e[0]["action"] == "member.role_change", e
    assert mentions(e[0]["before"], "analyst") and mentions(e[0]["after"], "viewer"), e
    assert str(journal.analyst["id"]) in e[0]["target"], e


# ==================================================================== filters

def test_filter_action_exact(http, journal):
    got = org_audit(http, journal.h, journal.slug, action="invitation.create")
    assert len(got) == 5 and {e["action"] for e in got} == {"invitation.create"}, got
    assert org_audit(http, journal.h, journal.slug, action="invitation") == []


@pytest.mark.parametrize("prefix,want", [("invitation.", {"invitation.create": 5, "invitation.revoke": 1}),
                                         ("member.", {"member.join": 2, "member.role_change": 1}),
                                         ("nothing.", {})])
def test_filter_action_prefix(http, journal, prefix, want):
    got = {}
    for e in org_audit(http, journal.h, journal.slug, action=prefix):
        got[e["action"]] = got.get(e["action"], 0) + 1
    assert got == want, got


def test_filter_actor(http, journal):
    got = org_audit(http, journal.h, journal.slug, actor=journal.admin["id"])
    assert got and all(str(e["actor_id"]) == str(journal.admin["id"]) for e in got), got
    assert sorted(e["action"] for e in got) == ["member.join", "workspace.create"], got
    assert [e["seq"] for e in got] == [e["seq"] for e in journal.all
                                       if str(e["actor_id"]) == str(journal.admin["id"])]
    both = org_audit(http, journal.h, journal.slug, actor=journal.admin["id"], action="member.")
    assert [e["action"] for e in both] == ["member.join"], both


def test_filter_since_until(http, stack):
    """since and until on entries one minute apart (moved there with SQL,
    hash chain re-sealed), with bounds between entries."""
    owner = new_member(http)
    org = create_org(http, owner["token"])
    for i in range(4):
        invite(http, owner["token"], org["slug"], "t%d-%s@example.test" % (i, uuid.uuid4().hex),
               "viewer")
    log = "org:%d" % int(org["id"])
    start = (now_utc() - timedelta(hours=2)).replace(microsecond=0)
    respace_log(stack, log, start, 60)
    assert admin_cli(stack, "audit", "verify", "--log", log).returncode == 0
    h = bearer(owner["token"])
    entries = org_audit(http, h, org["slug"])
    assert [e["seq"] for e in entries] == [5, 4, 3, 2, 1], entries
    at = {e["seq"]: parse_time(e["at"]) for e in entries}
    assert at[3] - at[2] == timedelta(minutes=1), at

    def seqs(**params):
        return [e["seq"] for e in org_audit(http, h, org["slug"], **params)]

    t = lambda n, sec=0: rfc3339(start + timedelta(minutes=n - 1, seconds=sec))  # noqa: E731
    assert seqs(since=t(3, -30)) == [5, 4, 3]
    assert seqs(since=t(3, 30)) == [5, 4]
    assert seqs(until=t(3, -30)) == [2, 1]
    assert seqs(until=t(3, 30)) == [3, 2, 1]
    assert seqs(since=t(2, -30), until=t(4, -30)) == [3, 2]
    assert seqs(since=t(3, 30), until=t(3, -30)) == []
    assert seqs(since=t(2, -30), action="invitation.create") == [5, 4, 3, 2]
    assert seqs(since=rfc3339(now_utc() + timedelta(hours=1))) == []
    assert seqs(until="2000-01-01T00:00:00Z") == []
    assert seqs(since="2000-01-01T00:00:00Z") == [5, 4, 3, 2, 1]
    # the export takes the same filters
    r = http.get(org_url(org["slug"], "audit-log"), params={"since": t(4, -30), "format": "jsonl"},
                 headers=h)
    assert [json.loads(l)["seq"] for l in r.text.splitlines() if l.strip()] == [5, 4], describe(r)


@pytest.mark.parametrize("value", ["2000-01-01T00:00:00.5Z", "2000-01-01T02:00:00+02:00",
                                   "2000-01-01t00:00:00z", "2000-01-01T00:00:00.123456-05:30"])
def test_filter_time_takes_any_rfc3339_form(http, journal, value):
    """docs/api.md says RFC 3339: fractions of a second and numeric offsets are part of it."""
    r = http.get(log_url(journal), params={"since": value}, headers=journal.h)
    assert r.status_code == 200, describe(r)
    assert [e["seq"] for e in r.json()["entries"]] == [e["seq"] for e in journal.all][:100]


@pytest.mark.parametrize("params,field", [
    ({"since": "yesterday"}, "since"), ({"until": "2021-13-01T00:00:00Z"}, "until"),
    ({"since": "2021-01-01"}, "since"),
    ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"limit": -1}, "limit"),
    ({"limit": "ten"}, "limit"),
])
def test_bad_filters_422(http, stack, journal, params, field):
    r = http.get(log_url(journal), params=params, headers=journal.h)
    assert_problem(r, 422, slug="invalid-field", field=field, stack=stack)


@pytest.mark.parametrize("limit", [1, 500])
def test_limit_bounds_ok(http, journal, limit):
    r = http.get(log_url(journal), params={"limit": limit}, headers=journal.h)
    assert r.status_code == 200, describe(r)
    assert len(r.json()["entries"]) == min(limit, len(journal.all)), describe(r)


def test_default_limit_is_100(http, stack):
    owner = new_member(http)
    org = create_org(http, owner["token"])
    for i in range(51):
        invite(http, owner["token"], org["slug"], "lim-%d-%s@example.test" % (i, uuid.uuid4().hex),
               "viewer")
        r = http.patch(org_url(org["slug"], "settings"), json={"api_key_max_age_days": 100 + i},
                       headers=bearer(owner["token"]))
        assert r.status_code == 200, describe(r)
    r = http.get(org_url(org["slug"], "audit-log"), headers=bearer(owner["token"]))
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert len(body["entries"]) == 100 and body.get("next_cursor"), len(body["entries"])
    rest = http.get(org_url(org["slug"], "audit-log"), params={"cursor": body["next_cursor"]},
                    headers=bearer(owner["token"])).json()
    assert [e["seq"] for e in body["entries"] + rest["entries"]] == list(range(103, 0, -1))
    assert not rest.get("next_cursor"), rest


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_cursor_pages_cover_every_entry_once_newest_first(http, journal, limit):
    entries, pages = page_all(http, log_url(journal), journal.h, limit=limit)
    seqs = [e["seq"] for e in entries]
    assert seqs == [e["seq"] for e in journal.all], seqs
    assert pages == -(-len(seqs) // limit) or pages == -(-len(seqs) // limit) + 1, pages


def test_cursor_keeps_the_filters(http, journal):
    entries, pages = page_all(http, log_url(journal), journal.h, {"action": "invitation."}, limit=2)
    assert [e["action"] for e in entries].count("invitation.create") == 5 and len(entries) == 6, entries
    assert pages in (3, 4), pages   # a last full page may still carry a cursor


def test_new_entries_do_not_disturb_a_cursor(http, journal):
    """Newest first with a cursor: entries written after the first page do not
    shift or repeat the later pages."""
    owner = new_member(http)
    org = create_org(http, owner["token"])
    for i in range(4):
        invite(http, owner["token"], org["slug"], "cur-%d-%s@example.test" % (i, uuid.uuid4().hex),
               "viewer")
    url, h = org_url(org["slug"], "audit-log"), bearer(owner["token"])
    first = http.get(url, params={"limit": 2}, headers=h).json()
    invite(http, owner["token"], org["slug"], "late-%s@example.test" % uuid.uuid4().hex, "viewer")
    rest, _ = page_all(http, url, h, {"cursor": first["next_cursor"]}, limit=2)
    assert [e["seq"] for e in first["entries"] + rest] == [5, 4, 3, 2, 1]


# ==================================================================== export

def _export(http, j, params=None, accept=None):
    h = dict(j.h)
    p = dict(params or {})
    if accept:
        h["Accept"] = accept
    else:
        p["format"] = "jsonl"
    r = http.get(log_url(j), params=p, headers=h)
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/x-ndjson", describe(r)
    cd = r.headers.get("Content-Disposition", "")
    assert cd.lower().startswith("attachment"), "export not an attachment: %r%s" % (cd, describe(r))
    lines = r.text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            raise AssertionError("export line is not JSON: %r" % line)
        assert isinstance(e, dict) and ENTRY_KEYS <= set(e), e
        out.append(e)
    return out


@pytest.mark.parametrize("how", ["format", "accept"])
def test_jsonl_export(http, journal, how):
    accept = "application/x-ndjson" if how == "accept" else None
    got = _export(http, journal, accept=accept)
    assert got == journal.all, "the export differs from the listing"
    got = _export(http, journal, {"action": "member."}, accept=accept)
    assert got == org_audit(http, journal.h, journal.slug, action="member."), got
    got = _export(http, journal, {"actor": journal.admin["id"]}, accept=accept)
    assert [e["seq"] for e in got] == [e["seq"] for e in
                                       org_audit(http, journal.h, journal.slug,
                                                 actor=journal.admin["id"])]


# ==================================================================== isolation

def test_another_orgs_actions_are_not_in_this_log(http, journal):
    other = create_org(http, journal.owner["token"])
    r = http.patch(org_url(other["slug"], "settings"), json={"api_key_max_age_days": 7},
                   headers=journal.h)
    assert r.status_code == 200, describe(r)
    assert by_request(org_audit(http, journal.h, journal.slug), r) == []
    assert len(by_request(org_audit(http, journal.h, other["slug"]), r)) == 1


# ==================================================================== tampering

def test_tampered_org_log_row_is_named_by_verify(http, stack):
    owner = new_member(http)
    org = create_org(http, owner["token"])
    for _ in range(2):
        invite(http, owner["token"], org["slug"], "tam-%s@example.test" % uuid.uuid4().hex, "viewer")
    log = "org:%d" % int(org["id"])
    row = psql(stack, "SELECT id, seq, action FROM audit_log WHERE log = '%s' AND seq = 2" % log
               ).stdout.strip().split("|")
    assert len(row) == 3, "no entry seq 2 in %s: %r" % (log, row)
    rid, seq, action = row
    tamper = ("SET session_replication_role = replica; "
              "UPDATE audit_log SET action = '%s' WHERE id = %s")
    assert admin_cli(stack, "audit", "verify").returncode == 0
    psql(stack, tamper % ("invitation.revoke", rid))
    try:
        for args in (("audit", "verify"), ("audit", "verify", "--log", log)):
            r = admin_cli(stack, *args)
            assert r.returncode == 2, r.stdout + r.stderr
            assert "log %s: first broken entry seq %s (id %s)" % (log, seq, rid) in r.stdout, r.stdout
        # other logs are intact on their own
        assert admin_cli(stack, "audit", "verify", "--log", "platform").returncode == 0
    finally:
        psql(stack, tamper % (action, rid))
    r = admin_cli(stack, "audit", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert admin_cli(stack, "audit", "verify", "--log", log).returncode == 0


def test_org_log_rows_are_append_only(http, stack):
    owner = new_member(http)
    org = create_org(http, owner["token"])
    r = psql(stack, "DELETE FROM audit_log WHERE log = 'org:%d'" % int(org["id"]), check=False)
    assert r.returncode != 0 and "append-only" in r.stderr, r.stderr
    assert len(org_audit(http, bearer(owner["token"]), org["slug"])) >= 1


@pytest.mark.run_last
def test_every_chain_still_verifies_at_the_end(stack):
    """After everything the session did (tampering undone, logs re-sealed),
    `accupredix-admin audit verify` passes for every log."""
    r = admin_cli(stack, "audit", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
